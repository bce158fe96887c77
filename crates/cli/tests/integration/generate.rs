//! The synthetic prefecture (issue #9): `tsunagu generate` writes the same rows for the
//! same seed (through the binary or the library) and other rows for another seed; a
//! generated shared chart opens through the real app for a member of its care team,
//! with entries from at least three organizations, and is not found for anyone else;
//! the registry finds a generated patient by kana typed in hiragana and full-text search
//! finds the words of a generated note; the audit chain verifies; a database that
//! already holds data is refused and left unchanged.

use crate::harness::*;
use sha2::{Digest, Sha256};
use sqlx::{Connection, Row};
use tsunagu_cli::generate;
use tsunagu_web::WebConfig;

/// A small prefecture: quick, but every kind of row is there.
const SIZE: &[&str] =
    &["--organizations", "40", "--patients", "300", "--shared-charts", "12", "--entries-per-chart", "24"];

/// The tables `generate` fills, each with its primary key (the dump's order).
const TABLES: &[(&str, &str)] = &[
    ("organizations", "id"),
    ("users", "id"),
    ("memberships", "user_id, org_id"),
    ("patients", "id"),
    ("patient_identifiers", "patient_id, org_id, local_id"),
    ("key_persons", "patient_id, id"),
    ("care_team", "patient_id, id"),
    ("consents", "patient_id, id"),
    ("letters", "patient_id, id"),
    ("letter_versions", "patient_id, id"),
    ("letter_events", "patient_id, id"),
    ("entries", "patient_id, id"),
    ("entry_marks", "patient_id, id"),
    ("mentions", "patient_id, id"),
    ("attachments", "patient_id, id"),
    ("lab_results", "patient_id, id"),
    ("import_files", "org_id, sha256"),
];

/// SHA-256 over every row of every generated table, in primary-key order, and the row
/// count of each table.
async fn digest(url: &str) -> (String, Vec<(&'static str, usize)>) {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    let mut h = Sha256::new();
    let mut counts = Vec::new();
    for (table, key) in TABLES {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table} ORDER BY {key}")))
            .fetch_all(&mut c)
            .await
            .unwrap();
        h.update(table.as_bytes());
        for r in &rows {
            for i in 0..r.len() {
                let v = if let Ok(v) = r.try_get::<Option<String>, _>(i) {
                    format!("{v:?}")
                } else if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                    format!("{v:?}")
                } else {
                    format!("{:?}", r.try_get::<Option<f64>, _>(i).unwrap())
                };
                h.update(v.as_bytes());
                h.update([0x1f]);
            }
            h.update([0x1e]);
        }
        counts.push((*table, rows.len()));
    }
    let _ = c.close().await;
    (hex::encode(h.finalize()), counts)
}

fn args<'a>(seed: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["generate", "--seed", seed];
    a.extend_from_slice(SIZE);
    a.extend_from_slice(extra);
    a
}

/// Generate through the real binary, every person's password the demo password.
async fn generate_cli(url: &str, seed: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("password");
    std::fs::write(&pw, format!("{}\n", tsunagu_cli::demo::DEMO_PASSWORD)).unwrap();
    let pw = pw.to_str().unwrap().to_string();
    let out = run_cli(url, &args(seed, &["--password-file", &pw])).await;
    assert!(out.status.success(), "generate: {}\n{}", stdout(&out), stderr(&out));
    out
}

/// Generate in this process, as the binary does: the same options, the same password
/// hash, the same placeholder document.
async fn generate_lib(url: &str, seed: u64) {
    let store = tsunagu_store::Store::open(
        url,
        tsunagu_store::OpenMode::CreateIfMissing,
        std::sync::Arc::new(tsunagu_domain::clock::SystemClock),
        std::sync::Arc::new(tsunagu_domain::clock::RandomIdGen),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let web = WebConfig::default();
    let hash = tsunagu_web::password::hash_password_with_salt(
        tsunagu_cli::demo::DEMO_PASSWORD,
        &generate::password_salt(seed),
        web.argon2_m_kib,
        web.argon2_t,
        web.argon2_p,
    )
    .unwrap();
    let opts = generate::Options {
        organizations: 40,
        patients: 300,
        shared_charts: 12,
        entries_per_chart: 24,
        seed,
        password_hash: Some(hash),
    };
    let pdf = generate::placeholder_pdf();
    let attachment = Some((tsunagu_blobs::sha256_hex(&pdf), pdf.len() as i64));
    let r = generate::generate(&store, &opts, attachment, &|_| {}).await.unwrap();
    assert_eq!((r.patients, r.shared_charts), (300, 12));
    assert_eq!(r.entries + r.lab_panels, 12 * 24, "every chart has its items");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_writes_the_same_prefecture_and_another_seed_another() {
    let (a, b, c) = (FreshDb::new().await, FreshDb::new().await, FreshDb::new().await);
    generate_cli(&a.url, "42").await;
    generate_lib(&b.url, 42).await;
    generate_lib(&c.url, 43).await;
    let (da, counts) = digest(&a.url).await;
    let (db, counts_b) = digest(&b.url).await;
    let (dc, _) = digest(&c.url).await;
    // Every table is filled, so that the digest covers each kind of row.
    for (table, n) in &counts {
        assert!(*n > 0, "generate wrote no {table}: {counts:?}");
    }
    assert_eq!(counts, counts_b);
    assert_eq!(da, db, "the same seed must write the same rows (ids and times included)");
    assert_ne!(da, dc, "another seed must write other rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_chart_opens_for_its_team_and_for_no_one_else() {
    let db = FreshDb::new().await;
    let out = generate_cli(&db.url, "7").await;
    let report = stdout(&out);
    assert!(report.contains("generated a synthetic prefecture (seed 7)"), "{report}");
    assert!(report.contains("300 patients, 12 shared charts"), "{report}");
    assert!(report.contains("rows/s") && report.contains("patients/s"), "{report}");
    assert!(report.contains("reindex`"), "the report says how to build the search index: {report}");

    // A database that holds data is refused, and nothing is added.
    let (before, _) = digest(&db.url).await;
    let again = run_cli(&db.url, &args("8", &[])).await;
    assert!(!again.status.success(), "a second generate must be refused");
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
    assert_eq!(digest(&db.url).await.0, before, "a refused generate changes nothing");

    let app = TestApp::start_on(db).await;
    let mut c = app.raw_conn().await;

    // Every shared chart: a team of at least three organizations, opened by letters the
    // owner sent, and entries from at least three of them.
    let charts = sqlx::query(
        "SELECT e.patient_id, COUNT(DISTINCT e.author_org_id) AS orgs FROM entries e GROUP BY e.patient_id ORDER BY e.patient_id",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(charts.len(), 12);
    for r in &charts {
        let orgs: i64 = r.try_get("orgs").unwrap();
        assert!(orgs >= 3, "a chart with entries from {orgs} organizations");
    }
    let pid: String = charts[0].try_get("patient_id").unwrap();
    let team = sqlx::query(
        "SELECT t.org_id, t.role, p.owner_org_id FROM care_team t JOIN patients p ON p.id = t.patient_id WHERE t.patient_id = $1",
    )
    .bind(&pid)
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert!(team.len() >= 3, "a team of {}", team.len());
    let member_org: String = team
        .iter()
        .find(|r| r.try_get::<String, _>("role").unwrap() != "owner")
        .map(|r| r.try_get("org_id").unwrap())
        .unwrap();
    let letters: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM letters l JOIN patients p ON p.id = l.patient_id \
         WHERE l.patient_id = $1 AND l.to_org_id = $2 AND l.from_org_id = p.owner_org_id AND l.state <> 'draft'",
    )
    .bind(&pid)
    .bind(&member_org)
    .fetch_one(&mut c)
    .await
    .unwrap()
    .try_get("n")
    .unwrap();
    assert_eq!(letters, 1, "the member joined the team by the owner's letter");
    let author_orgs: Vec<String> = sqlx::query(
        "SELECT DISTINCT o.name FROM entries e JOIN organizations o ON o.id = e.author_org_id WHERE e.patient_id = $1 ORDER BY o.name",
    )
    .bind(&pid)
    .fetch_all(&mut c)
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get("name").unwrap())
    .collect();
    let member: String = sqlx::query(
        "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 \
         AND (SELECT COUNT(*) FROM memberships o WHERE o.user_id = u.id) = 1 ORDER BY u.email",
    )
    .bind(&member_org)
    .fetch_one(&mut c)
    .await
    .unwrap()
    .try_get("email")
    .unwrap();
    let outsider: String = sqlx::query(
        "SELECT u.email FROM users u WHERE u.operator = 0 AND NOT EXISTS (SELECT 1 FROM memberships m \
         JOIN care_team t ON t.org_id = m.org_id AND t.patient_id = $1 WHERE m.user_id = u.id) ORDER BY u.email",
    )
    .bind(&pid)
    .fetch_one(&mut c)
    .await
    .unwrap()
    .try_get("email")
    .unwrap();
    let p = sqlx::query("SELECT family_kana, given_kana, birth_date FROM patients WHERE id = $1")
        .bind(&pid)
        .fetch_one(&mut c)
        .await
        .unwrap();
    let birth: String = p.try_get("birth_date").unwrap();
    let kana =
        format!("{}{}", p.try_get::<String, _>("family_kana").unwrap(), p.try_get::<String, _>("given_kana").unwrap());
    let words: String =
        sqlx::query("SELECT search_text FROM entries WHERE patient_id = $1 AND kind = 'nursing_record' ORDER BY id")
            .bind(&pid)
            .fetch_optional(&mut c)
            .await
            .unwrap()
            .map(|r| r.try_get("search_text").unwrap())
            .unwrap_or_default();
    let _ = c.close().await;

    // The team member sees the chart, with the entries of every organization.
    let s = app.signin(&member).await;
    let page = s.get(&format!("/patients/{pid}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let text = page.text();
    assert!(author_orgs.len() >= 3);
    for name in &author_orgs {
        assert!(text.contains(name.as_str()), "the chart page shows the entries of {name}");
    }
    // The registry finds the patient by kana typed in hiragana (the stored key is the
    // domain's own).
    let hiragana: String = kana
        .chars()
        .map(|ch| if ('ァ'..='ヶ').contains(&ch) { char::from_u32(ch as u32 - 0x60).unwrap() } else { ch })
        .collect();
    let found = s.get(&format!("/patients?q={}&birth_date={birth}", urlencode(&hiragana))).await;
    assert_eq!(found.status, 200);
    assert!(found.body.contains(&format!("/patients/{pid}")), "kana search finds {hiragana}");
    // Full-text search finds the words of a generated note.
    if words.chars().count() >= 12 {
        let phrase: String = words.chars().skip(3).take(8).collect();
        let r = s.get(&format!("/search?q={}", urlencode(&phrase))).await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains(&format!("/patients/{pid}")), "full-text search finds {phrase}");
    }

    // The FHIR API reads the generated patient: its first version is there.
    let token = app.token_for(&member).await;
    let fhir = Resp::of(
        app.bare_client().get(app.at(&format!("/fhir/r4/Patient/{pid}"))).bearer_auth(&token).send().await.unwrap(),
    )
    .await;
    assert_eq!(fhir.status, 200, "{}", fhir.body);
    assert_eq!(fhir.json()["meta"]["versionId"], "1");
    assert_eq!(fhir.json()["birthDate"], birth.as_str());

    // Anyone else: as if the patient did not exist.
    let o = app.signin(&outsider).await;
    let r = o.get(&format!("/patients/{pid}")).await;
    assert_eq!(r.status, 404);
    assert!(!r.text().contains(&birth), "the refusal shows nothing of the patient");

    // The load is in the audit chain as one record at each end, and the chain holds.
    for action in ["generate.start", "generate.finish"] {
        assert_eq!(app.store.audit_recent(Some(action), 10).await.unwrap().len(), 1, "{action}");
    }
    let verify = app.cli(&["audit", "verify"]).await;
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(stdout(&verify).contains("audit chain intact"), "{}", stdout(&verify));
    app.finish().await;
}

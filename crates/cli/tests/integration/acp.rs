//! Advance care planning and the death record (issue #6, acceptance 1; DOMAIN.md §7-§8):
//! each change of the wishes is a new dated version and the history stays; the death
//! record is compared with the wish in force before death, whichever order things were
//! written in; the database refuses to rewrite either.

use crate::harness::*;
use time::Duration;

fn wish<'a>(version: &'a str, on: &'a str, place_of_death: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("version", version),
        ("discussed_on", on),
        ("patient_present", "on"),
        ("family_present", "on"),
        ("preferred_place_of_care", "home"),
        ("preferred_place_of_death", place_of_death),
        ("resuscitation", "dnar"),
        ("ceiling_of_treatment", "点滴と酸素まで。挿管はしない。"),
        ("surrogate", "長男 山田 一郎"),
        ("what_matters", "孫の顔を見ること"),
        ("key_contacts", "長男 090-3412-7781"),
        ("note", "本人・長男と面談"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wishes_keep_every_version_and_the_death_is_compared_with_the_one_in_force() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let suzuki = app.signin(SUZUKI).await;
    let acp = format!("/patients/{yamada}/acp");

    // Three conversations: home, then the palliative care unit, then home again.
    for (v, on, place) in
        [("0", "2026-09-01", "home"), ("1", "2026-10-15", "palliative_care_unit"), ("2", "2026-11-10", "home")]
    {
        let r = suzuki.post(&acp, &wish(v, on, place)).await;
        assert_eq!(r.status, 303, "version after {v}: {}", r.body);
    }
    let page = suzuki.get(&acp).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("data-version=").count(), 3, "three versions kept");
    assert!(page.text().contains(&msg("ja", "field-preferred-place-of-death")));
    // A change made from an old version is refused and changes nothing.
    let r = suzuki.post(&acp, &wish("1", "2026-11-12", "hospital")).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-stale-version")));
    // Nobody present, or a conversation in the future: refused with the reason.
    let mut nobody = wish("3", "2026-11-12", "hospital");
    nobody.retain(|(k, _)| *k != "patient_present" && *k != "family_present");
    let r = suzuki.post(&acp, &nobody).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-acp-nobody-present")));
    let r = suzuki.post(&acp, &wish("3", "2026-12-01", "hospital")).await;
    assert!(r.text().contains(&msg("ja", "err-date-future")));
    let mut c = app.raw_conn().await;
    let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM acp_versions WHERE patient_id = $1")
        .bind(yamada.to_string())
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n.0, 3);

    // She died on 2026-11-05 in the palliative care unit: the wish in force then was the
    // October one (the November conversation came after), so it matched.
    let r = suzuki
        .post(
            &format!("/patients/{yamada}/death"),
            &[("version", "0"), ("died_on", "2026-11-05"), ("place", "palliative_care_unit"), ("team_present", "")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = suzuki.get(&acp).await;
    assert!(page.text().contains(&msg("ja", "death-matched")), "{}", page.body);
    let chart = suzuki.get(&format!("/patients/{yamada}")).await;
    assert!(chart.body.contains("id=\"deceased-banner\""), "the chart says she has died");

    // The date was wrong: she died on 2026-11-12, after the last conversation (home).
    // A correction needs a reason, and is a new version.
    let r = suzuki
        .post(
            &format!("/patients/{yamada}/death"),
            &[
                ("version", "1"),
                ("died_on", "2026-11-12"),
                ("place", "palliative_care_unit"),
                ("team_present", ""),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-correction-reason")));
    let r = suzuki
        .post(
            &format!("/patients/{yamada}/death"),
            &[
                ("version", "1"),
                ("died_on", "2026-11-12"),
                ("place", "palliative_care_unit"),
                ("team_present", "訪問看護師 高橋"),
                ("reason", "死亡日の誤記"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = suzuki.get(&acp).await;
    assert!(page.text().contains(&msg("ja", "death-not-matched")), "{}", page.body);
    let deaths: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM death_records WHERE patient_id = $1")
        .bind(yamada.to_string())
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(deaths.0, 2, "the first record is kept");

    // Another member of the team reads it; every write is audited; nothing is rewritten.
    let takahashi = app.signin(TAKAHASHI).await;
    assert!(takahashi.get(&acp).await.text().contains("孫の顔を見ること"));
    let rows = app.store.audit_recent(None, 200).await.unwrap();
    let mine = |a: &str| {
        rows.iter().filter(|r| r.action == a && r.patient_id.as_deref() == Some(yamada.to_string().as_str())).count()
    };
    assert_eq!(mine("acp.record"), 3);
    assert_eq!(mine("death.record"), 2);
    for sql in ["UPDATE acp_versions SET body = '{}'", "DELETE FROM acp_versions", "DELETE FROM death_records"] {
        assert!(sqlx::query(sql).execute(&mut c).await.is_err(), "{sql} is refused");
    }
    // An outsider cannot record anything.
    let kobayashi = app.signin(KOBAYASHI).await;
    assert_eq!(kobayashi.post(&acp, &wish("3", "2026-11-20", "hospital")).await.status, 404);
    app.clock.advance(Duration::minutes(1));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_urgent_care_summary_has_what_the_night_needs_on_one_page() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let suzuki = app.signin(SUZUKI).await;
    let r = suzuki.post(&format!("/patients/{yamada}/acp"), &wish("0", "2026-11-10", "home")).await;
    assert_eq!(r.status, 303);

    let page = suzuki.get(&format!("/patients/{yamada}/urgent")).await;
    assert_eq!(page.status, 200);
    let text = page.text();
    for expected in [
        "山田",
        &msg("ja", "resuscitation-dnar"),
        "挿管はしない",
        "ロキソプロフェン", // allergy, from the hospital's referral
        "膵頭部癌",         // diagnosis, from the same letter
        "090-4512-7730",    // the home-care clinic's night line
        "山田 一郎",        // the key person
    ] {
        assert!(text.contains(expected), "the summary lacks {expected}");
    }
    let rows = app.audit_of_request(&page.request_id()).await;
    assert!(rows.iter().any(|a| a.action == "urgent.read" && a.outcome == "allowed"));

    let pdf = suzuki.client.get(app.at(&format!("/patients/{yamada}/urgent.pdf"))).send().await.unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let text = pdftotext(&pdf.bytes().await.unwrap()).replace(' ', "");
    for expected in ["緊急時サマリー", "山田", "DNAR", "090-4512-7730", "ロキソプロフェン"] {
        assert!(text.contains(expected), "the PDF lacks {expected}:\n{text}");
    }
    // Outside the team: the same answer as for a patient who does not exist.
    let kobayashi = app.signin(KOBAYASHI).await;
    assert_eq!(kobayashi.get(&format!("/patients/{yamada}/urgent")).await.status, 404);
    app.finish().await;
}

/// The link's token from the page that showed it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_link_works_once_without_an_account_and_not_after_expiry_or_revocation() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let takahashi = app.signin(TAKAHASHI).await;
    let surveys = format!("/patients/{yamada}/surveys");
    let invite = |who: &'static str| {
        vec![("instrument", "bereaved-family-evaluation"), ("recipient", who), ("valid_days", "30")]
    };

    let r = takahashi.post(&surveys, &invite("長男 山田 一郎 様")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = link_token(&r.body);
    assert!(token.len() >= 40, "a long random token");
    assert!(!takahashi.get(&surveys).await.body.contains(&token), "the link is shown only once");

    // The family member has no account: a bare client.
    let family = app.bare_client();
    let url = app.at(&format!("/s/{token}"));
    let form = Resp::of(family.get(&url).send().await.unwrap()).await;
    assert_eq!(form.status, 200);
    assert!(form.text().contains("ご遺族へのアンケート"));
    assert!(!form.text().contains("山田") && !form.text().contains("花子"), "the link shows no patient data");
    // A rating out of the scale is refused and stores nothing.
    let mut answers: Vec<(&str, &str)> = vec![
        ("pain_relieved", "5"),
        ("wishes_respected", "6"),
        ("place_as_wished", "6"),
        ("team_reachable", "4"),
        ("information_shared", "5"),
        ("family_supported", "5"),
        ("overall", "9"),
        ("comments", "夜間も来てくださり心強かったです。"),
    ];
    let r = Resp::of(family.post(&url).form(&answers).send().await.unwrap()).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-answer-scale")));
    answers.retain(|(k, _)| *k != "overall");
    answers.push(("overall", "6"));
    let r = Resp::of(family.post(&url).form(&answers).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.text().contains(&msg("ja", "survey-thanks")));
    // Used: it says so, and a second answer changes nothing.
    let again = Resp::of(family.post(&url).form(&answers).send().await.unwrap()).await;
    assert_eq!(again.status, 410);
    assert!(again.text().contains(&msg("ja", "survey-used")));
    assert!(Resp::of(family.get(&url).send().await.unwrap()).await.text().contains(&msg("ja", "survey-used")));
    let mut c = app.raw_conn().await;
    let (n, score): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MAX(score) FROM survey_responses").fetch_one(&mut c).await.unwrap();
    assert_eq!((n, score), (1, Some(37)), "one response, stored with its score");
    let (version,): (i64,) =
        sqlx::query_as("SELECT instrument_version FROM survey_responses").fetch_one(&mut c).await.unwrap();
    assert_eq!(version, 1, "with the version it answered");
    let rows = app.store.audit_recent(Some("survey.respond"), 5).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].patient_id.as_deref(), Some(yamada.to_string().as_str()));

    // Revoked: the link stops working at once.
    let r = takahashi.post(&surveys, &invite("長女 佐々木 美香 様")).await;
    let revoked = link_token(&r.body);
    let page = takahashi.get(&surveys).await;
    let id = page
        .body
        .split("data-status=\"open\"")
        .next()
        .unwrap()
        .rsplit("data-invitation=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(takahashi.post(&format!("{surveys}/{id}/revoke"), &[]).await.status, 303);
    let url = app.at(&format!("/s/{revoked}"));
    let r = Resp::of(family.post(&url).form(&answers).send().await.unwrap()).await;
    assert_eq!(r.status, 410);
    assert!(r.text().contains(&msg("ja", "survey-closed")));

    // Expired: the same.
    let r = takahashi
        .post(&surveys, &[("instrument", "bereaved-family-evaluation"), ("recipient", "孫"), ("valid_days", "1")])
        .await;
    let expiring = link_token(&r.body);
    app.clock.advance(time::Duration::days(2));
    let url = app.at(&format!("/s/{expiring}"));
    assert_eq!(Resp::of(family.get(&url).send().await.unwrap()).await.status, 410);
    let r = Resp::of(family.post(&url).form(&answers).send().await.unwrap()).await;
    assert_eq!(r.status, 410);
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM survey_responses").fetch_one(&mut c).await.unwrap();
    assert_eq!(n, 1, "expired and revoked links stored nothing");
    // A made-up token is simply not found.
    assert_eq!(Resp::of(family.get(app.at("/s/not-a-real-token")).send().await.unwrap()).await.status, 404);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_loads_instruments_from_a_file_and_versions_keep_their_meaning() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let shipped = tsunagu_domain::questionnaire::SHIPPED[1];
    let mut def: serde_json::Value = serde_json::from_str(shipped).unwrap();
    let path = dir.path().join("pcds.json");

    std::fs::write(&path, shipped).unwrap();
    let out = app.cli(&["instrument-load", path.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("already loaded, unchanged"));
    // Reworded under the same version: refused, with what to do.
    def["items"][0]["ja"] = serde_json::json!("症状の緩和が難しいと感じる。");
    std::fs::write(&path, def.to_string()).unwrap();
    let out = app.cli(&["instrument-load", path.to_str().unwrap()]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("new version"), "{}", stderr(&out));
    // As version 2 it loads, and becomes the one offered.
    def["version"] = serde_json::json!(2);
    std::fs::write(&path, def.to_string()).unwrap();
    let out = app.cli(&["instrument-load", path.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let latest = app.store.instruments().await.unwrap();
    let pcds = latest.iter().find(|i| i.id == "professional-difficulties").unwrap();
    assert_eq!(pcds.version, 2);
    // Not a definition at all: refused.
    std::fs::write(&path, "{\"id\": 1}").unwrap();
    assert!(!app.cli(&["instrument-load", path.to_str().unwrap()]).await.status.success());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symptom_ratings_are_kept_with_their_instrument_and_drawn_over_time() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let takahashi = app.signin(TAKAHASHI).await;
    let page_url = format!("/patients/{yamada}/symptoms?instrument=symptom-rating-patient");
    let rating = |at: &'static str, pain: &'static str| {
        vec![
            ("instrument", "symptom-rating-patient"),
            ("assessed_at", at),
            ("pain", pain),
            ("tiredness", "5"),
            ("drowsiness", "2"),
            ("nausea", "0"),
            ("appetite", "6"),
            ("shortness_of_breath", "3"),
            ("depression", "2"),
            ("anxiety", "4"),
            ("wellbeing", "5"),
        ]
    };
    let empty = takahashi.get(&page_url).await;
    assert_eq!(empty.status, 200);
    assert!(empty.text().contains(&msg("ja", "symptoms-none")));

    for (at, pain) in [("2026-11-17T10:00", "8"), ("2026-11-20T10:30", "5"), ("2026-11-23T09:00", "3")] {
        let r = takahashi.post(&format!("/patients/{yamada}/symptoms"), &rating(at, pain)).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    // Out of the scale, in the future, or a missing rating: refused, nothing stored.
    let r = takahashi.post(&format!("/patients/{yamada}/symptoms"), &rating("2026-11-23T12:00", "11")).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-answer-scale")));
    let r = takahashi.post(&format!("/patients/{yamada}/symptoms"), &rating("2026-12-01T12:00", "3")).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-date-future")));

    let page = takahashi.get(&page_url).await;
    // The pain plot: three points, oldest to newest, the latest value shown.
    let pain = page.body.split("data-item=\"pain\"").nth(1).unwrap().split("</figure>").next().unwrap();
    assert_eq!(pain.matches("<circle").count(), 3);
    assert!(pain.contains("<polyline"));
    assert!(pain.contains("<strong>3</strong>"), "{pain}");
    let titles: Vec<&str> = pain.split("<title>").skip(1).map(|t| t.split('<').next().unwrap()).collect();
    assert_eq!(titles, vec!["2026-11-17 10:00: 8", "2026-11-20 10:30: 5", "2026-11-23 09:00: 3"]);
    // Higher pain is drawn higher (a smaller y).
    let ys: Vec<f64> = pain.split("cy=\"").skip(1).map(|s| s.split('"').next().unwrap().parse().unwrap()).collect();
    assert!(ys[0] < ys[1] && ys[1] < ys[2], "{ys:?}");

    let mut c = app.raw_conn().await;
    let (n, v): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), MAX(instrument_version) FROM symptom_assessments WHERE patient_id = $1")
            .bind(yamada.to_string())
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_eq!((n, v), (3, 1));
    assert!(sqlx::query("DELETE FROM symptom_assessments").execute(&mut c).await.is_err());
    let rows = app.store.audit_recent(Some("assessment.record"), 50).await.unwrap();
    let yamada_s = yamada.to_string();
    assert_eq!(rows.iter().filter(|r| r.patient_id.as_deref() == Some(yamada_s.as_str())).count(), 3);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_research_export_contains_no_direct_identifier() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let suzuki = app.signin(SUZUKI).await;
    let takahashi = app.signin(TAKAHASHI).await;
    // Outcome data with names, phones and addresses typed into its free text.
    assert_eq!(suzuki.post(&format!("/patients/{yamada}/acp"), &wish("0", "2026-10-01", "home")).await.status, 303);
    let r = suzuki
        .post(
            &format!("/patients/{yamada}/death"),
            &[
                ("version", "0"),
                ("died_on", "2026-11-20"),
                ("place", "home"),
                ("team_present", "訪問看護師 高橋 順子、0235-22-1234"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = takahashi
        .post(
            &format!("/patients/{yamada}/symptoms"),
            &[
                ("instrument", "palliative-problems-staff"),
                ("assessed_at", "2026-11-18T10:00"),
                ("pain", "2"),
                ("other_symptoms", "1"),
                ("patient_anxiety", "2"),
                ("family_anxiety", "3"),
                ("information", "1"),
                ("practical", "2"),
                ("communication", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = takahashi
        .post(
            &format!("/patients/{yamada}/surveys"),
            &[("instrument", "bereaved-family-evaluation"), ("recipient", "長男 山田 一郎 様"), ("valid_days", "30")],
        )
        .await;
    let token = link_token(&r.body);
    let answers = [
        ("pain_relieved", "5"),
        ("wishes_respected", "6"),
        ("place_as_wished", "6"),
        ("team_reachable", "5"),
        ("information_shared", "5"),
        ("family_supported", "5"),
        ("overall", "6"),
        ("comments", "鈴木先生と高橋さん（0235-22-1234、山形県つなぐ市本町1-2-3）に感謝します。"),
    ];
    let r = Resp::of(app.bare_client().post(app.at(&format!("/s/{token}"))).form(&answers).send().await.unwrap()).await;
    assert_eq!(r.status, 200);

    let dir = tempfile::tempdir().unwrap();
    let out = app.cli(&["export-research", "--to", dir.path().to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let mut all = String::new();
    for f in [
        "patients.csv",
        "acp.csv",
        "deaths.csv",
        "assessments.ndjson",
        "surveys.ndjson",
        "transitions.csv",
        "specialist_care.csv",
        "dictionary.md",
    ] {
        all += &std::fs::read_to_string(dir.path().join(f)).unwrap_or_else(|_| panic!("{f} is written"));
    }
    // It carries the outcomes (a death at home, as wished; the survey's ratings) ...
    assert!(all.contains(",home,home,true,"), "the death compared with the wish:\n{all}");
    assert!(all.contains("\"place_as_wished\":6"));
    assert!(all.contains(",palliative_team_consult,"), "the demo's specialist care is exported");

    // ... and no name, phone, address, e-mail, exact birth date or internal id in the
    // database, of patients, family, staff or organizations.
    let mut c = app.raw_conn().await;
    let mut needles: Vec<String> = Vec::new();
    for sql in [
        "SELECT family_name || ' ' || given_name FROM patients",
        "SELECT family_name FROM patients",
        "SELECT given_name FROM patients",
        "SELECT family_kana FROM patients",
        "SELECT given_kana FROM patients",
        "SELECT COALESCE(address, '') FROM patients",
        "SELECT COALESCE(phone, '') FROM patients",
        "SELECT birth_date FROM patients",
        "SELECT id FROM patients",
        "SELECT name FROM key_persons",
        "SELECT COALESCE(phone, '') FROM key_persons",
        "SELECT display_name FROM users",
        "SELECT email FROM users",
        "SELECT name FROM organizations",
        "SELECT COALESCE(address, '') FROM organizations",
        "SELECT COALESCE(phone, '') FROM organizations",
        "SELECT COALESCE(night_phone, '') FROM organizations",
        "SELECT recipient FROM survey_invitations",
    ] {
        let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&mut c).await.unwrap();
        needles.extend(rows.into_iter().map(|r| r.0).filter(|s| s.chars().count() >= 2));
    }
    needles.push("0235-22-1234".into());
    assert!(needles.len() > 100, "the scan covers the region: {}", needles.len());
    for n in &needles {
        assert!(!all.contains(n.as_str()), "the export contains {n:?}");
    }
    let rows = app.store.audit_recent(Some("research.export"), 5).await.unwrap();
    assert_eq!(rows.len(), 1, "the export is on the record");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_figures_equal_counts_made_independently_for_two_years() {
    let app = TestApp::start().await;
    let sato = app.signin(SATO).await;
    let takahashi = app.signin(TAKAHASHI).await;
    let yamada = app.patient_id("ヤマダ").await;
    let death = |on: &'static str, place: &'static str| {
        vec![("version", "0"), ("died_on", on), ("place", place), ("team_present", "")]
    };

    // FY2025: 山田 花子 wished for home (December) and died at home (February).
    assert_eq!(sato.post(&format!("/patients/{yamada}/acp"), &wish("0", "2025-12-01", "home")).await.status, 303);
    assert_eq!(sato.post(&format!("/patients/{yamada}/death"), &death("2026-02-10", "home")).await.status, 303);
    // FY2026: two more of the hospital's patients die, one against the wish, one with none.
    let pids: Vec<String> = {
        let mut c = app.raw_conn().await;
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT p.id FROM patients p JOIN organizations o ON o.id = p.owner_org_id WHERE o.kind = 'hospital' \
             AND p.consent_status = 'given' AND p.family_kana <> 'ヤマダ' ORDER BY p.created_at, p.id LIMIT 2",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        rows.into_iter().map(|r| r.0).collect()
    };
    assert_eq!(sato.post(&format!("/patients/{}/acp", pids[0]), &wish("0", "2026-09-01", "home")).await.status, 303);
    assert_eq!(sato.post(&format!("/patients/{}/death", pids[0]), &death("2026-11-20", "hospital")).await.status, 303);
    assert_eq!(
        sato.post(&format!("/patients/{}/death", pids[1]), &death("2026-10-01", "palliative_care_unit")).await.status,
        303
    );
    // Symptoms: first on 11-10 (sum 4+4+5×2 = 18), a week later (sum 10).
    let staff = |at: &'static str, v: &'static str| {
        vec![
            ("instrument", "palliative-problems-staff"),
            ("assessed_at", at),
            ("pain", v),
            ("other_symptoms", v),
            ("patient_anxiety", "2"),
            ("family_anxiety", "2"),
            ("information", "2"),
            ("practical", "2"),
            ("communication", "2"),
        ]
    };
    assert_eq!(
        takahashi.post(&format!("/patients/{yamada}/symptoms"), &staff("2026-11-10T10:00", "4")).await.status,
        303
    );
    assert_eq!(
        takahashi.post(&format!("/patients/{yamada}/symptoms"), &staff("2026-11-17T10:00", "0")).await.status,
        303
    );

    // Counted independently: registrations straight from the table, by Japan-time year.
    let mut c = app.raw_conn().await;
    let registered = |from: &'static str, to: &'static str| {
        sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM patients WHERE created_at >= $1 AND created_at < $2")
            .bind(from)
            .bind(to)
    };
    let (fy2026,) = registered("2026-03-31T15:00:00", "2027-03-31T15:00:00").fetch_one(&mut c).await.unwrap();
    let (fy2025,) = registered("2025-03-31T15:00:00", "2026-03-31T15:00:00").fetch_one(&mut c).await.unwrap();
    assert!(fy2026 > 0);

    let operator = app.signin(OPERATOR).await;
    let now = operator.get("/dashboard?fy=2026").await;
    assert_eq!(now.status, 200);
    assert_eq!(fig(&now.body, "registered"), fy2026.to_string());
    // Places in the order home, hospital, palliative care unit, care facility.
    assert_eq!((0..4).map(|i| fig(&now.body, &format!("deaths-{i}"))).collect::<Vec<_>>(), vec!["0", "1", "1", "0"]);
    assert_eq!((fig(&now.body, "where-wished"), fig(&now.body, "compared")), ("0".into(), "1".into()));
    let s = fig(&now.body, "symptoms-palliative-problems-staff");
    assert!(s.contains("18.0 → 10.0（n=1）"), "{s}");

    let last = operator.get("/dashboard?fy=2025").await;
    assert_eq!(fig(&last.body, "registered"), fy2025.to_string());
    assert_eq!((0..4).map(|i| fig(&last.body, &format!("deaths-{i}"))).collect::<Vec<_>>(), vec!["1", "0", "0", "0"]);
    assert_eq!((fig(&last.body, "where-wished"), fig(&last.body, "compared")), ("1".into(), "1".into()));
    app.finish().await;
}

//! The shared chart (DOMAIN.md §5): organizations on the team write one chart and read
//! each other's entries, on the pages and through the API, and every write and read is
//! in the audit chain; the outsider sees nothing of it. Entries are never changed: a
//! correction is a new version linked to the old one, only the author's organization
//! may correct or mark in error, and the database itself refuses UPDATE and DELETE.
//!
//! Helpers shared by the other chart tests (`chart_inbox.rs`, `chart_validation.rs`,
//! `uploads.rs`) live here too.

use crate::harness::*;
use reqwest::Client;
use serde_json::{Value, json};
use sqlx::Row;
use tsunagu_domain::PatientId;
use tsunagu_store::Backend;

/// A message with one argument, as the catalogue words it (`{ $name }` filled in).
pub fn msg_with(lang: &str, key: &str, name: &str, value: &str) -> String {
    let m = msg(lang, key);
    let placeable = format!("{{ ${name} }}");
    assert!(m.contains(&placeable), "{lang} {key} has no {placeable}: {m}");
    m.replace(&placeable, value)
}

/// The JSON API as one person (a bearer token for their organization).
pub struct Api {
    client: Client,
    token: String,
    base: String,
}

impl Api {
    pub async fn new(app: &TestApp, email: &str) -> Api {
        Api { client: app.bare_client(), token: app.token_for(email).await, base: app.base.clone() }
    }

    /// The bearer token (for requests made by hand).
    pub fn bearer(&self) -> &str {
        &self.token
    }

    pub async fn get(&self, path: &str) -> Resp {
        Resp::of(self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        Resp::of(
            self.client.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(body).send().await.unwrap(),
        )
        .await
    }

    /// POST a raw body (a file upload) with the given headers.
    pub async fn post_raw(&self, path: &str, content_type: &str, lang: &str, body: Vec<u8>) -> Resp {
        Resp::of(
            self.client
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .header("content-type", content_type)
                .header("accept-language", lang)
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// GET returning the raw bytes: (status, headers, bytes).
    pub async fn get_bytes(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        bytes_of(self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.token)).await
    }

    /// The current version of every entry of the chart, newest first.
    pub async fn entries(&self, patient: PatientId) -> Vec<Value> {
        let r = self.get(&format!("/api/v1/patients/{patient}/entries?limit=500")).await;
        assert_eq!(r.status, 200, "the API timeline: {}", r.body);
        r.json()["entries"].as_array().expect("entries is an array").clone()
    }

    /// Every version of one entry, oldest first.
    pub async fn versions(&self, patient: PatientId, entry: &str) -> Vec<Value> {
        let r = self.get(&format!("/api/v1/patients/{patient}/entries/{entry}")).await;
        assert_eq!(r.status, 200, "the API history of {entry}: {}", r.body);
        r.json()["versions"].as_array().expect("versions is an array").clone()
    }
}

/// Send a request and read the body as bytes (downloads are not text).
pub async fn bytes_of(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// Rows in a table, straight from the database.
pub async fn count_rows(app: &TestApp, table: &str) -> i64 {
    let mut c = app.raw_conn().await;
    let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
        .fetch_one(&mut c)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    let _ = sqlx::Connection::close(c).await;
    n
}

/// A page write that was saved: 303 back to the chart's timeline (not to sign-in).
pub fn assert_saved(r: &Resp, patient: PatientId, what: &str) {
    assert_eq!(r.status, 303, "{what}: {}", r.body);
    assert_eq!(r.location(), format!("/patients/{patient}#timeline"), "{what}: saved means back to the chart");
}

/// The `<article>` of one entry on a chart page.
pub fn article<'a>(body: &'a str, entry_id: &str) -> &'a str {
    let marker = format!("id=\"entry-{entry_id}\"");
    let at = body.find(&marker).unwrap_or_else(|| panic!("entry {entry_id} is not on the page"));
    let start = body[..at].rfind("<article").expect("an entry is an <article>");
    let end = body[at..].find("</article>").map_or(body.len(), |e| at + e);
    &body[start..end]
}

fn minutes(n: i64) -> time::Duration {
    time::Duration::minutes(n)
}

/// An outsider's 404, made comparable with another: the request id and the patient id
/// (both echoed by design) replaced by placeholders.
fn normalized_404(r: &Resp, patient: &str) -> String {
    let rid = r.request_id();
    if r.header("content-type").starts_with("application/problem+json") {
        let mut v = r.json();
        v.as_object_mut().unwrap().remove("request_id");
        v.to_string().replace(patient, "{patient}")
    } else {
        r.body.replace(&rid, "{request-id}").replace(patient, "{patient}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_organizations_write_one_chart_and_the_outsider_sees_none_of_it() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let chart = format!("/patients/{yamada}");
    let hospital = app.org_of(SATO).await;
    let station = app.org_of(TAKAHASHI).await;
    let takahashi = app.signin(TAKAHASHI).await;
    let sato = app.signin(SATO).await;
    let takahashi_api = Api::new(&app, TAKAHASHI).await;
    let sato_api = Api::new(&app, SATO).await;
    // The chart may already hold entries (the demo course): ours come after them.
    let before = sato_api.entries(yamada).await.len();
    app.clock.advance(minutes(1));

    // The visiting nurse records vitals on the page...
    const VITALS_NOTE: &str = "訪問時やや傾眠、呼名で開眼";
    let r = takahashi
        .post(
            &format!("{chart}/entries"),
            &[
                ("kind", "vital_signs"),
                ("temperature_c", "37.4"),
                ("pulse_bpm", "92"),
                ("bp_systolic", "104"),
                ("bp_diastolic", "62"),
                ("respiration_rate", "18"),
                ("spo2", "94"),
                ("pain_nrs", "4"),
                ("note", VITALS_NOTE),
            ],
        )
        .await;
    assert_saved(&r, yamada, "vitals from the page form");
    let vitals_request = r.request_id();
    app.clock.advance(minutes(5));

    // ... and a nursing record through the API.
    const NURSING: &str = "全身清拭と陰部洗浄を実施。仙骨部に発赤なし。";
    let r = takahashi_api
        .post(&format!("/api/v1{chart}/entries"), &json!({"body": {"kind": "nursing_record", "text": NURSING}}))
        .await;
    assert_eq!(r.status, 201, "nursing record through the API: {}", r.body);
    let nursing_request = r.request_id();
    let created = r.json();
    assert_eq!(created["body"]["text"], NURSING);
    assert_eq!(created["version"], 1);
    assert_eq!(created["author_org_id"], station.id.to_string());
    // (Sessions end after 30 idle minutes: the clock moves by minutes here.)
    app.clock.advance(minutes(3));

    // The hospital physician writes a SOAP note on the page.
    const S: &str = "夜間に腹部の痛みで2回目が覚めた";
    const A: &str = "がん性疼痛の増悪、レスキューの効果は良好";
    const P: &str = "定時のオキシコドンを増量し、訪問看護で疼痛を評価";
    let r = sato
        .post(
            &format!("{chart}/entries"),
            &[("kind", "progress_note"), ("subjective", S), ("objective", ""), ("assessment", A), ("plan", P)],
        )
        .await;
    assert_saved(&r, yamada, "SOAP note from the page form");
    let soap_request = r.request_id();

    // One chart, newest first, with both organizations' entries.
    let all = sato_api.entries(yamada).await;
    assert_eq!(all.len(), before + 3, "{:#?}", &all[..5]);
    let entries = &all[..3];
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["progress_note", "nursing_record", "vital_signs"], "{entries:#?}");
    let (soap, nursing, vitals) = (&entries[0], &entries[1], &entries[2]);
    assert_eq!(soap["author_org_id"], hospital.id.to_string());
    assert_eq!(nursing["author_org_id"], station.id.to_string());
    assert_eq!(vitals["author_org_id"], station.id.to_string());
    assert_eq!(vitals["body"]["temperature_c"], 37.4);
    assert_eq!(vitals["body"]["bp_systolic"], 104);
    assert_eq!(vitals["body"]["note"], VITALS_NOTE);
    assert_eq!(soap["body"]["assessment"], A);
    assert!(soap["body"].get("objective").is_none_or(Value::is_null), "an empty SOAP part is not stored");
    assert_eq!(nursing["version_id"], created["version_id"]);

    // Every write is in the audit chain with the content hash of what was written.
    for (request, e) in [(&vitals_request, vitals), (&nursing_request, nursing), (&soap_request, soap)] {
        let rows = app.audit_of_request(request).await;
        let hash = e["content_hash"].as_str().unwrap();
        assert_eq!(hash.len(), 64, "a SHA-256 content hash: {hash}");
        assert!(
            rows.iter().any(|a| a.action == "entry.create"
                && a.outcome == "allowed"
                && a.patient_id.as_deref() == Some(yamada.to_string().as_str())
                && a.target == e["version_id"].as_str().unwrap()
                && a.actor_org == e["author_org_id"].as_str().map(str::to_string)
                && a.detail.contains(hash)),
            "no entry.create with hash {hash} for request {request}: {rows:?}"
        );
    }
    let ids: Vec<String> = entries.iter().map(|e| e["entry_id"].as_str().unwrap().to_string()).collect();
    let texts = [VITALS_NOTE, NURSING, S, A, P];

    // Each organization sees both organizations' entries, on the page and in the API,
    // and each read is in the audit chain.
    let suzuki = app.signin(SUZUKI).await;
    for (email, session) in [(SATO, &sato), (TAKAHASHI, &takahashi), (SUZUKI, &suzuki)] {
        let me = app.user(email).await.id.to_string();
        let page = session.get(&chart).await;
        assert_eq!(page.status, 200, "{email}: the chart");
        for t in texts {
            assert!(page.body.contains(t), "{email} does not see {t:?} on the chart page");
        }
        for id in &ids {
            article(&page.body, id);
        }
        assert!(page.body.contains("<strong>37.4</strong>"), "{email}: the temperature is shown");
        assert!(page.body.contains("<strong>104/62</strong>"), "{email}: the blood pressure is shown");
        // Each entry names its author's organization.
        assert!(article(&page.body, &ids[0]).contains(&hospital.name), "{email}: the SOAP note's org");
        assert!(article(&page.body, &ids[1]).contains(&station.name), "{email}: the nursing record's org");
        assert!(article(&page.body, &ids[2]).contains(&station.name), "{email}: the vitals' org");
        let rows = app.audit_of_request(&page.request_id()).await;
        assert!(
            rows.iter().any(|a| a.action == "chart.read" && a.outcome == "allowed" && a.actor_user == Some(me.clone())),
            "{email}: the page read is not in the audit chain: {rows:?}"
        );
    }
    for (email, api) in [(SATO, &sato_api), (TAKAHASHI, &takahashi_api)] {
        let r = api.get(&format!("/api/v1{chart}/entries")).await;
        assert_eq!(r.status, 200);
        let got: Vec<String> =
            r.json()["entries"].as_array().unwrap().iter().map(|e| e["entry_id"].as_str().unwrap().into()).collect();
        assert_eq!(got[..3], ids, "{email} through the API");
        let rows = app.audit_of_request(&r.request_id()).await;
        let me = app.user(email).await.id.to_string();
        assert!(
            rows.iter().any(|a| a.action == "chart.read" && a.outcome == "allowed" && a.actor_user == Some(me.clone())),
            "{email}: the API read is not in the audit chain: {rows:?}"
        );
    }

    // The outsider: every way in is a 404 like the one for an id that does not exist,
    // with none of the chart in it, and each attempt is a refusal in the audit chain.
    let kobayashi = app.signin(KOBAYASHI).await;
    let kobayashi_api = Api::new(&app, KOBAYASHI).await;
    let missing = PatientId(random_uuid()).to_string();
    let real = yamada.to_string();
    let mut page_paths = vec![
        "/patients/{p}".to_string(),
        "/patients/{p}/timeline".into(),
        "/patients/{p}/live?since=2000-01-01T00:00:00.000000Z".into(),
    ];
    let mut api_paths = vec!["/api/v1/patients/{p}".to_string(), "/api/v1/patients/{p}/entries".into()];
    for id in &ids {
        page_paths.push(format!("/patients/{{p}}/entries/{id}"));
        page_paths.push(format!("/patients/{{p}}/entries/{id}/correct"));
        api_paths.push(format!("/api/v1/patients/{{p}}/entries/{id}"));
    }
    let umibe = app.org_of(KOBAYASHI).await.id.to_string();
    for (is_api, path) in page_paths.iter().map(|p| (false, p)).chain(api_paths.iter().map(|p| (true, p))) {
        let mut seen = Vec::new();
        for pid in [&real, &missing] {
            let p = path.replace("{p}", pid);
            let r = if is_api { kobayashi_api.get(&p).await } else { kobayashi.get(&p).await };
            assert_eq!(r.status, 404, "the outsider: GET {p}\n{}", r.body);
            for t in texts.iter().chain(&["山田", "花子", "ヤマダ"]) {
                assert!(!r.body.contains(t), "the outsider sees {t:?} at {p}");
            }
            for id in &ids {
                assert!(!r.body.contains(&format!("entry-{id}")), "the outsider sees entry {id} at {p}");
            }
            r.assert_no_leak(&p);
            let rows = app.audit_of_request(&r.request_id()).await;
            assert!(
                rows.iter().any(|a| a.outcome == "refused" && a.actor_org.as_deref() == Some(umibe.as_str())),
                "GET {p} by the outsider is not a refusal in the audit chain: {rows:?}"
            );
            assert!(rows.iter().all(|a| a.outcome != "allowed"), "GET {p}: {rows:?}");
            seen.push(normalized_404(&r, pid));
        }
        assert_eq!(seen[0], seen[1], "GET {path}: 山田's chart and a missing one answer differently");
    }
    // Nor does the chart show up anywhere else the outsider can look.
    for p in ["/inbox", "/patients", "/patients?q=%E3%83%A4%E3%83%9E%E3%83%80"] {
        let r = kobayashi.get(p).await;
        assert_eq!(r.status, 200, "{p}");
        for t in texts.iter().chain(&["山田", "花子"]) {
            assert!(!r.body.contains(t), "the outsider sees {t:?} at {p}");
        }
    }
    let r = kobayashi_api.get("/api/v1/inbox").await;
    assert_eq!(r.status, 200);
    assert!(!r.body.contains(&real) && !r.body.contains("山田"), "{}", r.body);
    // Nor write to it.
    let r = kobayashi.post(&format!("{chart}/entries"), &[("kind", "nursing_record"), ("text", "outsider")]).await;
    assert_eq!(r.status, 404);
    assert_eq!(sato_api.entries(yamada).await.len(), before + 3, "the outsider's write must not land");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrections_keep_every_version_and_only_the_author_organization_amends() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let chart = format!("/patients/{yamada}");
    let sato = app.signin(SATO).await;
    let sato_api = Api::new(&app, SATO).await;
    let marks_before = count_rows(&app, "entry_marks").await;
    app.clock.advance(minutes(1));

    const S: &str = "夜間の痛みが強く眠れない";
    const A: &str = "がん性疼痛の増悪";
    const P1: &str = "オキシコドン速放製剤 2.5mg 頓用を開始";
    const P2: &str = "オキシコドン速放製剤 5mg 頓用を開始";
    const P3: &str = "オキシコドン速放製剤 5mg 頓用を開始、1日4回まで";
    let r = sato
        .post(
            &format!("{chart}/entries"),
            &[("kind", "progress_note"), ("subjective", S), ("assessment", A), ("plan", P1)],
        )
        .await;
    assert_saved(&r, yamada, "the SOAP note");
    let entries = sato_api.entries(yamada).await;
    let mine = entries.iter().find(|e| e["body"]["plan"] == P1).expect("the note just written");
    let entry = mine["entry_id"].as_str().unwrap().to_string();
    let v1 = mine["version_id"].as_str().unwrap().to_string();
    assert_eq!(mine["version"], 1);
    let history_path = format!("{chart}/entries/{entry}");
    let correct_path = format!("{history_path}/correct");
    app.clock.advance(minutes(10));

    // A correction on the page: the form carries the version it corrects.
    let form = sato.get(&correct_path).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains(&format!("name=\"version_id\" value=\"{v1}\"")), "{}", form.body);
    assert!(form.body.contains(P1), "the form starts from the current text");
    const REASON2: &str = "用量の誤記";
    let correction = |version: &str, reason: &'static str, plan: &'static str| {
        vec![
            ("version_id", version.to_string()),
            ("reason", reason.to_string()),
            ("subjective", S.to_string()),
            ("objective", String::new()),
            ("assessment", A.to_string()),
            ("plan", plan.to_string()),
            ("text", String::new()),
        ]
    };
    let fields = correction(&v1, REASON2, P2);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = sato.post(&correct_path, &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), history_path);

    // Both versions readable and linked.
    let versions = sato_api.versions(yamada, &entry).await;
    assert_eq!(versions.len(), 2, "{versions:#?}");
    assert_eq!(versions[0]["version_id"], v1.as_str());
    assert_eq!(versions[0]["body"]["plan"], P1);
    assert_eq!(versions[1]["version"], 2);
    assert_eq!(versions[1]["entry_id"], entry.as_str());
    assert_eq!(versions[1]["supersedes"], v1.as_str());
    assert_eq!(versions[1]["body"]["plan"], P2);
    assert_eq!(versions[1]["correction_reason"], REASON2);
    assert_eq!(versions[1]["entry_recorded_at"], versions[0]["entry_recorded_at"], "the entry keeps its place");
    assert_ne!(versions[1]["recorded_at"], versions[0]["recorded_at"]);
    assert_ne!(versions[1]["content_hash"], versions[0]["content_hash"]);
    let v2 = versions[1]["version_id"].as_str().unwrap().to_string();

    let h = sato.get(&history_path).await;
    assert_eq!(h.status, 200);
    assert!(h.body.contains("id=\"version-1\"") && h.body.contains("id=\"version-2\""), "{}", h.body);
    assert!(h.body.contains(P1) && h.body.contains(P2), "both versions are readable");
    assert!(h.body.contains(&format!("<span class=\"removed\">- {P1}</span>")), "the diff shows the old line");
    assert!(h.body.contains(&format!("<span class=\"added\">+ {P2}</span>")), "the diff shows the new line");
    assert!(h.body.contains(&format!("<span class=\"same\">  {S}</span>")), "unchanged lines are not marked");
    assert!(h.body.contains(REASON2));
    for v in &versions {
        assert!(h.body.contains(v["content_hash"].as_str().unwrap()), "each version shows its hash");
    }

    // The timeline shows the entry once, current text, marked corrected.
    let page = sato.get(&chart).await;
    assert_eq!(page.body.matches(&format!("id=\"entry-{entry}\"")).count(), 1, "the entry is shown once");
    let card = article(&page.body, &entry);
    assert!(card.contains(P2) && !card.contains(P1), "the timeline shows the current version:\n{card}");
    assert!(card.contains(&msg_with("ja", "entry-corrected", "version", "2")), "{card}");
    assert!(card.contains(&format!("href=\"{history_path}\"")), "the mark links to the history");

    // A correction through the API.
    app.clock.advance(minutes(10));
    const REASON3: &str = "頓用の上限回数を追記";
    let body = |version: &str, plan: &str| {
        json!({"version_id": version, "reason": REASON3,
               "body": {"kind": "progress_note", "subjective": S, "assessment": A, "plan": plan}})
    };
    let r = sato_api.post(&format!("/api/v1{chart}/entries/{entry}/corrections"), &body(&v2, P3)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let v3 = r.json();
    assert_eq!(v3["version"], 3);
    assert_eq!(v3["supersedes"], v2.as_str());
    assert_eq!(v3["entry_id"], entry.as_str());
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(
        rows.iter().any(|a| a.action == "entry.correct" && a.detail.contains(v3["content_hash"].as_str().unwrap())),
        "the correction is in the audit chain with its hash: {rows:?}"
    );
    let h = sato.get(&history_path).await;
    assert!(h.body.contains("id=\"version-3\""));
    assert!(h.body.contains(&format!("<span class=\"added\">+ {P3}</span>")), "{}", h.body);
    let card_page = sato.get(&chart).await;
    assert!(article(&card_page.body, &entry).contains(&msg_with("ja", "entry-corrected", "version", "3")));

    // Stale corrections (an older version) are refused and change nothing.
    let rows_before = count_rows(&app, "entries").await;
    let stale_fields = correction(&v1, "古い版からの訂正", "古い版からの計画");
    let stale_fields: Vec<(&str, &str)> = stale_fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = sato.post(&correct_path, &stale_fields).await;
    assert_eq!(r.status, 409, "a stale correction on the page: {}", r.body);
    assert!(r.text().contains(&msg("ja", "err-entry-stale")), "{}", r.body);
    r.assert_no_leak("stale correction");
    for old in [&v1, &v2] {
        let r = sato_api.post(&format!("/api/v1{chart}/entries/{entry}/corrections"), &body(old, "古い版")).await;
        assert_eq!(r.status, 409, "a stale correction through the API: {}", r.body);
        assert!(r.header("content-type").starts_with("application/problem+json"));
    }
    assert_eq!(count_rows(&app, "entries").await, rows_before, "a stale correction wrote something");
    let versions = sato_api.versions(yamada, &entry).await;
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[2]["body"]["plan"], P3);

    // Another organization on the team reads but may not amend.
    let takahashi = app.signin(TAKAHASHI).await;
    let takahashi_api = Api::new(&app, TAKAHASHI).await;
    let v3_id = v3["version_id"].as_str().unwrap().to_string();
    let page = takahashi.get(&chart).await;
    assert_eq!(page.status, 200);
    let card = article(&page.body, &entry);
    assert!(card.contains(P3), "the team member reads the entry");
    assert!(!card.contains(&format!("href=\"{correct_path}\"")), "no correction link for another org:\n{card}");
    assert!(
        article(&sato.get(&chart).await.body, &entry).contains(&format!("href=\"{correct_path}\"")),
        "the author's organization gets the link"
    );
    assert_eq!(takahashi.get(&history_path).await.status, 200, "another org reads the history");
    assert_eq!(takahashi.get(&correct_path).await.status, 403, "another org opens the correction form");
    let foreign = correction(&v3_id, "他施設からの訂正", "他施設が書き換えた計画");
    let foreign: Vec<(&str, &str)> = foreign.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = takahashi.post(&correct_path, &foreign).await;
    assert_eq!(r.status, 403, "another org corrects on the page: {}", r.body);
    let r = takahashi.post(&format!("{history_path}/error"), &[("reason", "他施設による取り消し")]).await;
    assert_eq!(r.status, 403, "another org marks in error on the page: {}", r.body);
    let r = takahashi_api.post(&format!("/api/v1{chart}/entries/{entry}/corrections"), &body(&v3_id, "他施設")).await;
    assert_eq!(r.status, 403, "another org corrects through the API: {}", r.body);
    let r = takahashi_api
        .post(&format!("/api/v1{chart}/entries/{entry}/entered-in-error"), &json!({"reason": "他施設による取り消し"}))
        .await;
    assert_eq!(r.status, 403, "another org marks in error through the API: {}", r.body);
    assert_eq!(count_rows(&app, "entries").await, rows_before);
    assert_eq!(count_rows(&app, "entry_marks").await, marks_before);
    let versions = sato_api.versions(yamada, &entry).await;
    assert_eq!(versions.len(), 3);
    assert!(versions[2]["in_error"].is_null());

    // Entered in error (page): the entry stays, struck through, with the reason.
    const WRONG: &str = "山田 太郎様の記録を誤ってこのカルテに記載";
    const WHY: &str = "別の患者のカルテに記載したため";
    let r = sato_api
        .post(&format!("/api/v1{chart}/entries"), &json!({"body": {"kind": "progress_note", "text": WRONG}}))
        .await;
    assert_eq!(r.status, 201);
    let wrong = r.json()["entry_id"].as_str().unwrap().to_string();
    let r = sato.post(&format!("{chart}/entries/{wrong}/error"), &[("reason", "  ")]).await;
    assert_eq!(r.status, 422, "a mark needs a reason: {}", r.body);
    assert_eq!(count_rows(&app, "entry_marks").await, marks_before);
    let r = sato.post(&format!("{chart}/entries/{wrong}/error"), &[("reason", WHY)]).await;
    assert_saved(&r, yamada, "entered in error on the page");
    let page = sato.get(&chart).await;
    let card = article(&page.body, &wrong);
    assert!(card.starts_with("<article class=\"entry kind-progress_note in-error\""), "{card}");
    assert!(card.contains(WRONG), "the entry stays readable");
    assert!(card.contains(WHY), "with the reason");
    assert!(card.contains(&msg("ja", "entry-in-error")));
    assert!(!card.contains(&format!("/entries/{wrong}/correct")), "an entry in error is not corrected");
    let mark = &sato_api.versions(yamada, &wrong).await[0]["in_error"];
    assert_eq!(mark["reason"], WHY);
    // Not twice, and not corrected afterwards.
    let r = sato_api.post(&format!("/api/v1{chart}/entries/{wrong}/entered-in-error"), &json!({"reason": WHY})).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let wrong_v1 = sato_api.versions(yamada, &wrong).await[0]["version_id"].as_str().unwrap().to_string();
    let r = sato_api
        .post(
            &format!("/api/v1{chart}/entries/{wrong}/corrections"),
            &json!({"version_id": wrong_v1, "reason": "r", "body": {"kind": "progress_note", "text": "x"}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // Entered in error through the API, on the corrected entry.
    let r = sato_api
        .post(&format!("/api/v1{chart}/entries/{entry}/entered-in-error"), &json!({"reason": "患者違い"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["entered_in_error"], true);
    let card = article(&sato.get(&chart).await.body, &entry).to_string();
    assert!(card.contains(" in-error\"") && card.contains(P3) && card.contains("患者違い"), "{card}");
    assert_eq!(sato_api.versions(yamada, &entry).await.len(), 3, "marking adds no version");

    // The database refuses to change or remove entries and marks, whoever asks.
    let hashes: Vec<Value> =
        sato_api.versions(yamada, &entry).await.iter().map(|v| v["content_hash"].clone()).collect();
    let mut c = app.raw_conn().await;
    let upd =
        sqlx::query("UPDATE entries SET search_text = 'edited' WHERE entry_id = $1").bind(&entry).execute(&mut c).await;
    assert!(upd.is_err(), "the database must refuse UPDATE on entries");
    let del = sqlx::query("DELETE FROM entries WHERE entry_id = $1").bind(&entry).execute(&mut c).await;
    assert!(del.is_err(), "the database must refuse DELETE on entries");
    let del = sqlx::query("DELETE FROM entry_marks WHERE entry_id = $1").bind(&entry).execute(&mut c).await;
    assert!(del.is_err(), "the database must refuse taking an entered-in-error mark back");
    if app.backend() == Backend::Postgres {
        assert!(sqlx::raw_sql("TRUNCATE entries").execute(&mut c).await.is_err(), "TRUNCATE entries");
    }
    let _ = sqlx::Connection::close(c).await;
    let after: Vec<Value> = sato_api.versions(yamada, &entry).await.iter().map(|v| v["content_hash"].clone()).collect();
    assert_eq!(after, hashes);
    assert_eq!(count_rows(&app, "entries").await, rows_before + 1);
    app.finish().await;
}

//! DOMAIN.md §4: a patient outside a user's reach must look exactly like one that does
//! not exist, on every patient route, pages and API alike; both attempts are written to
//! the audit chain as refusals.

use crate::harness::*;
use std::collections::BTreeSet;
use tsunagu_domain::PatientId;
use tsunagu_domain::policy::ChartAction;
use tsunagu_store::AuditCtx;
use tsunagu_web::{Scope, route_table};

/// How a route is called, with a plausible body: `{org}` in a form value becomes the
/// asking organization's id.
enum Call {
    Get,
    Form(&'static [(&'static str, &'static str)]),
    /// A file upload (multipart, the CSRF token in the query string).
    Upload(&'static [(&'static str, &'static str)]),
    /// A JSON API write with this body.
    Json(&'static str),
    /// A JSON API upload: the PDF below as the raw body.
    RawPdf,
}

struct PatientRoute {
    method: &'static str,
    path: &'static str,
    call: Call,
}

const fn get(path: &'static str) -> PatientRoute {
    PatientRoute { method: "GET", path, call: Call::Get }
}

const fn post(path: &'static str, form: &'static [(&'static str, &'static str)]) -> PatientRoute {
    PatientRoute { method: "POST", path, call: Call::Form(form) }
}

/// Every route scoped `Patient`. Adding a patient route to the product fails
/// `every_patient_route_is_in_the_sweep` until it is listed here, and so swept.
const PATIENT_ROUTES: &[PatientRoute] = &[
    get("/patients/{patient}"),
    get("/patients/{patient}/access-log"),
    post("/patients/{patient}/team", &[("org", "{org}"), ("role", "home_physician")]),
    post("/patients/{patient}/team/{member}/end", &[("reason", "退院")]),
    post("/patients/{patient}/team/leave", &[("reason", "")]),
    post("/patients/{patient}/consent", &[("status", "withdrawn"), ("obtained_by", "小林 徹"), ("note", "")]),
    post(
        "/patients/{patient}/key-persons",
        &[("name", "山田 一郎"), ("relation", "長男"), ("phone", "0235-22-1234"), ("note", "")],
    ),
    post("/patients/{patient}/identifiers", &[("local_id", "U-0001")]),
    // The shared chart.
    get("/patients/{patient}/timeline"),
    get("/patients/{patient}/live"),
    post(
        "/patients/{patient}/entries",
        &[("kind", "progress_note"), ("subjective", "夜間の痛みが強い"), ("text", "レスキュー使用 2回")],
    ),
    PatientRoute {
        method: "POST",
        path: "/patients/{patient}/documents",
        call: Call::Upload(&[("doc_type", "referral_letter"), ("title", "紹介状")]),
    },
    get("/patients/{patient}/attachments/{attachment}"),
    get("/patients/{patient}/entries/{entry}"),
    get("/patients/{patient}/entries/{entry}/correct"),
    post(
        "/patients/{patient}/entries/{entry}/correct",
        &[("version_id", "1"), ("reason", "誤記"), ("subjective", "夜間の痛みが強い")],
    ),
    post("/patients/{patient}/entries/{entry}/error", &[("reason", "別の患者に記載")]),
    // Letters.
    get("/patients/{patient}/letters"),
    post(
        "/patients/{patient}/letters",
        &[
            ("kind", "referral"),
            ("to_org", "{org}"),
            ("purpose", "在宅緩和ケアのお願い"),
            ("diagnoses", "膵癌"),
            ("present_illness", "黄疸で発症"),
            ("action", "send"),
        ],
    ),
    get("/patients/{patient}/letters/new"),
    get("/patients/{patient}/letters/{letter}"),
    post(
        "/patients/{patient}/letters/{letter}",
        &[("kind", "referral"), ("purpose", "在宅緩和ケア"), ("action", "save")],
    ),
    post("/patients/{patient}/letters/{letter}/receive", &[]),
    post("/patients/{patient}/letters/{letter}/decline", &[("reason", "訪問範囲外")]),
    post("/patients/{patient}/letters/{letter}/discard", &[]),
    post("/patients/{patient}/letters/{letter}/reply", &[]),
    get("/patients/{patient}/letters/{letter}/pdf"),
    get("/patients/{patient}/letters/{letter}/fhir"),
    // Advance care planning and the urgent-care summary.
    get("/patients/{patient}/acp"),
    get("/patients/{patient}/urgent"),
    get("/patients/{patient}/urgent.pdf"),
    get("/patients/{patient}/symptoms"),
    post(
        "/patients/{patient}/symptoms",
        &[("instrument", "palliative-problems-staff"), ("assessed_at", "2026-11-20T10:00"), ("pain", "2")],
    ),
    post("/patients/{patient}/symptoms/{assessment}/in-error", &[("reason", "別の患者の値")]),
    // Patients and families take part.
    get("/patients/{patient}/family"),
    post(
        "/patients/{patient}/family/invitations",
        &[("invitee", "山田 花子"), ("relation", "長女"), ("valid_days", "7")],
    ),
    post("/patients/{patient}/family/invitations/{invitation}/revoke", &[]),
    post("/patients/{patient}/family/accounts/{account}/end", &[("reason", "転居")]),
    post("/patients/{patient}/family/diary/{entry}/acknowledge", &[]),
    get("/patients/{patient}/family/diary/{entry}/photo"),
    post("/patients/{patient}/family/messages", &[("body", "明日伺います")]),
    post("/patients/{patient}/family/shares", &[("attachment", "00000000-0000-4000-8000-000000000000")]),
    get("/patients/{patient}/visits"),
    post("/patients/{patient}/visits", &[("starts_at", "2026-11-25T14:00"), ("profession", "nurse"), ("note", "")]),
    post("/patients/{patient}/visits/{visit}/cancel", &[]),
    get("/patients/{patient}/labs"),
    get("/patients/{patient}/prescriptions"),
    get("/patients/{patient}/palliative-care"),
    post("/patients/{patient}/palliative-care", &[("kind", "home_visit"), ("occurred_on", "2026-11-20")]),
    post("/patients/{patient}/palliative-care/{contact}/in-error", &[("reason", "重複")]),
    get("/patients/{patient}/surveys"),
    post(
        "/patients/{patient}/surveys",
        &[("instrument", "bereaved-family-evaluation"), ("recipient", "長男"), ("valid_days", "30")],
    ),
    post("/patients/{patient}/surveys/{invitation}/revoke", &[]),
    post(
        "/patients/{patient}/acp",
        &[
            ("version", "0"),
            ("discussed_on", "2026-11-01"),
            ("patient_present", "on"),
            ("preferred_place_of_care", "home"),
            ("preferred_place_of_death", "home"),
            ("resuscitation", "dnar"),
        ],
    ),
    post("/patients/{patient}/death", &[("version", "0"), ("died_on", "2026-11-01"), ("place", "home")]),
    // From hospital to home.
    get("/patients/{patient}/transition"),
    post(
        "/patients/{patient}/transition/candidate",
        &[
            ("ward", "5階東"),
            ("stage", "ready"),
            ("reason", "帰宅希望"),
            ("barriers", ""),
            ("owner", ""),
            ("review_date", ""),
        ],
    ),
    post("/patients/{patient}/transition/case", &[("planned_discharge", "2026-12-04"), ("wishes", "自宅で")]),
    post("/patients/{patient}/transition/choose", &[("case", "x"), ("role", "home_physician"), ("org", "{org}")]),
    post("/patients/{patient}/transition/tasks/{task}", &[("action", "done")]),
    post(
        "/patients/{patient}/transition/conference",
        &[("case", "x"), ("scheduled_at", "2026-12-01T14:00"), ("place", "会議室"), ("participants", "")],
    ),
    post("/patients/{patient}/transition/sheet", &[("case", "x"), ("version", "0"), ("present", "本人")]),
    post("/patients/{patient}/transition/move", &[("case", "x"), ("event", "hold_conference")]),
    post("/patients/{patient}/transition/discharge", &[("case", "x"), ("diagnoses", "膵癌"), ("summary", "安定")]),
    get("/patients/{patient}/transition/sheet.pdf"),
    // The JSON API.
    get("/api/v1/patients/{patient}"),
    get("/api/v1/patients/{patient}/team"),
    get("/api/v1/patients/{patient}/access-log"),
    get("/api/v1/patients/{patient}/entries"),
    PatientRoute {
        method: "POST",
        path: "/api/v1/patients/{patient}/entries",
        call: Call::Json(r#"{"body":{"kind":"nursing_record","text":"清拭実施"}}"#),
    },
    PatientRoute {
        method: "POST",
        path: "/api/v1/patients/{patient}/messages",
        call: Call::Json(r#"{"text":"今夜の疼痛時の対応について"}"#),
    },
    get("/api/v1/patients/{patient}/entries/{entry}"),
    PatientRoute {
        method: "POST",
        path: "/api/v1/patients/{patient}/entries/{entry}/corrections",
        call: Call::Json(r#"{"version_id":"x","reason":"誤記","body":{"kind":"nursing_record","text":"清拭"}}"#),
    },
    PatientRoute {
        method: "POST",
        path: "/api/v1/patients/{patient}/entries/{entry}/entered-in-error",
        call: Call::Json(r#"{"reason":"別の患者に記載"}"#),
    },
    PatientRoute { method: "POST", path: "/api/v1/patients/{patient}/documents", call: Call::RawPdf },
    get("/api/v1/patients/{patient}/attachments/{attachment}"),
    get("/api/v1/patients/{patient}/letters"),
    PatientRoute {
        method: "POST",
        path: "/api/v1/patients/{patient}/letters",
        call: Call::Json(
            r#"{"kind":"referral","to_org":"00000000-0000-0000-0000-000000000001","fields":{"purpose":"在宅緩和ケア","diagnoses":"膵癌","present_illness":"黄疸"},"send":true}"#,
        ),
    },
    get("/api/v1/patients/{patient}/letters/{letter}"),
    PatientRoute {
        method: "PUT",
        path: "/api/v1/patients/{patient}/letters/{letter}",
        call: Call::Json(r#"{"fields":{"purpose":"在宅緩和ケア"},"version":1}"#),
    },
    PatientRoute { method: "POST", path: "/api/v1/patients/{patient}/letters/{letter}/send", call: Call::Json("{}") },
    PatientRoute {
        method: "POST",
        path: "/api/v1/patients/{patient}/letters/{letter}/receive",
        call: Call::Json("{}"),
    },
    PatientRoute {
        method: "POST",
        path: "/api/v1/patients/{patient}/letters/{letter}/decline",
        call: Call::Json(r#"{"reason":"訪問範囲外"}"#),
    },
    PatientRoute {
        method: "POST",
        path: "/api/v1/patients/{patient}/letters/{letter}/discard",
        call: Call::Json("{}"),
    },
    PatientRoute { method: "POST", path: "/api/v1/patients/{patient}/letters/{letter}/reply", call: Call::Json("{}") },
    get("/api/v1/patients/{patient}/letters/{letter}/pdf"),
    get("/api/v1/patients/{patient}/letters/{letter}/fhir"),
    get("/fhir/r4/Patient/{patient}"),
    PatientRoute {
        method: "PUT",
        path: "/fhir/r4/Patient/{patient}",
        call: Call::Json(
            r#"{"resourceType":"Patient","name":[{"family":"山田","given":["花子"]}],"gender":"female","birthDate":"1940-01-01"}"#,
        ),
    },
    get("/fhir/r4/Patient/{patient}/_history"),
    get("/fhir/r4/Patient/{patient}/_history/{version}"),
];

/// A tiny PDF, enough to pass a content sniffer.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

#[test]
fn every_patient_route_is_in_the_sweep() {
    let table = route_table();
    let product: BTreeSet<(&str, &str)> =
        table.iter().filter(|r| r.scope == Scope::Patient).map(|r| (r.method, r.path)).collect();
    let swept: BTreeSet<(&str, &str)> = PATIENT_ROUTES.iter().map(|r| (r.method, r.path)).collect();
    assert_eq!(swept.len(), PATIENT_ROUTES.len(), "a route is listed twice in PATIENT_ROUTES");
    let missing: Vec<_> = product.difference(&swept).collect();
    let stale: Vec<_> = swept.difference(&product).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "patient routes not in the outsider sweep: {missing:?}; listed but no longer patient routes: {stale:?}"
    );
    for r in &table {
        if r.path.contains("{patient}") {
            assert_eq!(r.scope, Scope::Patient, "{} {} reaches a patient but is not scoped Patient", r.method, r.path);
        }
    }
}

/// What the outsider saw, made comparable: the request id and the id he typed (both
/// echoed back by design) replaced by placeholders.
fn normalized(resp: &Resp, id: &PatientId, is_api: bool) -> String {
    let rid = resp.request_id();
    if is_api && resp.json()["resourceType"] == "OperationOutcome" {
        // FHIR: the request id travels in the x-request-id header only.
        resp.body.replace(&id.to_string(), "{patient}")
    } else if is_api {
        let mut v = resp.json();
        assert_eq!(v["request_id"], rid.as_str(), "the problem names its request id");
        v.as_object_mut().unwrap().remove("request_id");
        v.to_string().replace(&id.to_string(), "{patient}")
    } else {
        resp.body.replace(&rid, "{request-id}").replace(&id.to_string(), "{patient}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_cannot_tell_a_hidden_patient_from_a_missing_one() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let missing = PatientId(random_uuid());
    let umibe = app.org_of(KOBAYASHI).await.id;

    // A real member of 山田's team, as if the outsider had guessed it.
    let sato = app.principal(SATO).await;
    let g = app.store.open_chart(&sato, yamada, ChartAction::Read, "chart.read", &AuditCtx::default()).await.unwrap();
    let member = app
        .store
        .team(&g)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.org_id != sato.org)
        .expect("山田 has team members besides the owner")
        .id;

    let kobayashi = app.signin(KOBAYASHI).await;
    let token = app.token_for(KOBAYASHI).await;
    let api = app.bare_client();
    let umibe_s = umibe.to_string();

    for route in PATIENT_ROUTES {
        let is_api = route.path.starts_with("/api/") || route.path.starts_with("/fhir/");
        // Other ids in the path (entries, attachments) are guessed, the same for both.
        let guessed = random_uuid().to_string();
        let mut seen: Vec<(u16, String, String)> = Vec::new();
        for id in [&yamada, &missing] {
            let id_s = id.to_string();
            let path = fill_path(route.path, &[("patient", &id_s), ("member", &member)], &guessed);
            let what = format!("{} {path}", route.method);
            let resp = match (&route.call, is_api) {
                (Call::Get, true) => Resp::of(api.get(app.at(&path)).bearer_auth(&token).send().await.unwrap()).await,
                (Call::Get, false) => kobayashi.get(&path).await,
                (Call::Form(form), false) => {
                    let form: Vec<(&str, &str)> =
                        form.iter().map(|(k, v)| (*k, if *v == "{org}" { umibe_s.as_str() } else { *v })).collect();
                    kobayashi.post(&path, &form).await
                }
                (Call::Upload(fields), false) => {
                    kobayashi.post_multipart(&path, fields, ("shokai.pdf", "application/pdf", PDF)).await
                }
                (Call::Json(body), true) => {
                    Resp::of(
                        api.request(route.method.parse().unwrap(), app.at(&path))
                            .bearer_auth(&token)
                            .header("content-type", "application/json")
                            .body(*body)
                            .send()
                            .await
                            .unwrap(),
                    )
                    .await
                }
                (Call::RawPdf, true) => {
                    Resp::of(
                        api.post(app.at(&path))
                            .bearer_auth(&token)
                            .header("content-type", "application/pdf")
                            .body(PDF)
                            .send()
                            .await
                            .unwrap(),
                    )
                    .await
                }
                (_, _) => panic!("{what}: no way to call this route in the sweep; extend it"),
            };
            assert_eq!(resp.status, 404, "{what} as the outsider:\n{}", resp.body);
            assert!(!resp.body.contains("山田") && !resp.body.contains("ヤマダ"), "{what} shows the patient");
            resp.assert_no_leak(&what);

            // Both attempts are refusals in the audit chain, for the id asked about.
            let rows = app.audit_of_request(&resp.request_id()).await;
            assert!(
                rows.iter().any(|a| a.outcome == "refused"
                    && a.patient_id.as_deref() == Some(id_s.as_str())
                    && a.actor_org.as_deref() == Some(umibe_s.as_str())),
                "{what}: no refusal recorded; rows of the request: {rows:?}"
            );
            assert!(rows.iter().all(|a| a.outcome != "allowed"), "{what}: something was allowed: {rows:?}");
            seen.push((resp.status, resp.header("content-type"), normalized(&resp, id, is_api)));
        }
        assert_eq!(
            seen[0], seen[1],
            "{} {}: the hidden patient and the missing one answer differently",
            route.method, route.path
        );
    }

    // The 404s are not "everything is 404": a team member reaches every read route.
    let suzuki = app.signin(SUZUKI).await;
    let suzuki_token = app.token_for(SUZUKI).await;
    // (Routes that name an entry or attachment too need real ones, and the conference
    // sheet needs a conference; not in this sweep.)
    for route in PATIENT_ROUTES
        .iter()
        .filter(|r| r.method == "GET" && r.path.matches('{').count() == 1 && !r.path.ends_with("sheet.pdf"))
    {
        let path = route.path.replace("{patient}", &yamada.to_string());
        let resp = if path.starts_with("/api/") || path.starts_with("/fhir/") {
            Resp::of(api.get(app.at(&path)).bearer_auth(&suzuki_token).send().await.unwrap()).await
        } else {
            suzuki.get(&path).await
        };
        assert_eq!(resp.status, 200, "GET {path} as a team member");
        match route.path {
            "/patients/{patient}" => assert!(resp.body.contains("山田"), "{path}"),
            "/api/v1/patients/{patient}" => {
                assert_eq!(resp.json()["patient"]["family_name"], "山田", "{path}")
            }
            "/api/v1/patients/{patient}/team" => assert!(resp.json()["team"].as_array().unwrap().len() >= 2, "{path}"),
            _ => {}
        }
    }
    app.finish().await;
}

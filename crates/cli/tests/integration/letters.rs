//! Referral letters (issue #4, DOMAIN.md §4-§5): sending a letter opens the chart to its
//! recipient; required fields are named when missing; the PDF is real Japanese text
//! filed on the chart; the FHIR document passes an independent validator; receipt,
//! decline and reply move the letter through its states; a sent letter never changes.

use crate::harness::*;
use serde_json::{Value, json};
use std::process::Command;
use tsunagu_domain::PatientId;

/// A complete referral from the hospital to 海辺クリニック (never on any demo team).
fn referral(to_org: &str) -> Value {
    json!({
        "kind": "referral",
        "to_org": to_org,
        "to_person": "小林 徹 先生",
        "role": "home_physician",
        "fields": {
            "purpose": "在宅での緩和ケア継続のお願い",
            "diagnoses": "膵癌（肝転移）\n糖尿病",
            "present_illness": "2026年8月に閉塞性黄疸で発症。化学療法は本人の希望で中止。",
            "allergies": "ロキソプロフェン（蕁麻疹）",
            "medications": "オキシコドン徐放錠 10mg 1日2回\nマグミット 330mg 1日3回",
            "care_policy": "自宅での看取りを希望。"
        }
    })
}

struct Api {
    client: reqwest::Client,
    token: String,
}

impl Api {
    async fn of(app: &TestApp, email: &str) -> Api {
        Api { client: app.bare_client(), token: app.token_for(email).await }
    }
    async fn call(&self, app: &TestApp, method: &str, path: &str, body: Option<Value>, lang: &str) -> Resp {
        let mut req = self
            .client
            .request(method.parse().unwrap(), app.at(path))
            .bearer_auth(&self.token)
            .header("accept-language", lang);
        if let Some(b) = body {
            req = req.json(&b);
        }
        Resp::of(req.send().await.unwrap()).await
    }
    async fn get(&self, app: &TestApp, path: &str) -> Resp {
        self.call(app, "GET", path, None, "ja").await
    }
    async fn post(&self, app: &TestApp, path: &str, body: Value) -> Resp {
        self.call(app, "POST", path, Some(body), "ja").await
    }
}

async fn audit_actions(app: &TestApp, patient: PatientId) -> Vec<(i64, String, String, String, String)> {
    let mut c = app.raw_conn().await;
    sqlx::query_as::<_, (i64, String, String, String, String)>(
        "SELECT seq, action, outcome, target, COALESCE(actor_org, '') FROM audit WHERE patient_id = $1 ORDER BY seq",
    )
    .bind(patient.to_string())
    .fetch_all(&mut c)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_a_referral_opens_the_chart_to_its_recipient_from_that_moment() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let umibe = app.org_of(KOBAYASHI).await.id.to_string();
    let sato = Api::of(&app, SATO).await;
    let kobayashi = Api::of(&app, KOBAYASHI).await;
    let chart = format!("/api/v1/patients/{yamada}");

    // Before: the clinic cannot open the chart, and a draft changes nothing.
    assert_eq!(kobayashi.get(&app, &chart).await.status, 404);
    let r = sato.post(&app, &format!("{chart}/letters"), referral(&umibe)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let letter = r.json()["letter"].clone();
    let id = letter["id"].as_str().unwrap().to_string();
    assert_eq!(letter["state"], "draft");
    assert_eq!(letter["content"]["body"]["purpose"], "在宅での緩和ケア継続のお願い");
    // The medication list of the chart is offered to a new letter (the page form).
    let before = kobayashi.get(&app, &chart).await;
    assert_eq!(before.status, 404, "a draft does not share the chart");
    assert_eq!(kobayashi.get(&app, &format!("{chart}/letters/{id}")).await.status, 404);

    // Send: the clinic joins the team as home physician, effective now.
    let r = sato.post(&app, &format!("{chart}/letters/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["joined_team"], true);
    assert_eq!(r.json()["letter"]["state"], "sent");
    let after = kobayashi.get(&app, &chart).await;
    assert_eq!(after.status, 200, "{}", after.body);
    let member = after.json()["team"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["org_id"] == umibe.as_str() && m["ended_at"].is_null())
        .cloned()
        .expect("the clinic is on the team");
    assert_eq!(member["role"], "home_physician");

    // Both moments are in the audit chain, in order: refused before, the send and the
    // team change in one step, allowed after.
    let rows = audit_actions(&app, yamada).await;
    let refused = rows.iter().find(|r| r.1 == "chart.read" && r.2 == "refused" && r.4 == umibe).expect("refusal");
    let sent = rows.iter().find(|r| r.1 == "letter.send" && r.3 == id).expect("letter.send");
    let joined = rows.iter().find(|r| r.1 == "team.add" && r.3 == umibe).expect("team.add");
    let allowed = rows.iter().find(|r| r.1 == "chart.read" && r.2 == "allowed" && r.4 == umibe).expect("allowed read");
    assert!(refused.0 < joined.0 && joined.0 < sent.0 && sent.0 < allowed.0, "{rows:?}");

    // The recipient sees the letter with an alert until someone there acknowledges it.
    let clinic = app.signin(KOBAYASHI).await;
    let badge = clinic.get("/letters/badge").await;
    assert!(badge.body.contains(">1<"), "{}", badge.body);
    let r = kobayashi.get(&app, "/api/v1/letters").await;
    assert_eq!(r.json()["incoming"][0]["id"], id.as_str());
    assert_eq!(r.json()["incoming"][0]["family_name"], "山田");
    let r = kobayashi.post(&app, &format!("{chart}/letters/{id}/receive"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["letter"]["state"], "received");
    assert_eq!(clinic.get("/letters/badge").await.body, "");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letter_without_purpose_diagnosis_or_present_illness_is_not_sent_and_the_field_is_named() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let umibe = app.org_of(KOBAYASHI).await.id.to_string();
    let sato = Api::of(&app, SATO).await;
    let chart = format!("/api/v1/patients/{yamada}");
    let letters_before = sato.get(&app, &format!("{chart}/letters")).await.json()["letters"].as_array().unwrap().len();

    for (field, key) in [
        ("purpose", "err-letter-purpose-required"),
        ("diagnoses", "err-letter-diagnoses-required"),
        ("present_illness", "err-letter-present-illness-required"),
    ] {
        let mut body = referral(&umibe);
        body["fields"][field] = json!("  ");
        body["send"] = json!(true);
        for lang in ["ja", "en"] {
            let r = sato.call(&app, "POST", &format!("{chart}/letters"), Some(body.clone()), lang).await;
            assert_eq!(r.status, 422, "{field} {lang}: {}", r.body);
            assert_eq!(r.header("content-type"), "application/problem+json");
            let errors = r.json()["errors"].as_array().unwrap().clone();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0]["field"], field);
            assert_eq!(errors[0]["message"], msg(lang, key).as_str());
        }
    }
    // The messages name the field in both languages.
    assert!(msg("ja", "err-letter-purpose-required").contains("紹介目的"));
    assert!(msg("en", "err-letter-purpose-required").contains("purpose of referral"));
    assert!(msg("ja", "err-letter-present-illness-required").contains("現病歴"));
    assert!(msg("en", "err-letter-diagnoses-required").contains("diagnoses"));
    // Nothing was saved.
    let letters_after = sato.get(&app, &format!("{chart}/letters")).await.json()["letters"].as_array().unwrap().len();
    assert_eq!(letters_before, letters_after);

    // A draft may lack them; sending it is refused and it stays a draft.
    let mut body = referral(&umibe);
    body["fields"]["present_illness"] = json!("");
    let id =
        sato.post(&app, &format!("{chart}/letters"), body).await.json()["letter"]["id"].as_str().unwrap().to_string();
    let r = sato.post(&app, &format!("{chart}/letters/{id}/send"), json!({})).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["field"], "present_illness");
    assert_eq!(sato.get(&app, &format!("{chart}/letters/{id}")).await.json()["letter"]["state"], "draft");
    let kobayashi = Api::of(&app, KOBAYASHI).await;
    assert_eq!(kobayashi.get(&app, &chart).await.status, 404, "a refused send shares nothing");

    // The page: the same refusal in the user's language, what was typed kept, nothing saved.
    let hospital = app.signin(SATO).await;
    let page = hospital
        .post(
            &format!("/patients/{yamada}/letters"),
            &[
                ("kind", "referral"),
                ("to_org", &umibe),
                ("purpose", ""),
                ("diagnoses", "膵癌"),
                ("present_illness", "黄疸で発症"),
                ("action", "send"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains(&msg("ja", "err-letter-purpose-required")), "{}", page.body);
    assert!(page.body.contains("黄疸で発症"), "what was typed is shown again");
    let count = sato.get(&app, &format!("{chart}/letters")).await.json()["letters"].as_array().unwrap().len();
    assert_eq!(count, letters_after + 1, "only the API draft above exists");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sent_letter_is_a_japanese_pdf_filed_on_the_chart() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let umibe = app.org_of(KOBAYASHI).await.id.to_string();
    let sato = Api::of(&app, SATO).await;
    let chart = format!("/api/v1/patients/{yamada}");
    let mut body = referral(&umibe);
    body["send"] = json!(true);
    let r = sato.post(&app, &format!("{chart}/letters"), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let letter = r.json()["letter"].clone();
    let id = letter["id"].as_str().unwrap();
    let doc_entry = letter["document_entry_id"].as_str().expect("the PDF is filed on the chart").to_string();

    // The chart document holds the PDF.
    let versions = sato.get(&app, &format!("{chart}/entries/{doc_entry}")).await.json();
    let doc = &versions["versions"][0]["body"];
    assert_eq!(doc["kind"], "document");
    assert_eq!(doc["doc_type"], "referral_letter");
    let att = doc["attachments"][0]["id"].as_str().unwrap();
    let file =
        sato.client.get(app.at(&format!("{chart}/attachments/{att}"))).bearer_auth(&sato.token).send().await.unwrap();
    assert_eq!(file.headers()["content-type"], "application/pdf");
    let bytes = file.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let text = pdftotext(&bytes);
    for expected in ["診療情報提供書", "山田", "花子", "在宅での緩和ケア継続のお願い", "海辺クリニック", "オキシコドン"]
    {
        assert!(text.contains(expected), "the PDF lacks {expected}:\n{text}");
    }

    // The same letter on demand, for the recipient too.
    let kobayashi = Api::of(&app, KOBAYASHI).await;
    let r = kobayashi
        .client
        .get(app.at(&format!("{chart}/letters/{id}/pdf")))
        .bearer_auth(&kobayashi.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(pdftotext(&r.bytes().await.unwrap()).contains("現病歴"));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fhir_document_passes_an_independent_validator_and_carries_the_sections() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let umibe = app.org_of(KOBAYASHI).await.id.to_string();
    let sato = Api::of(&app, SATO).await;
    let chart = format!("/api/v1/patients/{yamada}");

    // Attach the chart's discharge summary, if the demo chart has one; else upload one.
    let docs = sato.get(&app, &format!("{chart}/entries?kind=document&limit=100")).await.json();
    let summary = docs["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["body"]["doc_type"] == "discharge_summary")
        .map(|e| e["entry_id"].as_str().unwrap().to_string());
    let summary = match summary {
        Some(s) => s,
        None => {
            let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec();
            let r = sato
                .client
                .post(app.at(&format!("{chart}/documents?doc_type=discharge_summary&title=退院時サマリー")))
                .bearer_auth(&sato.token)
                .header("content-type", "application/pdf")
                .body(pdf)
                .send()
                .await
                .unwrap();
            let r = Resp::of(r).await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.json()["entry_id"].as_str().unwrap().to_string()
        }
    };
    let mut body = referral(&umibe);
    body["attachments"] = json!([summary]);
    body["send"] = json!(true);
    let r = sato.post(&app, &format!("{chart}/letters"), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["letter"]["id"].as_str().unwrap().to_string();

    let r = sato.get(&app, &format!("{chart}/letters/{id}/fhir")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").starts_with("application/fhir+json"));
    let bundle = r.json();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "document");
    let composition = &bundle["entry"][0]["resource"];
    assert_eq!(composition["resourceType"], "Composition");
    assert_eq!(composition["type"]["coding"][0]["code"], "57133-1");
    let codes = |sections: &Value| -> Vec<String> {
        sections
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["code"]["coding"][0]["code"].as_str().unwrap().to_string())
            .collect()
    };
    let top = codes(&composition["section"]);
    for c in ["910", "920", "300"] {
        assert!(top.contains(&c.to_string()), "section {c} missing: {top:?}");
    }
    let structured =
        composition["section"].as_array().unwrap().iter().find(|s| s["code"]["coding"][0]["code"] == "300").unwrap();
    let inner = codes(&structured["section"]);
    for c in ["950", "340", "360", "510", "430", "420"] {
        assert!(inner.contains(&c.to_string()), "sub-section {c} missing: {inner:?}");
    }
    // The discharge summary travels as a DocumentReference typed LOINC 18842-5.
    let doc_ref = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "DocumentReference")
        .expect("the attachment is in the bundle");
    assert_eq!(doc_ref["type"]["coding"][0]["code"], "18842-5");
    // A JP Core patient: the kana name is told apart from the kanji one.
    let patient = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Patient")
        .unwrap();
    assert!(patient["name"].to_string().contains("ヤマダ"), "{}", patient["name"]);

    // The independent oracle (PyPI fhir.resources), prepared by scripts/test.
    let validator = std::env::var("TSUNAGU_FHIR_VALIDATOR")
        .expect("TSUNAGU_FHIR_VALIDATOR is not set: run the suite through scripts/test, which installs fhir.resources");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, r.body.as_bytes()).unwrap();
    let mut parts = validator.split_whitespace();
    let out = Command::new(parts.next().unwrap()).args(parts).arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "the validator refused the bundle:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A draft is not a document yet.
    let draft = sato.post(&app, &format!("{chart}/letters"), referral(&umibe)).await.json()["letter"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(sato.get(&app, &format!("{chart}/letters/{draft}/fhir")).await.status, 409);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recipient_replies_or_declines_and_a_sent_letter_never_changes() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let umibe = app.org_of(KOBAYASHI).await.id.to_string();
    let sato = Api::of(&app, SATO).await;
    let kobayashi = Api::of(&app, KOBAYASHI).await;
    let chart = format!("/api/v1/patients/{yamada}");
    let mut body = referral(&umibe);
    body["send"] = json!(true);
    let id = sato.post(&app, &format!("{chart}/letters"), body.clone()).await.json()["letter"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The writer cannot acknowledge its own letter; nobody edits a sent one.
    let r = sato.post(&app, &format!("{chart}/letters/{id}/receive"), json!({})).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let mut edit = referral(&umibe);
    edit["fields"]["purpose"] = json!("書き換え");
    let r = sato.call(&app, "PUT", &format!("{chart}/letters/{id}"), Some(edit), "ja").await;
    assert_eq!(r.status, 409, "{}", r.body);
    // Not even around the application: the database refuses.
    let mut c = app.raw_conn().await;
    let changed =
        sqlx::query("UPDATE letter_versions SET content = '{}' WHERE letter_id = $1").bind(&id).execute(&mut c).await;
    assert!(changed.is_err(), "letter versions are append-only");
    assert!(sqlx::query("DELETE FROM letters WHERE id = $1").bind(&id).execute(&mut c).await.is_err());

    // The reply: a draft pre-filled and addressed to the writer, sent back.
    let r = kobayashi.post(&app, &format!("{chart}/letters/{id}/reply"), json!({})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let reply = r.json()["letter"].clone();
    let reply_id = reply["id"].as_str().unwrap().to_string();
    assert_eq!(reply["kind"], "reply");
    assert_eq!(reply["in_reply_to"], id.as_str());
    assert_eq!(reply["to_org_id"], app.org_of(SATO).await.id.to_string());
    assert_eq!(reply["content"]["body"]["diagnoses"], "膵癌（肝転移）\n糖尿病");
    // Sending an empty reply is refused with the field named.
    let r = kobayashi.post(&app, &format!("{chart}/letters/{reply_id}/send"), json!({})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["errors"][0]["field"], "body");
    let r = kobayashi
        .call(
            &app,
            "PUT",
            &format!("{chart}/letters/{reply_id}"),
            Some(json!({"fields": {"body": "ご紹介ありがとうございました。11月25日に初回訪問しました。", "diagnoses": "膵癌"}, "version": 1})),
            "ja",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = kobayashi.post(&app, &format!("{chart}/letters/{reply_id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["joined_team"], false, "the hospital owns the chart already");
    let original = sato.get(&app, &format!("{chart}/letters/{id}")).await.json()["letter"].clone();
    assert_eq!(original["state"], "replied");
    assert_eq!(original["replies"][0], reply_id.as_str());
    // A letter is answered once.
    assert_eq!(kobayashi.post(&app, &format!("{chart}/letters/{id}/reply"), json!({})).await.status, 409);

    // Declining a second letter keeps what was shared; the decliner may then leave.
    let second =
        sato.post(&app, &format!("{chart}/letters"), body).await.json()["letter"]["id"].as_str().unwrap().to_string();
    let r = kobayashi.post(&app, &format!("{chart}/letters/{second}/decline"), json!({"reason": ""})).await;
    assert_eq!(r.status, 422, "a reason is required");
    let r =
        kobayashi.post(&app, &format!("{chart}/letters/{second}/decline"), json!({"reason": "訪問範囲外のため"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["letter"]["state"], "declined");
    assert_eq!(kobayashi.get(&app, &chart).await.status, 200, "declining does not unshare");
    let clinic = app.signin(KOBAYASHI).await;
    let r = clinic.post(&format!("/patients/{yamada}/team/leave"), &[("reason", "訪問範囲外")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(kobayashi.get(&app, &chart).await.status, 404, "after leaving the chart is closed");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_are_the_writers_own_and_instructions_bring_the_nurses_in() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let umibe = app.org_of(KOBAYASHI).await.id.to_string();
    let sato = Api::of(&app, SATO).await;
    let suzuki = Api::of(&app, SUZUKI).await;
    let chart = format!("/api/v1/patients/{yamada}");

    // Another team member does not see the hospital's draft.
    let draft = sato.post(&app, &format!("{chart}/letters"), referral(&umibe)).await.json()["letter"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(suzuki.get(&app, &format!("{chart}/letters/{draft}")).await.status, 404);
    let listed = suzuki.get(&app, &format!("{chart}/letters")).await.json();
    assert!(listed["letters"].as_array().unwrap().iter().all(|l| l["id"] != draft.as_str()));
    // ...and cannot send, edit or discard it.
    assert_eq!(suzuki.post(&app, &format!("{chart}/letters/{draft}/send"), json!({})).await.status, 404);
    assert_eq!(suzuki.post(&app, &format!("{chart}/letters/{draft}/discard"), json!({})).await.status, 404);
    // Discarded by its writer, it leaves the list but stays in the database.
    assert_eq!(sato.post(&app, &format!("{chart}/letters/{draft}/discard"), json!({})).await.status, 200);
    assert!(
        sato.get(&app, &format!("{chart}/letters")).await.json()["letters"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["id"] != draft.as_str())
    );

    // A home physician (a team member, not the owner) instructs a visiting-nurse station
    // that is not yet on the team; the period is checked.
    let station = app.org_of(TAKAHASHI).await.id.to_string();
    let new_station = app.org_of(KOBAYASHI).await.id.to_string();
    assert_ne!(station, new_station);
    let mut instr = json!({
        "kind": "nursing_instruction",
        "to_org": new_station,
        "role": "visiting_nurse",
        "fields": {
            "period_from": "2026-12-01", "period_to": "2027-07-01",
            "diagnoses": "膵癌", "instructions": "疼痛評価とレスキューの記録", "emergency_contact": "みどり内科 0235-22-1234"
        },
        "send": true
    });
    let r = suzuki.post(&app, &format!("{chart}/letters"), instr.clone()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["message"], msg("ja", "err-letter-period-too-long").as_str());
    instr["fields"]["period_to"] = json!("2027-05-31");
    let r = suzuki.post(&app, &format!("{chart}/letters"), instr).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["letter"]["state"], "sent");
    let team = sato.get(&app, &format!("{chart}/team")).await.json();
    assert!(
        team["team"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["org_id"] == new_station.as_str() && m["role"] == "visiting_nurse" && m["ended_at"].is_null())
    );

    // Without consent to regional sharing nothing is sent.
    let hospital = app.signin(SATO).await;
    let r = hospital
        .post(&format!("/patients/{yamada}/consent"), &[("status", "withdrawn"), ("obtained_by", "本人"), ("note", "")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mut body = referral(&umibe);
    body["send"] = json!(true);
    let r = sato.post(&app, &format!("{chart}/letters"), body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["message"], msg("ja", "err-letter-consent").as_str());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_referral_is_filled_from_the_chart() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let umibe = app.org_of(KOBAYASHI).await.id.to_string();
    let hospital = app.signin(SATO).await;

    // The form offers the chart's medication list and its recent vital signs.
    let form = hospital.get(&format!("/patients/{yamada}/letters/new?kind=referral")).await;
    assert_eq!(form.status, 200);
    let meds = form.body.split("id=\"f-medications\"").nth(1).unwrap().split("</textarea>").next().unwrap().to_string();
    assert!(meds.contains("オキシコンチン"), "the medication list is not pre-filled: {meds}");
    let picks: Vec<String> =
        form.body.split("name=\"lab_pick\" value=\"").skip(1).map(|s| unescape(s.split('"').next().unwrap())).collect();
    let vitals = picks.iter().find(|p| p.contains("SpO2")).expect("recent vital signs are offered").clone();

    // Picked findings go into the lab results, once.
    let r = hospital
        .post(
            &format!("/patients/{yamada}/letters"),
            &[
                ("kind", "referral"),
                ("to_org", &umibe),
                ("purpose", "在宅緩和ケア"),
                ("lab_results", "T-Bil 2.1"),
                ("lab_pick", &vitals),
                ("lab_pick", &vitals),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let id = r.location().rsplit('/').next().unwrap().to_string();
    let api = Api::of(&app, SATO).await;
    let letter = api.get(&app, &format!("/api/v1/patients/{yamada}/letters/{id}")).await.json();
    assert_eq!(letter["letter"]["content"]["body"]["lab_results"], format!("T-Bil 2.1\n{vitals}"));
    assert_eq!(letter["letter"]["state"], "draft");
    app.finish().await;
}

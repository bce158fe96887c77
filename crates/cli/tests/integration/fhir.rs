//! The FHIR R4 API (issue #7): a third-party client, the outsider rule on read, search,
//! `_include` and `$export`, version-aware writes and all-or-nothing transactions, and
//! errors as OperationOutcomes.

use crate::harness::*;
use serde_json::{Value, json};
use sqlx::Row;
use tsunagu_domain::PatientId;
use tsunagu_domain::policy::ChartAction;
use tsunagu_store::{AuditCtx, LabFile, LabResultIn, PrescriptionFile, PrescriptionIn};

const PATIENT_ID_OID: &str = "urn:oid:1.2.392.100495.20.3.51.1";

async fn get(app: &TestApp, token: &str, path: &str) -> Resp {
    Resp::of(app.bare_client().get(app.at(path)).bearer_auth(token).send().await.unwrap()).await
}

async fn send(app: &TestApp, token: &str, method: &str, path: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
    let mut r = app
        .bare_client()
        .request(method.parse().unwrap(), app.at(path))
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(body.to_string());
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    Resp::of(r.send().await.unwrap()).await
}

fn ids_in(bundle: &Value, resource_type: &str) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["resource"]["resourceType"] == resource_type)
                .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn versions_of(app: &TestApp, pid: &str) -> i64 {
    let mut c = app.raw_conn().await;
    sqlx::query("SELECT COUNT(*) AS n FROM patient_versions WHERE patient_id = $1")
        .bind(pid)
        .fetch_one(&mut c)
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
}

async fn table_count(app: &TestApp, table: &str) -> i64 {
    let mut c = app.raw_conn().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
        .fetch_one(&mut c)
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
}

/// Give 山田 a local id at the hospital and two lab results from it.
async fn yamada_with_labs(app: &TestApp) -> (PatientId, String) {
    let yamada = app.patient_id("ヤマダ").await;
    let sato = app.principal(SATO).await;
    let g =
        app.store.open_chart(&sato, yamada, ChartAction::Write, "identifier.add", &AuditCtx::default()).await.unwrap();
    app.store.add_identifier(&g, "H-7001", &AuditCtx::default()).await.unwrap();
    let at = |d: u8| time::macros::datetime!(2026-11-01 09:00 +09:00).replace_day(d).unwrap();
    let results = vec![
        LabResultIn {
            code: "3D010000001926101".into(),
            code_system: "JC10".into(),
            name: "アルブミン".into(),
            value_num: Some(2.9),
            value_text: "2.9".into(),
            unit: "g/dL".into(),
            reference_range: "3.8-5.2".into(),
            abnormal: "L".into(),
            observed_at: at(2),
        },
        LabResultIn {
            code: "3C025000002327101".into(),
            code_system: "JC10".into(),
            name: "クレアチニン".into(),
            value_num: Some(0.8),
            value_text: "0.8".into(),
            unit: "mg/dL".into(),
            reference_range: "0.46-0.79".into(),
            abnormal: "H".into(),
            observed_at: at(20),
        },
    ];
    let hospital = app.org_of(SATO).await;
    let sha = "ab".repeat(32);
    let f = LabFile { org: hospital.id, local_patient_id: "H-7001", sha256: &sha, path: "x", results: &results };
    app.store.import_lab_file(&f, &AuditCtx::default()).await.unwrap();
    let rx = PrescriptionIn {
        order_control: "NW".into(),
        order_number: "O-1".into(),
        rp_number: "1".into(),
        drug_code: "105271807".into(),
        drug_code_system: "HOT".into(),
        drug_alt_code: String::new(),
        drug_alt_code_system: String::new(),
        drug_name: "オキシコドン徐放錠5mg".into(),
        dose: "1".into(),
        dose_unit: "錠".into(),
        daily_dose: "2".into(),
        daily_dose_unit: "錠".into(),
        dosage_form: "錠剤".into(),
        route: "経口".into(),
        timing_code: String::new(),
        timing_text: "1日2回 朝夕食後".into(),
        instructions: String::new(),
        days: Some(14),
        total_occurrences: None,
        dispense_amount: "28".into(),
        dispense_unit: "錠".into(),
        prescribed_at: at(20),
        start_date: None,
        end_date: None,
        prescriber_id: String::new(),
        prescriber_name: "佐藤 健一".into(),
        department: "緩和ケア内科".into(),
        ordering_facility: String::new(),
        ordering_facility_code: String::new(),
        source_segment: 1,
    };
    let rx_sha = "cd".repeat(32);
    let pf = PrescriptionFile {
        org: hospital.id,
        local_patient_id: "H-7001",
        sha256: &rx_sha,
        path: "y",
        prescriptions: &[rx],
    };
    app.store.import_prescription_file(&pf, &AuditCtx::default()).await.unwrap();
    (yamada, hospital.code.expect("the hospital has an institution code"))
}

/// Parse JSON files with the R4 models of fhir.resources (installed by scripts/test).
async fn check_with_r4_models(files: &[String]) {
    let client = std::env::var("TSUNAGU_FHIR_CLIENT")
        .expect("TSUNAGU_FHIR_CLIENT is not set: run the suite through scripts/test, which installs fhir.resources");
    let mut words = client.split_whitespace();
    let out = tokio::process::Command::new(words.next().unwrap())
        .args(words)
        .arg("--check")
        .args(files)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "R4 models refused: {}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_client_creates_finds_and_reads_the_history_of_a_jp_core_patient() {
    let app = TestApp::start().await;
    let client = std::env::var("TSUNAGU_FHIR_CLIENT")
        .expect("TSUNAGU_FHIR_CLIENT is not set: run the suite through scripts/test, which installs fhirclient");
    let token = app.token_for(SATO).await;
    let code = app.org_of(SATO).await.code.unwrap();
    let mut words = client.split_whitespace();
    let out = tokio::process::Command::new(words.next().unwrap())
        .args(words)
        .args([&app.at("/fhir/r4"), &token, &code, "F-2026-0042"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "the FHIR client failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let pid = stdout.trim().strip_prefix("ok ").expect("ok <id>").to_string();

    // What the client did is in the registry and the audit chain: two versions, the
    // institution number as the hospital's local id, each read recorded.
    assert_eq!(versions_of(&app, &pid).await, 2);
    let mut c = app.raw_conn().await;
    let local: String = sqlx::query("SELECT local_id FROM patient_identifiers WHERE patient_id = $1")
        .bind(&pid)
        .fetch_one(&mut c)
        .await
        .unwrap()
        .try_get("local_id")
        .unwrap();
    assert_eq!(local, "F-2026-0042");
    let actions: Vec<String> = sqlx::query("SELECT action FROM audit WHERE patient_id = $1 ORDER BY seq")
        .bind(&pid)
        .fetch_all(&mut c)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("action").unwrap())
        .collect();
    for a in ["patient.register", "fhir.patient.read", "patient.update", "fhir.patient.history", "fhir.patient.vread"] {
        assert!(actions.iter().any(|x| x == a), "{a} missing from {actions:?}");
    }
    drop(c);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_token_finds_a_hidden_patient_nowhere_read_search_include_or_export() {
    let app = TestApp::start().await;
    let (yamada, code) = yamada_with_labs(&app).await;
    let missing = PatientId(random_uuid());
    let outsider = app.token_for(KOBAYASHI).await;
    let member = app.token_for(SUZUKI).await;

    // Read, vread, history: the hidden patient and a missing one answer alike.
    for suffix in ["", "/_history", "/_history/1"] {
        let mut seen = Vec::new();
        for id in [yamada, missing] {
            let r = get(&app, &outsider, &format!("/fhir/r4/Patient/{id}{suffix}")).await;
            assert_eq!(r.status, 404, "{suffix}: {}", r.body);
            assert!(r.header("content-type").starts_with("application/fhir+json"));
            assert_eq!(r.json()["resourceType"], "OperationOutcome");
            assert!(!r.body.contains("山田"));
            seen.push(r.body.replace(&id.to_string(), "{id}"));
        }
        assert_eq!(seen[0], seen[1], "Patient/{{id}}{suffix}: hidden and missing differ");
    }

    // Search by id, identifier and kana: absent for the outsider, found by a member.
    let searches = [
        format!("/fhir/r4/Patient?_id={yamada}"),
        format!("/fhir/r4/Patient?identifier={}|H-7001", urlencode(&format!("{PATIENT_ID_OID}{code}"))),
        format!("/fhir/r4/Patient?name={}", urlencode("やまだ")),
    ];
    for s in &searches {
        let r = get(&app, &outsider, s).await;
        assert_eq!(r.status, 200, "{s}: {}", r.body);
        assert!(!ids_in(&r.json(), "Patient").contains(&yamada.to_string()), "{s} shows 山田 to an outsider");
        let r = get(&app, &member, s).await;
        assert_eq!(ids_in(&r.json(), "Patient"), vec![yamada.to_string()], "{s} as a team member");
    }

    // Observations and `_include`: nothing of 山田 for the outsider, the same as for a
    // missing patient; the member gets both results and the included patient.
    let obs = |id: PatientId| format!("/fhir/r4/Observation?patient={id}&_include=Observation:patient");
    let hidden = get(&app, &outsider, &obs(yamada)).await;
    let absent = get(&app, &outsider, &obs(missing)).await;
    assert_eq!(hidden.status, 200);
    assert_eq!(hidden.json()["total"], 0);
    assert!(ids_in(&hidden.json(), "Patient").is_empty());
    assert_eq!(hidden.json()["total"], absent.json()["total"]);
    assert_eq!(hidden.json().get("entry"), absent.json().get("entry"));
    let seen = get(&app, &member, &obs(yamada)).await.json();
    assert_eq!(seen["total"], 2);
    assert_eq!(ids_in(&seen, "Patient"), vec![yamada.to_string()]);
    let newest = &seen["entry"][0]["resource"];
    assert_eq!(newest["code"]["text"], "クレアチニン", "newest first");
    assert_eq!(newest["valueQuantity"]["value"], 0.8);
    assert_eq!(newest["interpretation"][0]["coding"][0]["code"], "H");
    let obs_id = newest["id"].as_str().unwrap().to_string();
    assert_eq!(get(&app, &member, &format!("/fhir/r4/Observation/{obs_id}")).await.status, 200);
    let r = get(&app, &outsider, &format!("/fhir/r4/Observation/{obs_id}")).await;
    let m_id = random_uuid().to_string();
    let m = get(&app, &outsider, &format!("/fhir/r4/Observation/{m_id}")).await;
    assert_eq!((r.status, m.status), (404, 404));
    assert_eq!(r.body.replace(&obs_id, "{id}"), m.body.replace(&m_id, "{id}"));

    // Prescriptions, the same way.
    let meds = |id: PatientId| format!("/fhir/r4/MedicationRequest?patient={id}&_include=MedicationRequest:patient");
    let hidden = get(&app, &outsider, &meds(yamada)).await.json();
    let absent = get(&app, &outsider, &meds(missing)).await.json();
    assert_eq!((hidden["total"].clone(), hidden.get("entry")), (absent["total"].clone(), absent.get("entry")));
    assert_eq!(hidden["total"], 0);
    let seen = get(&app, &member, &meds(yamada)).await.json();
    assert_eq!(seen["total"], 1, "{seen}");
    let mr = &seen["entry"][0]["resource"];
    assert_eq!(mr["medicationCodeableConcept"]["text"], "オキシコドン徐放錠5mg");
    assert_eq!(mr["status"], "active");
    assert_eq!(mr["dispenseRequest"]["expectedSupplyDuration"]["value"], 14);
    assert_eq!(ids_in(&seen, "Patient"), vec![yamada.to_string()]);
    let mr_id = mr["id"].as_str().unwrap().to_string();
    let read = get(&app, &member, &format!("/fhir/r4/MedicationRequest/{mr_id}")).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.json()["medicationCodeableConcept"]["text"], "オキシコドン徐放錠5mg");
    assert_eq!(get(&app, &outsider, &format!("/fhir/r4/MedicationRequest/{mr_id}")).await.status, 404);

    // What the member was sent passes the independent R4 models (fhir.resources).
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, v) in
        [("observations.json", get(&app, &member, &obs(yamada)).await.json()), ("medications.json", seen.clone())]
    {
        let path = dir.path().join(name);
        std::fs::write(&path, v.to_string()).unwrap();
        files.push(path.to_str().unwrap().to_string());
    }
    check_with_r4_models(&files).await;

    // $export: the outsider's files never hold 山田; the member's do.
    for (token, expect) in [(&outsider, false), (&member, true)] {
        let kick = app
            .bare_client()
            .get(app.at("/fhir/r4/Patient/$export"))
            .bearer_auth(token)
            .header("prefer", "respond-async")
            .send()
            .await
            .unwrap();
        assert_eq!(kick.status(), 202);
        let status_url = kick.headers()["content-location"].to_str().unwrap().to_string();
        let manifest: Value =
            app.bare_client().get(&status_url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        let mut all = String::new();
        for o in manifest["output"].as_array().unwrap() {
            let body = app
                .bare_client()
                .get(o["url"].as_str().unwrap())
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            for line in body.lines() {
                let v: Value = serde_json::from_str(line).expect("NDJSON: one resource per line");
                assert_eq!(v["resourceType"], o["type"]);
            }
            all.push_str(&body);
        }
        assert_eq!(
            all.contains(&yamada.to_string()),
            expect,
            "export as {}",
            if expect { "member" } else { "outsider" }
        );
        // Another person cannot poll someone else's export.
        let other = if expect { &outsider } else { &member };
        let r = app.bare_client().get(&status_url).bearer_auth(other).send().await.unwrap();
        assert_eq!(r.status(), 404);
    }
    app.finish().await;
}

fn patient_body(id: Option<&str>, family: &str, kana: &str, birth: &str) -> Value {
    let rep = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";
    let mut p = json!({
        "resourceType": "Patient",
        "name": [
            { "extension": [{ "url": rep, "valueCode": "IDE" }], "family": family, "given": ["一"] },
            { "extension": [{ "url": rep, "valueCode": "SYL" }], "family": kana, "given": ["ハジメ"] }
        ],
        "gender": "male",
        "birthDate": birth,
    });
    if let Some(id) = id {
        p["id"] = json!(id);
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_writes_get_412_and_a_transaction_with_one_bad_entry_changes_nothing() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let token = app.token_for(SATO).await;
    let y = yamada.to_string();
    let current = get(&app, &token, &format!("/fhir/r4/Patient/{y}")).await;
    assert_eq!(current.header("etag"), "W/\"1\"");
    let mut body = current.json();
    body["address"] = json!([{ "text": "新しい住所 1-1" }]);

    // A stale If-Match: 412, nothing written.
    let r = send(&app, &token, "PUT", &format!("/fhir/r4/Patient/{y}"), &body, &[("if-match", "W/\"7\"")]).await;
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(r.json()["issue"][0]["code"], "conflict");
    assert_eq!(versions_of(&app, &y).await, 1);

    let before = (table_count(&app, "patients").await, table_count(&app, "patient_versions").await);
    let entry_create = |family: &str, kana: &str, birth: &str| {
        json!({ "fullUrl": format!("urn:uuid:{}", random_uuid()), "resource": patient_body(None, family, kana, birth),
                "request": { "method": "POST", "url": "Patient" } })
    };
    let entry_update = |if_match: &str| json!({ "resource": body.clone(), "request": { "method": "PUT", "url": format!("Patient/{y}"), "ifMatch": if_match } });
    let tx = |entries: Vec<Value>| json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries });

    // One stale entry, one entry the domain refuses (born in the future), one entry of
    // an unsupported kind: each time nothing at all is written.
    for (bundle, status, at) in [
        (tx(vec![entry_create("取引", "トリヒキ", "1950-01-01"), entry_update("W/\"5\"")]), 412, "Bundle.entry[1]"),
        (
            tx(vec![entry_create("取引", "トリヒキ", "1950-01-01"), entry_create("未来", "ミライ", "2999-01-01")]),
            422,
            "Bundle.entry[1]",
        ),
        (
            tx(vec![
                entry_create("取引", "トリヒキ", "1950-01-01"),
                json!({ "request": { "method": "DELETE", "url": format!("Patient/{y}") } }),
            ]),
            400,
            "Bundle.entry[1]",
        ),
    ] {
        let r = send(&app, &token, "POST", "/fhir/r4", &bundle, &[]).await;
        assert_eq!(r.status, status, "{}", r.body);
        let o = r.json();
        assert_eq!(o["resourceType"], "OperationOutcome");
        assert!(o["issue"][0]["expression"][0].as_str().unwrap().starts_with(at), "{o}");
        assert_eq!((table_count(&app, "patients").await, table_count(&app, "patient_versions").await), before);
    }

    // The good transaction: both entries, one response each, in order.
    let r = send(
        &app,
        &token,
        "POST",
        "/fhir/r4",
        &tx(vec![entry_create("取引", "トリヒキ", "1950-01-01"), entry_update("W/\"1\"")]),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = r.json();
    assert_eq!(b["type"], "transaction-response");
    assert_eq!(b["entry"][0]["response"]["status"], "201 Created");
    assert_eq!(b["entry"][1]["response"]["status"], "200 OK");
    assert_eq!(b["entry"][1]["response"]["etag"], "W/\"2\"");
    assert_eq!(
        (table_count(&app, "patients").await, table_count(&app, "patient_versions").await),
        (before.0 + 1, before.1 + 2)
    );
    let now = get(&app, &token, &format!("/fhir/r4/Patient/{y}")).await.json();
    assert_eq!(now["address"][0]["text"], "新しい住所 1-1");

    // A conditional create that finds its patient creates nothing.
    let code = app.org_of(SATO).await.code.unwrap();
    let sato = app.principal(SATO).await;
    let g =
        app.store.open_chart(&sato, yamada, ChartAction::Write, "identifier.add", &AuditCtx::default()).await.unwrap();
    app.store.add_identifier(&g, "H-9", &AuditCtx::default()).await.unwrap();
    let cond = format!("identifier={}|H-9", urlencode(&format!("{PATIENT_ID_OID}{code}")));
    let r = send(
        &app,
        &token,
        "POST",
        "/fhir/r4/Patient",
        &patient_body(None, "山田", "ヤマダ", "1944-01-01"),
        &[("if-none-exist", &cond)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["id"], y);
    assert_eq!(table_count(&app, "patients").await, before.0 + 1);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_an_operation_outcome_and_unknown_parameters_follow_prefer() {
    let app = TestApp::start().await;
    let token = app.token_for(SATO).await;

    let meta = app.bare_client().get(app.at("/fhir/r4/metadata")).send().await.unwrap();
    assert_eq!(meta.status(), 200);
    let cap: Value = meta.json().await.unwrap();
    assert_eq!(cap["resourceType"], "CapabilityStatement");
    assert_eq!(cap["fhirVersion"], "4.0.1");

    let lenient = get(&app, &token, "/fhir/r4/Patient?foo=bar&name=%E3%82%84%E3%81%BE%E3%81%A0").await;
    assert_eq!(lenient.status, 200);
    let b = lenient.json();
    let outcome = b["entry"].as_array().unwrap().iter().find(|e| e["search"]["mode"] == "outcome").unwrap();
    assert!(outcome["resource"]["issue"][0]["diagnostics"].as_str().unwrap().contains("foo"));
    assert!(!b["link"][0]["url"].as_str().unwrap().contains("foo"), "the self link leaves out what was ignored");

    let strict = Resp::of(
        app.bare_client()
            .get(app.at("/fhir/r4/Patient?foo=bar"))
            .bearer_auth(&token)
            .header("prefer", "handling=strict")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(strict.status, 400);
    assert_eq!(strict.json()["resourceType"], "OperationOutcome");

    for (what, r) in [
        ("no token", Resp::of(app.bare_client().get(app.at("/fhir/r4/Patient")).send().await.unwrap()).await),
        ("no such type", get(&app, &token, "/fhir/r4/Encounter").await),
        ("bad date", get(&app, &token, "/fhir/r4/Patient?birthdate=1940-13-01").await),
        ("not JSON", send(&app, &token, "POST", "/fhir/r4/Patient", &json!("{"), &[]).await),
        (
            "wrong type",
            send(&app, &token, "POST", "/fhir/r4/Patient", &json!({"resourceType": "Observation"}), &[]).await,
        ),
        ("no patient", get(&app, &token, "/fhir/r4/Observation?code=x").await),
    ] {
        assert!(r.status >= 400, "{what}: {}", r.status);
        assert_eq!(r.json()["resourceType"], "OperationOutcome", "{what}: {}", r.body);
        r.assert_no_leak(what);
    }

    // Paging: _count and the next link walk every match once.
    let all = get(&app, &token, "/fhir/r4/Patient").await.json();
    let total = all["total"].as_u64().unwrap() as usize;
    assert!(total >= 2, "the demo hospital reaches several patients");
    let mut url = app.at("/fhir/r4/Patient?_count=1");
    let mut seen = Vec::new();
    loop {
        let b: Value = app.bare_client().get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        seen.extend(ids_in(&b, "Patient"));
        match b["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next") {
            Some(l) => url = l["url"].as_str().unwrap().to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), total);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), total, "each patient once");
    app.finish().await;
}

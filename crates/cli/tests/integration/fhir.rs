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
    let obs =
        |id: PatientId| format!("/fhir/r4/Observation?patient={id}&category=laboratory&_include=Observation:patient");
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
        let exported: Vec<&str> =
            manifest["output"].as_array().unwrap().iter().map(|o| o["type"].as_str().unwrap()).collect();
        if expect {
            for t in ["Patient", "Observation", "MedicationRequest", "Communication", "ServiceRequest", "Composition"] {
                assert!(exported.contains(&t), "the member's export lacks {t}: {exported:?}");
            }
        }
        let mut exported_files = Vec::new();
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
            let mut resources = Vec::new();
            for line in body.lines() {
                let v: Value = serde_json::from_str(line).expect("NDJSON: one resource per line");
                assert_eq!(v["resourceType"], o["type"]);
                resources.push(json!({ "resource": v }));
            }
            // Every exported resource passes the R4 models too (wrapped in a collection).
            let bundle = json!({ "resourceType": "Bundle", "type": "collection", "entry": resources });
            exported_files.push(write_json(&dir, &format!("export-{}.json", o["type"].as_str().unwrap()), &bundle));
            all.push_str(&body);
        }
        if expect {
            check_with_r4_models(&exported_files).await;
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
    // Each response says what was written, as a read of the patient then shows it.
    let created = &b["entry"][0]["response"];
    let location = created["location"].as_str().unwrap();
    let new_id = location.strip_prefix("Patient/").unwrap().strip_suffix("/_history/1").unwrap();
    let read = get(&app, &token, &format!("/fhir/r4/Patient/{new_id}")).await;
    assert_eq!((read.status, read.header("etag")), (200, "W/\"1\"".to_string()), "{}", read.body);
    assert_eq!(created["etag"], "W/\"1\"");
    assert_eq!(read.json()["meta"]["lastUpdated"], created["lastModified"]);
    assert_eq!(b["entry"][1]["response"]["lastModified"], now["meta"]["lastUpdated"]);

    // Possible duplicates stop a transaction as they stop a create: of a patient
    // registered before, or of an earlier entry of the same Bundle. Nothing is written.
    let registered = table_count(&app, "patients").await;
    for (bundle, at, of) in [
        (
            tx(vec![entry_create("別人", "ベツジン", "1951-02-03"), entry_create("取引", "トリヒキ", "1950-01-01")]),
            "Bundle.entry[1]",
            format!("Patient/{new_id}"),
        ),
        (
            tx(vec![
                entry_create("別人", "ベツジン", "1951-02-03"),
                entry_create("二人目", "フタリメ", "1952-03-04"),
                entry_create("別人", "ベツジン", "1951-02-03"),
            ]),
            "Bundle.entry[2]",
            "Bundle.entry[0]".to_string(),
        ),
    ] {
        let r = send(&app, &token, "POST", "/fhir/r4", &bundle, &[]).await;
        assert_eq!(r.status, 409, "{}", r.body);
        let o = r.json();
        assert_eq!(
            (o["issue"][0]["code"].as_str(), o["issue"][0]["expression"][0].as_str()),
            (Some("duplicate"), Some(at))
        );
        assert!(o["issue"][0]["diagnostics"].as_str().unwrap().contains(&of), "{o}");
        assert_eq!(table_count(&app, "patients").await, registered);
    }

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

    // In a transaction too, and a refusal after it names the right entry: the entry that
    // found its patient writes nothing, so the failing create is the Bundle's second
    // entry and the store's first write.
    let found = json!({ "resource": patient_body(None, "山田", "ヤマダ", "1944-01-01"),
                        "request": { "method": "POST", "url": "Patient", "ifNoneExist": cond } });
    let r = send(&app, &token, "POST", "/fhir/r4", &tx(vec![found.clone(), entry_update("W/\"1\"")]), &[]).await;
    assert_eq!(r.status, 412, "{}", r.body);
    assert!(r.json()["issue"][0]["expression"][0].as_str().unwrap().starts_with("Bundle.entry[1]"), "{}", r.body);
    let r =
        send(&app, &token, "POST", "/fhir/r4", &tx(vec![found, entry_create("取引", "トリヒキ", "1950-01-01")]), &[])
            .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["issue"][0]["expression"][0], "Bundle.entry[1]");
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

/// Vital signs (corrected once), a document with its file, a symptom assessment and a
/// thread message on 山田's chart, written the ways the team writes them.
struct ChartRecords {
    vitals_entry: String,
    message_entry: String,
    assessment: String,
    pdf: Vec<u8>,
}

async fn yamada_with_chart_records(app: &TestApp, yamada: PatientId) -> ChartRecords {
    use tsunagu_domain::chart::{EntryBody, Message, VitalSigns};
    use tsunagu_domain::questionnaire::{Answer, Answers, Scale};
    let takahashi = app.principal(TAKAHASHI).await;
    let g =
        app.store.open_chart(&takahashi, yamada, ChartAction::Write, "entry.add", &AuditCtx::default()).await.unwrap();
    let first = VitalSigns {
        temperature_c: Some(37.8),
        pulse_bpm: Some(88),
        bp_systolic: Some(128),
        bp_diastolic: Some(74),
        spo2: Some(95),
        pain_nrs: Some(3),
        note: Some("夕方から微熱".into()),
        ..VitalSigns::default()
    };
    let v1 = app.store.add_entry(&g, EntryBody::VitalSigns(first.clone()), &[], &AuditCtx::default()).await.unwrap();
    let corrected = VitalSigns { temperature_c: Some(37.2), ..first };
    app.store
        .correct_entry(&g, &v1.version_id, EntryBody::VitalSigns(corrected), "体温の転記誤り", &AuditCtx::default())
        .await
        .unwrap();
    let m = Message { text: "明日の訪問で服薬を確認します。".into(), attachments: vec![] };
    let message = app.store.add_entry(&g, EntryBody::Message(m), &[], &AuditCtx::default()).await.unwrap();

    // The instrument the chart offers, every rating item answered with its lowest point + 1.
    let instrument =
        app.store.instruments().await.unwrap().into_iter().find(|i| i.id == "symptom-rating-patient").unwrap();
    let mut answers = Answers::new();
    for item in &instrument.items {
        if let Scale::Rating { min, .. } = item.scale {
            answers.insert(item.key.clone(), Answer::Rating(min + 1));
        }
    }
    let assessment = app
        .store
        .record_assessment(&g, &instrument, &answers, time::macros::datetime!(2026-11-20 10:30), &AuditCtx::default())
        .await
        .unwrap();

    // The discharge summary, uploaded through the JSON API like a hospital system would.
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec();
    let token = app.token_for(TAKAHASHI).await;
    let r = app
        .bare_client()
        .post(app.at(&format!(
            "/api/v1/patients/{yamada}/documents?doc_type=discharge_summary&filename=summary.pdf&title={}",
            urlencode("退院時サマリー")
        )))
        .bearer_auth(&token)
        .header("content-type", "application/pdf")
        .body(pdf.clone())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "upload: {}", r.status());
    ChartRecords { vitals_entry: v1.entry_id, message_entry: message.entry_id, assessment, pdf }
}

fn write_json(dir: &tempfile::TempDir, name: &str, v: &Value) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, v.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vitals_documents_symptoms_and_messages_are_versioned_resources_behind_the_chart_door() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let rec = yamada_with_chart_records(&app, yamada).await;
    let member = app.token_for(SUZUKI).await;
    let outsider = app.token_for(KOBAYASHI).await;
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();

    // Vital signs: one Observation per measurement, the corrected temperature as its
    // second version; pain is a rating (survey), not a vital sign.
    let vitals = get(&app, &member, &format!("/fhir/r4/Observation?patient={yamada}&category=vital-signs")).await;
    assert_eq!(vitals.status, 200, "{}", vitals.body);
    let bt = format!("{}-bt", rec.vitals_entry);
    // (The demo chart has vital signs of its own: only this entry's are looked at.)
    let mut ids: Vec<String> =
        ids_in(&vitals.json(), "Observation").into_iter().filter(|i| i.starts_with(&rec.vitals_entry)).collect();
    ids.sort();
    let mut expected: Vec<String> =
        ["bp", "bt", "hr", "spo2"].iter().map(|p| format!("{}-{p}", rec.vitals_entry)).collect();
    expected.sort();
    assert_eq!(ids, expected, "one Observation per measurement taken");
    files.push(write_json(&dir, "vitals.json", &vitals.json()));
    let by_code = get(
        &app,
        &member,
        &format!("/fhir/r4/Observation?patient={yamada}&code={}", urlencode("http://loinc.org|8310-5")),
    )
    .await
    .json();
    let temperatures = ids_in(&by_code, "Observation");
    assert!(temperatures.contains(&bt), "{temperatures:?}");
    assert!(temperatures.iter().all(|i| i.ends_with("-bt")), "only temperatures: {temperatures:?}");
    let survey = get(&app, &member, &format!("/fhir/r4/Observation?patient={yamada}&category=survey")).await.json();
    let survey_ids = ids_in(&survey, "Observation");
    for want in [format!("{}-pain", rec.vitals_entry), rec.assessment.clone()] {
        assert!(survey_ids.contains(&want), "pain NRS and the assessment's total are survey Observations: {want}");
    }
    assert!(!survey_ids.contains(&bt), "a temperature is not a survey");
    files.push(write_json(&dir, "survey.json", &survey));

    let now = get(&app, &member, &format!("/fhir/r4/Observation/{bt}")).await;
    assert_eq!(now.status, 200, "{}", now.body);
    assert_eq!(now.header("etag"), "W/\"2\"");
    assert_eq!(now.json()["valueQuantity"]["value"], 37.2);
    assert_eq!(now.json()["status"], "amended");
    let history = get(&app, &member, &format!("/fhir/r4/Observation/{bt}/_history")).await.json();
    let values: Vec<f64> = history["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["valueQuantity"]["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, vec![37.2, 37.8], "newest first, the first version kept");
    files.push(write_json(&dir, "history.json", &history));
    let first = get(&app, &member, &format!("/fhir/r4/Observation/{bt}/_history/1")).await;
    assert_eq!(first.json()["valueQuantity"]["value"], 37.8);
    assert_eq!(first.json()["status"], "final");
    let bp = get(&app, &member, &format!("/fhir/r4/Observation/{}-bp", rec.vitals_entry)).await.json();
    assert_eq!(bp["component"][0]["valueQuantity"]["value"], 128.0);
    let rr = get(&app, &member, &format!("/fhir/r4/Observation/{}-rr", rec.vitals_entry)).await;
    assert_eq!(rr.status, 404, "no respiratory rate was taken");

    // The document and its file (as uploaded, and as a Binary resource).
    let docs = get(&app, &member, &format!("/fhir/r4/DocumentReference?patient={yamada}")).await.json();
    let doc = docs["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["content"][0]["attachment"]["title"] == "summary.pdf")
        .unwrap_or_else(|| panic!("the uploaded summary is missing: {docs}"));
    assert_eq!(doc["description"], "退院時サマリー");
    assert_eq!(doc["type"]["coding"][1]["code"], "18842-5");
    files.push(write_json(&dir, "documents.json", &docs));
    let loinc = format!("/fhir/r4/DocumentReference?patient={yamada}&type={}", urlencode("http://loinc.org|18842-5"));
    let summaries = get(&app, &member, &loinc).await.json();
    assert!(ids_in(&summaries, "DocumentReference").contains(&doc["id"].as_str().unwrap().to_string()));
    let photos = format!("/fhir/r4/DocumentReference?patient={yamada}&type=photo");
    let photos = get(&app, &member, &photos).await.json();
    assert!(!ids_in(&photos, "DocumentReference").contains(&doc["id"].as_str().unwrap().to_string()));
    assert!(
        photos["entry"].as_array().into_iter().flatten().all(|e| e["resource"]["type"]["coding"][0]["code"] == "photo")
    );
    let doc_id = doc["id"].as_str().unwrap().to_string();
    assert_eq!(get(&app, &member, &format!("/fhir/r4/DocumentReference/{doc_id}")).await.status, 200);
    let url = doc["content"][0]["attachment"]["url"].as_str().unwrap().to_string();
    let binary_id = url.rsplit('/').next().unwrap().to_string();
    let raw = app.bare_client().get(&url).bearer_auth(&member).send().await.unwrap();
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.headers()["content-type"], "application/pdf");
    assert_eq!(raw.bytes().await.unwrap().to_vec(), rec.pdf);
    let as_json = Resp::of(
        app.bare_client()
            .get(&url)
            .bearer_auth(&member)
            .header("accept", "application/fhir+json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.decode(as_json.json()["data"].as_str().unwrap()).unwrap();
    assert_eq!(data, rec.pdf);
    files.push(write_json(&dir, "binary.json", &as_json.json()));

    // The assessment with every answer against the instrument version it answered.
    let responses = get(&app, &member, &format!("/fhir/r4/QuestionnaireResponse?patient={yamada}")).await.json();
    let qr = responses["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["id"] == rec.assessment.as_str())
        .unwrap_or_else(|| panic!("the assessment is missing: {responses}"));
    assert_eq!(qr["questionnaire"], "urn:tsunagu:instrument:symptom-rating-patient|1");
    assert_eq!(qr["item"][0]["linkId"], "pain");
    assert_eq!(qr["item"][0]["answer"][0]["valueInteger"], 1);
    files.push(write_json(&dir, "responses.json", &responses));

    // The thread message, readable by id with its history.
    let msg = get(&app, &member, &format!("/fhir/r4/Communication/{}", rec.message_entry)).await;
    assert_eq!(msg.status, 200, "{}", msg.body);
    assert_eq!(msg.json()["payload"][0]["contentString"], "明日の訪問で服薬を確認します。");
    let msg_history = get(&app, &member, &format!("/fhir/r4/Communication/{}/_history", rec.message_entry)).await;
    assert_eq!(msg_history.json()["total"], 1);
    files.push(write_json(&dir, "communication.json", &msg.json()));
    check_with_r4_models(&files).await;

    // The outsider: every id answers exactly as a made-up one, every search is empty.
    let made_up = random_uuid().to_string();
    let reads = [
        (format!("/fhir/r4/Observation/{bt}"), format!("/fhir/r4/Observation/{made_up}-bt"), bt.clone()),
        (
            format!("/fhir/r4/Observation/{bt}/_history"),
            format!("/fhir/r4/Observation/{made_up}-bt/_history"),
            bt.clone(),
        ),
        (
            format!("/fhir/r4/Observation/{bt}/_history/1"),
            format!("/fhir/r4/Observation/{made_up}-bt/_history/1"),
            bt.clone(),
        ),
        (
            format!("/fhir/r4/Observation/{}", rec.assessment),
            format!("/fhir/r4/Observation/{made_up}"),
            rec.assessment.clone(),
        ),
        (
            format!("/fhir/r4/DocumentReference/{doc_id}"),
            format!("/fhir/r4/DocumentReference/{made_up}"),
            doc_id.clone(),
        ),
        (
            format!("/fhir/r4/DocumentReference/{doc_id}/_history"),
            format!("/fhir/r4/DocumentReference/{made_up}/_history"),
            doc_id.clone(),
        ),
        (format!("/fhir/r4/Binary/{binary_id}"), format!("/fhir/r4/Binary/{made_up}"), binary_id.clone()),
        (
            format!("/fhir/r4/QuestionnaireResponse/{}", rec.assessment),
            format!("/fhir/r4/QuestionnaireResponse/{made_up}"),
            rec.assessment.clone(),
        ),
        (
            format!("/fhir/r4/Communication/{}", rec.message_entry),
            format!("/fhir/r4/Communication/{made_up}"),
            rec.message_entry.clone(),
        ),
    ];
    for (hidden, missing, id) in &reads {
        let h = get(&app, &outsider, hidden).await;
        let m = get(&app, &outsider, missing).await;
        assert_eq!((h.status, m.status), (404, 404), "{hidden}: {}", h.body);
        assert_eq!(h.json()["resourceType"], "OperationOutcome");
        assert_eq!(
            h.body.replace(id.as_str(), "{id}"),
            m.body.replace(made_up.as_str(), "{id}").replace("{id}-bt", "{id}")
        );
        assert!(!h.body.contains("山田") && !h.body.contains("37."), "{hidden} leaks: {}", h.body);
    }
    for search in ["Observation", "DocumentReference", "QuestionnaireResponse", "Communication"] {
        let r = get(&app, &outsider, &format!("/fhir/r4/{search}?patient={yamada}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["total"], 0, "{search} shows 山田's records to an outsider");
    }

    // The history of a whole type is not served, and says so (not "no such patient").
    for path in ["/fhir/r4/_history", "/fhir/r4/Patient/_history", "/fhir/r4/Observation/_history"] {
        let r = get(&app, &member, path).await;
        assert_eq!(r.status, 405, "{path}: {}", r.body);
        assert_eq!(r.json()["issue"][0]["code"], "not-supported", "{path}");
    }

    // Every read is on the chart's audit trail; the outsider's attempts as refusals.
    let mut c = app.raw_conn().await;
    let rows: Vec<(String, String)> = sqlx::query("SELECT action, outcome FROM audit WHERE patient_id = $1")
        .bind(yamada.to_string())
        .fetch_all(&mut c)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.try_get("action").unwrap(), r.try_get("outcome").unwrap()))
        .collect();
    for a in [
        "fhir.observation.read",
        "fhir.observation.history",
        "fhir.observation.vread",
        "fhir.documentreference.search",
        "fhir.documentreference.read",
        "fhir.binary.read",
        "fhir.questionnaireresponse.search",
        "fhir.communication.read",
    ] {
        assert!(rows.iter().any(|(x, o)| x == a && o != "refused"), "{a} missing from the audit trail");
    }
    for a in ["fhir.binary.read", "fhir.documentreference.read", "fhir.questionnaireresponse.read"] {
        assert!(rows.iter().any(|(x, o)| x == a && o == "refused"), "the outsider's {a} is not recorded as refused");
    }
    drop(c);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_communication_posted_by_a_member_lands_on_the_thread_and_a_refused_one_changes_nothing() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let member = app.token_for(TAKAHASHI).await;
    let outsider = app.token_for(KOBAYASHI).await;
    let message = |patient: &str, extra: Value| {
        let mut v = json!({
            "resourceType": "Communication",
            "status": "completed",
            "subject": { "reference": format!("Patient/{patient}") },
            "payload": [ { "contentString": "退院日が12月3日に決まりました。" }, { "contentString": "往診の調整をお願いします。" } ],
        });
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    };
    let before = table_count(&app, "entries").await;

    // The outsider: refused exactly as for a patient that does not exist; nothing written.
    let missing = random_uuid().to_string();
    let hidden =
        send(&app, &outsider, "POST", "/fhir/r4/Communication", &message(&yamada.to_string(), json!({})), &[]).await;
    let absent = send(&app, &outsider, "POST", "/fhir/r4/Communication", &message(&missing, json!({})), &[]).await;
    assert_eq!((hidden.status, absent.status), (422, 422), "{}", hidden.body);
    assert_eq!(hidden.body, absent.body);
    assert!(!hidden.body.contains("山田"));

    // Bad input: every problem named with its path, nothing written.
    let bad = message(
        &yamada.to_string(),
        json!({ "status": "in-progress", "payload": [ { "contentAttachment": { "url": "http://x/y.pdf" } } ] }),
    );
    let r = send(&app, &member, "POST", "/fhir/r4/Communication", &bad, &[]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let paths: Vec<String> = r.json()["issue"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["expression"].as_array().cloned().unwrap_or_default())
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    assert!(paths.contains(&"Communication.status".to_string()), "{paths:?}");
    assert!(paths.contains(&"Communication.payload[0]".to_string()), "{paths:?}");
    let r = app
        .bare_client()
        .post(app.at("/fhir/r4/Communication"))
        .bearer_auth(&member)
        .header("content-type", "application/fhir+json")
        .body("{\"resourceType\": \"Communication\",")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(table_count(&app, "entries").await, before, "a refused message wrote something");

    // A member's message: on the thread, readable back, its sender the caller.
    let r = send(&app, &member, "POST", "/fhir/r4/Communication", &message(&yamada.to_string(), json!({})), &[]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("etag"), "W/\"1\"");
    let location = r.location();
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert!(location.ends_with(&format!("/Communication/{id}/_history/1")), "{location}");
    assert_eq!(table_count(&app, "entries").await, before + 1);
    let back = get(&app, &member, &format!("/fhir/r4/Communication/{id}")).await.json();
    assert_eq!(back["payload"][0]["contentString"], "退院日が12月3日に決まりました。\n\n往診の調整をお願いします。");
    let takahashi = app.user(TAKAHASHI).await;
    assert!(back["sender"]["display"].as_str().unwrap().starts_with(&takahashi.display_name));
    let g = app
        .store
        .open_chart(&app.principal(SUZUKI).await, yamada, ChartAction::Read, "test", &AuditCtx::default())
        .await
        .unwrap();
    let thread = app
        .store
        .timeline(
            &g,
            &tsunagu_store::TimelineFilter {
                kind: Some(tsunagu_domain::chart::EntryKind::Message),
                limit: 500,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(thread.iter().any(|e| e.entry_id == id), "the message is not on the chart's thread");

    // What is accepted and not kept is named when the client asks for the outcome.
    let r = send(
        &app,
        &member,
        "POST",
        "/fhir/r4/Communication",
        &message(&yamada.to_string(), json!({ "sent": "2026-11-20T10:00:00+09:00" })),
        &[("prefer", "return=OperationOutcome")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["resourceType"], "OperationOutcome");
    assert!(r.body.contains("Communication.sent"), "{}", r.body);

    // A write is recorded by the write itself (as for a message typed on the chart),
    // with the target the new entry; the outsider's attempt as a refusal.
    let mut c = app.raw_conn().await;
    let created: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM audit WHERE patient_id = $1 AND action = 'entry.create' AND target = $2",
    )
    .bind(yamada.to_string())
    .bind(&id)
    .fetch_one(&mut c)
    .await
    .unwrap()
    .try_get("n")
    .unwrap();
    assert_eq!(created, 1);
    let refused: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM audit WHERE patient_id = $1 AND action = 'fhir.communication.create' AND outcome = 'refused'",
    )
    .bind(yamada.to_string())
    .fetch_one(&mut c)
    .await
    .unwrap()
    .try_get("n")
    .unwrap();
    assert_eq!(refused, 1, "the outsider's attempt is on the chart's audit trail");
    drop(c);
    app.finish().await;
}

/// Write each value to a file of its own and check them all with the R4 models.
async fn check_values_with_r4_models(values: &[(&str, &Value)]) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, v) in values {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, v.to_string()).unwrap();
        files.push(path.to_str().unwrap().to_string());
    }
    check_with_r4_models(&files).await;
}

/// The outsider's answer for `path/{id}` of a hidden resource, and for a made-up id:
/// both 404 OperationOutcomes, the same once the ids are masked.
async fn assert_hidden_like_missing(app: &TestApp, token: &str, path: &str, hidden: &str, suffix: &str) {
    let made_up = random_uuid().to_string();
    let h = get(app, token, &format!("{path}/{hidden}{suffix}")).await;
    let m = get(app, token, &format!("{path}/{made_up}{suffix}")).await;
    assert_eq!((h.status, m.status), (404, 404), "{path}/{{id}}{suffix}: {}", h.body);
    assert_eq!(h.json()["resourceType"], "OperationOutcome");
    assert_eq!(h.body.replace(hidden, "{id}"), m.body.replace(&made_up, "{id}"), "{path}/{{id}}{suffix}");
}

/// What `email` was allowed to do on the chart, by the chart's audit records.
async fn actions_by(app: &TestApp, email: &str, pid: PatientId) -> Vec<String> {
    let user = app.user(email).await;
    let mut c = app.raw_conn().await;
    sqlx::query(
        "SELECT action FROM audit WHERE patient_id = $1 AND actor_user = $2 AND outcome = 'allowed' ORDER BY seq",
    )
    .bind(pid.to_string())
    .bind(user.id.to_string())
    .fetch_all(&mut c)
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get("action").unwrap())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters_are_service_requests_and_compositions_for_the_team_and_nowhere_for_an_outsider() {
    use tsunagu_domain::letter::{LetterBody, LetterKind};
    use tsunagu_domain::patient::TeamRole;
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let (outsider, suzuki, sato) =
        (app.token_for(KOBAYASHI).await, app.token_for(SUZUKI).await, app.token_for(SATO).await);

    // The hospital starts a second referral and leaves it a draft: the clinic must never
    // see it, though it is on the team.
    let mut body = LetterBody::empty(LetterKind::Referral);
    body.set("purpose", "下書きの紹介目的".into()).unwrap();
    let content = tsunagu_store::LetterContent {
        to_org: app.org_of(SUZUKI).await.id,
        to_person: None,
        role: TeamRole::HomePhysician,
        body,
        attachments: vec![],
    };
    let p = app.principal(SATO).await;
    let g = app.store.open_chart(&p, yamada, ChartAction::Refer, "letter.create", &AuditCtx::default()).await.unwrap();
    let draft = app.store.create_letter(&g, content, None, &AuditCtx::default()).await.unwrap();

    // The clinic: the one sent referral, answered by its reply, so completed.
    let search = |pid: PatientId| format!("/fhir/r4/ServiceRequest?patient={pid}");
    let seen = get(&app, &suzuki, &search(yamada)).await.json();
    assert_eq!(seen["total"], 1, "{seen}");
    let sr = &seen["entry"][0]["resource"];
    let referral = sr["id"].as_str().unwrap().to_string();
    assert_ne!(referral, draft);
    assert_eq!(sr["status"], "completed");
    assert_eq!(sr["intent"], "order");
    assert_eq!(sr["category"][0]["coding"][0]["code"], "3457005");
    assert_eq!(sr["subject"]["reference"], format!("Patient/{yamada}"));
    assert!(sr["requester"]["display"].as_str().unwrap().starts_with("佐藤 健一"), "{sr}");
    assert_eq!(sr["performer"][0]["reference"], format!("Organization/{}", app.org_of(SUZUKI).await.id));
    assert!(sr["reasonCode"][0]["text"].as_str().unwrap().contains("在宅緩和ケア"), "{sr}");
    assert_eq!(sr["supportingInfo"][0]["reference"], format!("Composition/{referral}"));
    assert!(!seen.to_string().contains("下書きの紹介目的"));
    assert_hidden_like_missing(&app, &suzuki, "/fhir/r4/ServiceRequest", &draft, "").await;
    assert_hidden_like_missing(&app, &suzuki, "/fhir/r4/Composition", &draft, "").await;

    // The hospital sees its own draft, as a draft, and can filter by status and date.
    let own = get(&app, &sato, &search(yamada)).await.json();
    assert_eq!(own["total"], 2, "{own}");
    let drafts = get(&app, &sato, &format!("{}&status=draft", search(yamada))).await.json();
    assert_eq!(ids_in(&drafts, "ServiceRequest"), vec![draft.clone()]);
    assert!(drafts["entry"][0]["resource"].get("authoredOn").is_none(), "a draft was never sent");
    let sent_since = get(&app, &sato, &format!("{}&authored=ge2000-01-01", search(yamada))).await.json();
    assert_eq!(ids_in(&sent_since, "ServiceRequest"), vec![referral.clone()]);
    let none_later = get(&app, &sato, &format!("{}&authored=gt2100-01-01", search(yamada))).await.json();
    assert_eq!(none_later["total"], 0);
    let read = get(&app, &suzuki, &format!("/fhir/r4/ServiceRequest/{referral}")).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.json(), *sr);

    // Compositions: every letter the clinic may see (referral, reply, instruction), each
    // naming served resources by their REST address.
    let comps = get(&app, &suzuki, &format!("/fhir/r4/Composition?patient={yamada}")).await.json();
    assert_eq!(comps["total"], 3, "{comps}");
    assert!(!ids_in(&comps, "Composition").contains(&draft));
    assert!(!comps.to_string().contains("urn:uuid:"), "a REST Composition points into no document");
    let c = get(&app, &suzuki, &format!("/fhir/r4/Composition/{referral}")).await;
    assert_eq!(c.status, 200, "{}", c.body);
    let c = c.json();
    assert_eq!(c["status"], "final");
    assert_eq!(c["type"]["coding"][0]["code"], "57133-1");
    assert_eq!(c["subject"]["reference"], format!("Patient/{yamada}"));
    assert!(c.to_string().contains("膵頭部癌"), "the sections carry the letter's text");
    let own_comps = get(&app, &sato, &format!("/fhir/r4/Composition?patient={yamada}")).await.json();
    assert_eq!(own_comps["total"], 4);
    let own_draft = get(&app, &sato, &format!("/fhir/r4/Composition/{draft}")).await.json();
    assert_eq!(own_draft["status"], "preliminary");

    // $document is the JSON API's document Bundle, byte for byte; a draft has none.
    let doc = get(&app, &suzuki, &format!("/fhir/r4/Composition/{referral}/$document")).await;
    assert_eq!(doc.status, 200, "{}", doc.body);
    assert_eq!(doc.json()["type"], "document");
    let api = get(&app, &suzuki, &format!("/api/v1/patients/{yamada}/letters/{referral}/fhir")).await;
    assert_eq!(doc.json(), api.json());
    let r = get(&app, &sato, &format!("/fhir/r4/Composition/{draft}/$document")).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["resourceType"], "OperationOutcome");

    // A discarded draft is kept but never shown as a letter, even to its writer.
    let g = app.store.open_chart(&p, yamada, ChartAction::Refer, "letter.discard", &AuditCtx::default()).await.unwrap();
    app.store.discard_letter(&g, &draft, &AuditCtx::default()).await.unwrap();
    assert_hidden_like_missing(&app, &sato, "/fhir/r4/ServiceRequest", &draft, "").await;
    assert_hidden_like_missing(&app, &sato, "/fhir/r4/Composition", &draft, "").await;
    let after = get(&app, &sato, &format!("/fhir/r4/Composition?patient={yamada}")).await.json();
    assert_eq!(after["total"], 3);

    // The outsider: the same 404 as for a made-up id, and empty searches.
    for (path, suffix) in
        [("/fhir/r4/ServiceRequest", ""), ("/fhir/r4/Composition", ""), ("/fhir/r4/Composition", "/$document")]
    {
        assert_hidden_like_missing(&app, &outsider, path, &referral, suffix).await;
    }
    for s in [search(yamada), format!("/fhir/r4/Composition?patient={yamada}")] {
        let r = get(&app, &outsider, &s).await;
        assert_eq!(r.status, 200, "{s}: {}", r.body);
        assert_eq!(r.json()["total"], 0, "{s}");
        assert!(!r.body.contains("山田") && !r.body.contains(&referral), "{s}");
    }

    // A declined referral no longer stands: revoked, with the reason.
    let mut conn = app.raw_conn().await;
    let row = sqlx::query("SELECT patient_id, id FROM letters WHERE state = 'sent' AND kind = 'referral'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let (other, pending): (String, String) = (row.try_get("patient_id").unwrap(), row.try_get("id").unwrap());
    drop(conn);
    let other: PatientId = other.parse().unwrap();
    assert_eq!(get(&app, &suzuki, &format!("/fhir/r4/ServiceRequest/{pending}")).await.json()["status"], "active");
    let clinic = app.principal(SUZUKI).await;
    let g =
        app.store.open_chart(&clinic, other, ChartAction::Write, "letter.decline", &AuditCtx::default()).await.unwrap();
    app.store.decline_letter(&g, &pending, "訪問範囲外のため", &AuditCtx::default()).await.unwrap();
    let declined = get(&app, &suzuki, &format!("/fhir/r4/ServiceRequest/{pending}")).await.json();
    assert_eq!(declined["status"], "revoked");
    assert!(declined["note"].to_string().contains("訪問範囲外のため"), "{declined}");
    let revoked = get(&app, &suzuki, &format!("{}&status=revoked", search(other))).await.json();
    assert_eq!(ids_in(&revoked, "ServiceRequest"), vec![pending.clone()]);

    // The member's reads and searches are in the chart's access log.
    let actions = actions_by(&app, SUZUKI, yamada).await;
    for a in [
        "fhir.servicerequest.search",
        "fhir.servicerequest.read",
        "fhir.composition.search",
        "fhir.composition.read",
        "fhir.composition.document",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing from {actions:?}");
    }

    check_values_with_r4_models(&[
        ("service-requests", &own),
        ("compositions", &own_comps),
        ("composition", &c),
        ("document", &doc.json()),
        ("declined", &revoked),
    ])
    .await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_discharge_checklist_is_a_task_list_for_the_team_and_nowhere_for_an_outsider() {
    let app = TestApp::start().await;
    let (outsider, sato) = (app.token_for(KOBAYASHI).await, app.token_for(SATO).await);
    // The demo region's one transition case: a hospital inpatient going home.
    let mut conn = app.raw_conn().await;
    let pid: String = sqlx::query("SELECT patient_id FROM transition_cases")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .try_get("patient_id")
        .unwrap();
    drop(conn);
    let pid: PatientId = pid.parse().unwrap();

    let all = get(&app, &sato, &format!("/fhir/r4/Task?patient={pid}")).await.json();
    let total = tsunagu_domain::transition::DEFAULT_CHECKLIST.len();
    assert_eq!(all["total"], total, "{all}");
    let done = get(&app, &sato, &format!("/fhir/r4/Task?patient={pid}&status=completed")).await.json();
    assert_eq!(done["total"], 2, "the demo ticked two tasks");
    let open = get(&app, &sato, &format!("/fhir/r4/Task?subject=Patient/{pid}&status=requested")).await.json();
    assert_eq!(open["total"], total - 2);
    let entries = all["entry"].as_array().unwrap();
    let home = entries
        .iter()
        .map(|e| &e["resource"])
        .find(|t| t["code"]["coding"][0]["code"] == "task-home-physician")
        .unwrap();
    assert_eq!(home["description"], msg("ja", "task-home-physician"));
    assert_eq!(home["status"], "completed");
    assert_eq!(home["intent"], "order");
    assert_eq!(home["for"]["reference"], format!("Patient/{pid}"));
    assert!(home["restriction"]["period"]["end"].as_str().unwrap().len() == 10, "{home}");
    assert!(home["executionPeriod"]["end"].is_string());
    let owner = home["owner"]["reference"].as_str().unwrap().to_string();
    let owned = get(&app, &sato, &format!("/fhir/r4/Task?patient={pid}&owner={owner}")).await.json();
    let expected = entries.iter().filter(|e| e["resource"]["owner"]["reference"] == owner.as_str()).count();
    assert!(expected >= 1);
    assert_eq!(owned["total"], expected);
    let id = home["id"].as_str().unwrap().to_string();
    let read = get(&app, &sato, &format!("/fhir/r4/Task/{id}")).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.json(), *home);

    assert_hidden_like_missing(&app, &outsider, "/fhir/r4/Task", &id, "").await;
    let r = get(&app, &outsider, &format!("/fhir/r4/Task?patient={pid}")).await;
    assert_eq!((r.status, r.json()["total"].clone()), (200, json!(0)), "{}", r.body);

    let actions = actions_by(&app, SATO, pid).await;
    for a in ["fhir.task.search", "fhir.task.read"] {
        assert!(actions.iter().any(|x| x == a), "{a} missing from {actions:?}");
    }
    check_values_with_r4_models(&[("tasks", &all), ("task", &read.json())]).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staff_directory_shows_a_callers_active_colleagues_and_nothing_of_their_accounts() {
    let app = TestApp::start().await;
    let (sato_token, suzuki_token) = (app.token_for(SATO).await, app.token_for(SUZUKI).await);
    let hospital = app.org_of(SATO).await;
    let sato = app.user(SATO).await;
    let suzuki = app.user(SUZUKI).await;

    let all = get(&app, &sato_token, "/fhir/r4/Practitioner").await;
    assert_eq!(all.status, 200, "{}", all.body);
    let staff: Vec<_> =
        app.store.staff(hospital.id).await.unwrap().into_iter().filter(|(u, _)| u.is_active()).collect();
    assert!(staff.len() >= 3);
    assert_eq!(all.json()["total"], staff.len());
    assert!(!ids_in(&all.json(), "Practitioner").contains(&suzuki.id.to_string()), "another organization's staff");
    for (u, _) in &staff {
        assert!(!all.body.contains(&u.email), "an email address in the directory");
    }
    for leak in ["last_signin", "operator", "password", "suspended"] {
        assert!(!all.body.contains(leak), "{leak} in the directory");
    }

    // Names in kanji or kana (either script), family or given.
    for q in ["佐藤", "さとう", "ケンイチ", "ｻﾄｳ"] {
        let r = get(&app, &sato_token, &format!("/fhir/r4/Practitioner?name={}", urlencode(q))).await.json();
        assert_eq!(ids_in(&r, "Practitioner"), vec![sato.id.to_string()], "name={q}");
    }
    let me = get(&app, &sato_token, &format!("/fhir/r4/Practitioner/{}", sato.id)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let me = me.json();
    assert_eq!(me["qualification"][0]["code"]["coding"][0]["code"], "physician");
    assert_eq!(me["qualification"][0]["code"]["coding"][0]["display"], msg("ja", "profession-physician"));
    assert_eq!(me["name"][1]["extension"][0]["valueCode"], "SYL");
    assert_eq!(me["name"][1]["family"], "サトウ");
    assert_hidden_like_missing(&app, &sato_token, "/fhir/r4/Practitioner", &suzuki.id.to_string(), "").await;

    // Roles: the memberships of the caller's organization.
    let roles = get(&app, &sato_token, &format!("/fhir/r4/PractitionerRole?practitioner=Practitioner/{}", sato.id))
        .await
        .json();
    assert_eq!(roles["total"], 1, "{roles}");
    let role = &roles["entry"][0]["resource"];
    assert_eq!(role["organization"]["reference"], format!("Organization/{}", hospital.id));
    assert_eq!(role["code"][0]["coding"][0]["code"], "physician");
    assert_eq!(role["active"], true);
    let by_org =
        get(&app, &sato_token, &format!("/fhir/r4/PractitionerRole?organization={}", hospital.id)).await.json();
    assert_eq!(by_org["total"], staff.len());
    let clinic = app.org_of(SUZUKI).await;
    let other = get(&app, &sato_token, &format!("/fhir/r4/PractitionerRole?organization=Organization/{}", clinic.id))
        .await
        .json();
    assert_eq!(other["total"], 0);
    let role_id = role["id"].as_str().unwrap().to_string();
    assert_eq!(get(&app, &sato_token, &format!("/fhir/r4/PractitionerRole/{role_id}")).await.json(), *role);
    assert_hidden_like_missing(&app, &suzuki_token, "/fhir/r4/PractitionerRole", &role_id, "").await;

    // A suspended colleague leaves the directory.
    let (gone, _) = staff.iter().find(|(u, _)| u.id != sato.id).unwrap();
    let admin = app.principal(SATO).await;
    app.store.set_user_status(&admin, gone.id, false, &AuditCtx::default()).await.unwrap();
    let after = get(&app, &sato_token, "/fhir/r4/Practitioner").await.json();
    assert_eq!(after["total"], staff.len() - 1);
    assert_eq!(get(&app, &sato_token, &format!("/fhir/r4/Practitioner/{}", gone.id)).await.status, 404);

    // The CapabilityStatement states what is served.
    let cap = get(&app, &sato_token, "/fhir/r4/metadata").await.json();
    let types: Vec<&str> =
        cap["rest"][0]["resource"].as_array().unwrap().iter().map(|r| r["type"].as_str().unwrap()).collect();
    for t in ["Practitioner", "PractitionerRole", "ServiceRequest", "Composition", "Task"] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    check_values_with_r4_models(&[("practitioners", &all.json()), ("roles", &roles), ("capability", &cap)]).await;
    app.finish().await;
}

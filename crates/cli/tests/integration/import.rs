//! SS-MIX2 import of lab results and prescriptions (issue #7): a generated storage tree
//! of synthetic patients, ISO-2022-JP encoded with hostile files among them, imported
//! twice through the real `tsunagu` binary.

use crate::harness::*;
use sqlx::Row;
use tsunagu_domain::policy::ChartAction;
use tsunagu_hl7::fixtures::{HOSTILE_DRUG_NAMES, HOSTILE_PATIENT_ID, NO_ADT_PATIENT_ID, write_fixture_tree};
use tsunagu_hl7::storage::{StorageItem, walk};
use tsunagu_store::AuditCtx;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_the_storage_twice_gives_the_same_database_and_reports_every_bad_file() {
    let app = TestApp::start().await;
    let tree = tempfile::tempdir().unwrap();
    let fixture = write_fixture_tree(tree.path(), 5, 7).unwrap();

    // The hospital registered every fixture patient with demographics under its local
    // id (mapped onto its demo patients); the orphan's files must not be guessed.
    let hospital = app.org_of(SATO).await;
    let sato = app.principal(SATO).await;
    let local_ids: Vec<String> = walk(tree.path())
        .unwrap()
        .filter_map(|i| match i {
            StorageItem::File(f) if f.data_type == "ADT-00" => Some(f.patient_id),
            _ => None,
        })
        .collect();
    assert_eq!(local_ids.len(), fixture.patients);
    let owned: Vec<String> = {
        let mut c = app.raw_conn().await;
        sqlx::query("SELECT id FROM patients WHERE owner_org_id = $1 ORDER BY id")
            .bind(hospital.id.to_string())
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String, _>("id").unwrap())
            .collect()
    };
    assert!(owned.len() >= local_ids.len(), "the demo hospital owns enough charts");
    for (local, pid) in local_ids.iter().zip(&owned) {
        let g = app
            .store
            .open_chart(&sato, pid.parse().unwrap(), ChartAction::Write, "identifier.add", &AuditCtx::default())
            .await
            .unwrap();
        app.store.add_identifier(&g, local, &AuditCtx::default()).await.unwrap();
    }
    let code = hospital.code.clone().expect("the hospital has an institution code");
    let dir = tree.path().to_str().unwrap();

    let first = app.cli(&["import", "ss-mix2", dir, "--org", &code]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let out = stdout(&first);
    assert!(
        out.contains(&format!("{} lab files imported ({} results)", fixture.lab_files, fixture.lab_results)),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{} prescription files imported ({} prescriptions)",
            fixture.prescription_files, fixture.prescriptions
        )),
        "{out}"
    );
    assert!(out.contains(NO_ADT_PATIENT_ID), "the orphan's files are reported: {out}");
    let (results, files) = app.store.system_lab_counts().await.unwrap();
    assert_eq!((results, files), (fixture.lab_results as i64, fixture.lab_files as i64));
    // Each hostile file is reported with its path; the others went in.
    let err = stderr(&first);
    for h in &fixture.hostile {
        let bad = !matches!(
            h.expected,
            tsunagu_hl7::fixtures::ExpectedOutcome::Imports
                | tsunagu_hl7::fixtures::ExpectedOutcome::UnknownPatient { .. }
        );
        assert_eq!(err.contains(&h.path.display().to_string()), bad, "{:?} {:?}:\n{err}", h.kind, h.path);
    }

    let rx_counts = app.store.system_prescription_counts().await.unwrap();
    assert_eq!(rx_counts, (fixture.prescriptions as i64, fixture.prescription_files as i64));
    assert_eq!(audited(&app, "import.prescriptions").await, fixture.prescription_files as i64);

    // Again: nothing new, the same database.
    let second = app.cli(&["import", "ss-mix2", dir, "--org", &code]).await;
    assert!(second.status.success(), "{}", stderr(&second));
    let again = stdout(&second);
    assert!(
        again.contains(&format!(
            "0 lab files imported (0 results), 0 prescription files imported (0 prescriptions), {} imported before",
            fixture.lab_files + fixture.prescription_files
        )),
        "{again}"
    );
    assert_eq!(app.store.system_lab_counts().await.unwrap(), (results, files));
    assert_eq!(app.store.system_prescription_counts().await.unwrap(), rx_counts);
    assert_eq!(audited(&app, "import.prescriptions").await, fixture.prescription_files as i64);

    // On the chart: results from the hospital, abnormal ones flagged, the patient's
    // name with delimiter bytes in its kanji decoded before parsing.
    let mut c = app.raw_conn().await;
    let abnormal: i64 = sqlx::query("SELECT COUNT(*) FROM lab_results WHERE abnormal <> ''")
        .fetch_one(&mut c)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(abnormal, fixture.abnormal_lab_results as i64);
    let first_chart: tsunagu_domain::PatientId = owned[0].parse().unwrap();
    let g =
        app.store.open_chart(&sato, first_chart, ChartAction::Read, "labs.read", &AuditCtx::default()).await.unwrap();
    let labs = app.store.lab_results(&g).await.unwrap();
    assert!(!labs.is_empty() && labs.iter().all(|l| !l.unit.is_empty() || l.value_num.is_none()));
    assert!(sqlx::query("DELETE FROM lab_results").execute(&mut c).await.is_err(), "imported results are append-only");
    // The chart's lab page: one plot and table per test, the facility named.
    let page = app.signin(SATO).await.get(&format!("/patients/{first_chart}/labs")).await;
    assert_eq!(page.status, 200);
    let tests = labs.iter().map(|l| l.code.as_str()).collect::<std::collections::BTreeSet<_>>();
    assert_eq!(page.body.matches("<section class=\"card lab\"").count(), tests.len());
    assert!(page.text().contains(&hospital.name));

    // Prescriptions: append-only, and on the chart of the patient whose drug names put
    // delimiter bytes on the wire, exactly the drugs the fixture wrote for that patient,
    // by day, newest first.
    assert!(sqlx::query("DELETE FROM prescriptions").execute(&mut c).await.is_err(), "append-only");
    assert!(sqlx::query("UPDATE prescriptions SET drug_name = 'x'").execute(&mut c).await.is_err(), "append-only");
    let mut expected: Vec<(time::Date, String)> = Vec::new();
    for item in walk(tree.path()).unwrap() {
        let StorageItem::File(f) = item else { continue };
        if f.patient_id != HOSTILE_PATIENT_ID || f.data_type != "OMP-01" {
            continue;
        }
        let text = tsunagu_hl7::decode(&f.bytes, tsunagu_hl7::Charset::Iso2022Jp).unwrap();
        for p in tsunagu_hl7::parse(&text).unwrap().prescriptions().into_result().unwrap() {
            expected.push((p.ordered_at.unwrap().date, p.drug.text.unwrap()));
        }
    }
    assert!(expected.len() > HOSTILE_DRUG_NAMES.len(), "the hostile patient has more than one prescription file");
    let hostile_chart = local_ids.iter().position(|l| l == HOSTILE_PATIENT_ID).map(|i| &owned[i]).unwrap();
    let g = app
        .store
        .open_chart(
            &sato,
            hostile_chart.parse().unwrap(),
            ChartAction::Read,
            "prescriptions.read",
            &AuditCtx::default(),
        )
        .await
        .unwrap();
    let rows = app.store.prescriptions(&g).await.unwrap();
    assert_eq!(rows.len(), expected.len());
    assert!(rows.windows(2).all(|w| w[0].prescribed_at >= w[1].prescribed_at), "newest first");
    assert!(rows.iter().all(|r| r.drug_code_system == "HOT" && r.org_name == hospital.name));
    let loxoprofen = rows.iter().find(|r| r.drug_name == HOSTILE_DRUG_NAMES[2]).unwrap();
    assert_eq!((loxoprofen.days, loxoprofen.total_occurrences), (None, Some(10)));
    let kampo = rows.iter().find(|r| r.drug_name == HOSTILE_DRUG_NAMES[1]).unwrap();
    assert_eq!((kampo.dose.as_str(), kampo.daily_dose.as_str(), kampo.days), ("3", "9", Some(14)));
    assert_eq!((kampo.start_date.as_deref(), kampo.end_date.as_deref()), (Some("2024-03-15"), Some("2024-03-28")));

    let before = audited(&app, "prescriptions.read").await;
    let page = app.signin(SATO).await.get(&format!("/patients/{hostile_chart}/prescriptions")).await;
    assert_eq!(page.status, 200);
    assert_eq!(audited(&app, "prescriptions.read").await, before + 1, "the read is audited");
    let days: std::collections::BTreeSet<_> = expected.iter().map(|(d, _)| *d).collect();
    assert_eq!(page.body.matches("<section class=\"card rx\"").count(), days.len(), "one group per day and facility");
    assert_eq!(page.body.matches("<tr class=\"rx-line").count(), expected.len());
    let text = page.text();
    for (_, drug) in &expected {
        assert!(text.contains(drug.as_str()), "{drug} on the page");
    }
    // Newest first: the last prescription's drugs come before those of the first day.
    let newest = days.iter().next_back().unwrap();
    let oldest = days.iter().next().unwrap();
    let at = |d: &time::Date| text.find(&format!("{}年{}月{}日", d.year(), u8::from(d.month()), d.day())).unwrap();
    assert!(at(newest) < at(oldest), "{text}");
    assert!(text.find(HOSTILE_DRUG_NAMES[0]).unwrap() < at(oldest));
    assert!(text.contains("14日分") && text.contains("10回分") && text.contains("内服・経口・１日３回朝昼夕食後"));
    // Linked from the chart.
    let chart = app.signin(SATO).await.get(&format!("/patients/{hostile_chart}")).await;
    assert!(chart.body.contains(&format!("/patients/{hostile_chart}/prescriptions")));
    app.finish().await;
}

/// Allowed audit records with this action.
async fn audited(app: &TestApp, action: &str) -> i64 {
    let mut c = app.raw_conn().await;
    sqlx::query("SELECT COUNT(*) FROM audit WHERE action = $1 AND outcome = 'allowed'")
        .bind(action)
        .fetch_one(&mut c)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

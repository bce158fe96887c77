//! SS-MIX2 import of lab results (issue #7): a generated storage tree of synthetic
//! patients, ISO-2022-JP encoded with hostile files among them, imported twice through
//! the real `tsunagu` binary.

use crate::harness::*;
use sqlx::Row;
use tsunagu_domain::policy::ChartAction;
use tsunagu_hl7::fixtures::{NO_ADT_PATIENT_ID, write_fixture_tree};
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

    // Again: nothing new, the same database.
    let second = app.cli(&["import", "ss-mix2", dir, "--org", &code]).await;
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).contains(&format!("0 lab files imported (0 results), {} imported before", fixture.lab_files))
    );
    assert_eq!(app.store.system_lab_counts().await.unwrap(), (results, files));

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
    app.finish().await;
}

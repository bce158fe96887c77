//! The audit chain (DOMAIN.md §4): the database refuses to change it, and an edit made
//! around that refusal is found by the real `tsunagu audit verify`, which names the row.

use crate::harness::*;
use tsunagu_store::Backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_chain_refuses_changes_and_verify_names_a_tampered_row() {
    let app = TestApp::start().await;

    // Some activity to tamper with: a sign-in and a chart read.
    let sato = app.signin(SATO).await;
    let yamada = app.patient_id("ヤマダ").await;
    let page = sato.get(&format!("/patients/{yamada}")).await;
    assert_eq!(page.status, 200);
    let read = app
        .audit_of_request(&page.request_id())
        .await
        .into_iter()
        .find(|r| r.action == "chart.read" && r.outcome == "allowed")
        .expect("the chart read is in the audit chain");
    let seq = read.seq;
    // More activity after it, so that the row is inside the chain, not at its head.
    assert_eq!(sato.get("/patients?q=%E3%82%84%E3%81%BE%E3%81%A0").await.status, 200);
    assert_eq!(sato.get(&format!("/patients/{yamada}/access-log")).await.status, 200);
    assert!(app.store.audit_count().await.unwrap() > seq, "the row is not the last one");

    let out = app.cli(&["audit", "verify"]).await;
    assert!(out.status.success(), "verify on an untampered chain: {}", stderr(&out));
    assert!(stdout(&out).contains("intact"), "{}", stdout(&out));

    // The database itself refuses UPDATE and DELETE.
    let mut c = app.raw_conn().await;
    let upd = sqlx::query("UPDATE audit SET detail = 'edited' WHERE seq = $1").bind(seq).execute(&mut c).await;
    assert!(upd.is_err(), "the database must refuse UPDATE on audit");
    let del = sqlx::query("DELETE FROM audit WHERE seq = $1").bind(seq).execute(&mut c).await;
    assert!(del.is_err(), "the database must refuse DELETE on audit");
    if app.backend() == Backend::Postgres {
        let t = sqlx::raw_sql("TRUNCATE audit").execute(&mut c).await;
        assert!(t.is_err(), "the database must refuse TRUNCATE on audit");
    }
    assert_eq!(app.store.verify_audit().await.unwrap().first_break, None);

    // Someone with the rights of the database owner goes around the trigger.
    let drop = match app.backend() {
        Backend::Sqlite => "DROP TRIGGER audit_no_update",
        Backend::Postgres => "DROP TRIGGER audit_no_change ON audit",
    };
    sqlx::raw_sql(drop).execute(&mut c).await.unwrap();
    let n = sqlx::query("UPDATE audit SET detail = 'nothing to see' WHERE seq = $1")
        .bind(seq)
        .execute(&mut c)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 1);
    drop_conn(c).await;

    let out = app.cli(&["audit", "verify"]).await;
    assert!(!out.status.success(), "verify must fail on a tampered chain: {}", stdout(&out));
    assert!(stderr(&out).contains(&format!("seq={seq}")), "verify must name row {seq}: {}", stderr(&out));
    app.finish_with_audit_break_at(seq).await;
}

async fn drop_conn(c: sqlx::AnyConnection) {
    use sqlx::Connection;
    c.close().await.unwrap();
}

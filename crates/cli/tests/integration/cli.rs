//! Data directory safety (ENGINEERING.md §7): a mistyped database path is an error, not
//! a new empty database; a database newer than the program is refused and left alone.

use crate::harness::*;
use sqlx::Row;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_database_is_an_error_and_nothing_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(format!("typo-{}", random_uuid().simple()));
    let url = format!("sqlite://{}/missing.db", dir.display());
    let cases: &[&[&str]] =
        &[&["serve", "--listen", "127.0.0.1:0"], &["audit", "verify"], &["token", "create", "--user", SATO]];
    for args in cases {
        let out = run_cli(&url, args).await;
        let err = stderr(&out);
        assert!(!out.status.success(), "tsunagu {args:?} succeeded: {err}");
        assert!(err.contains("no database"), "tsunagu {args:?}: {err}");
        assert!(!dir.exists(), "tsunagu {args:?} created {}", dir.display());
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused_and_left_alone() {
    let app = TestApp::start().await;
    let out = app.cli(&["migrate"]).await;
    assert!(out.status.success(), "migrate on a current schema: {}", stderr(&out));

    let mut c = app.raw_conn().await;
    sqlx::query(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', '2030-01-01T00:00:00.000000Z')",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let before = schema_rows(&mut c).await;
    assert_eq!(before.1, 999);

    for args in [&["migrate"][..], &["serve", "--listen", "127.0.0.1:0"]] {
        let out = app.cli(args).await;
        let err = stderr(&out);
        assert!(!out.status.success(), "tsunagu {args:?} on schema 999: {err}");
        assert!(err.contains("newer"), "tsunagu {args:?}: {err}");
        assert!(err.contains("999"), "tsunagu {args:?}: {err}");
    }
    assert_eq!(schema_rows(&mut c).await, before, "the newer database was not touched");
    sqlx::Connection::close(c).await.unwrap();
    app.finish().await;
}

async fn schema_rows(c: &mut sqlx::AnyConnection) -> (i64, i64) {
    let r = sqlx::query("SELECT COUNT(*) AS n, MAX(version) AS v FROM schema_migrations").fetch_one(c).await.unwrap();
    (r.try_get("n").unwrap(), r.try_get("v").unwrap())
}

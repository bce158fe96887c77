//! `tsunagu backup` / `tsunagu restore` (issue #8, MHLW guideline: backups that restore):
//! a backup taken while notes are being written restores to a database whose every
//! record is one the live database holds, whose audit chain verifies, and whose files
//! hash right; a backup taken at rest restores to exactly the same records. A damaged
//! backup restores nothing; generations are kept as asked.

use crate::harness::*;
use serde_json::json;
use sqlx::Connection;
use std::collections::BTreeSet;
use std::path::Path;
use tsunagu_blobs::{BlobConfig, Blobs};
use tsunagu_store::Backend;

async fn rows(url: &str, sql: &str) -> BTreeSet<(String, String)> {
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut c)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

const ENTRIES: &str = "SELECT id, content_hash FROM entries";
const AUDIT: &str = "SELECT CAST(seq AS TEXT), hash FROM audit";
const FILES: &str = "SELECT id, sha256 FROM attachments";

/// A file on 山田 花子's chart (so a backup carries attachments), then 60 notes written
/// through the API in the background while the caller backs up; the task returns how
/// many were acknowledged.
async fn attach_and_write_notes(app: &TestApp) -> tokio::task::JoinHandle<i32> {
    let yamada = app.patient_id("ヤマダ").await;
    let token = app.token_for(TAKAHASHI).await;
    let api = app.bare_client();
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec();
    let r = api
        .post(app.at(&format!("/api/v1/patients/{yamada}/documents?doc_type=other&title=%E5%90%8C%E6%84%8F%E6%9B%B8")))
        .bearer_auth(&token)
        .header("content-type", "application/pdf")
        .body(pdf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let url = app.at(&format!("/api/v1/patients/{yamada}/entries"));
    tokio::spawn(async move {
        let mut acknowledged = 0;
        for i in 0..60 {
            let r = api
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({ "body": { "kind": "nursing_record", "text": format!("定時訪問 {i}: 疼痛 NRS 2") } }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            acknowledged += 1;
        }
        acknowledged
    })
}

async fn restore_into(dir: &Path, file: &Path) -> std::process::Output {
    let url = format!("sqlite://{}/tsunagu.db", dir.display());
    run_cli(&url, &["--data", dir.to_str().unwrap(), "restore", "--from", file.to_str().unwrap()]).await
}

fn only_backup_in(dir: &Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_write_load_restores_and_verifies() {
    let data = tempfile::tempdir().unwrap();
    let data_s = data.path().to_str().unwrap().to_string();
    let blobs = Blobs::from_config(&BlobConfig::Local { root: data.path().join("objects") }).unwrap();
    let app = TestApp::start_with_blobs(blobs).await;
    let backups = tempfile::tempdir().unwrap();
    let backups_s = backups.path().to_str().unwrap().to_string();

    if app.backend() == Backend::Postgres {
        // PostgreSQL is backed up with pg_dump; the command says so and writes nothing.
        let out = app.cli(&["--data", &data_s, "backup", "--to", &backups_s]).await;
        assert!(!out.status.success());
        assert!(stderr(&out).contains("pg_dump"), "{}", stderr(&out));
        assert_eq!(std::fs::read_dir(backups.path()).unwrap().count(), 0);
        app.finish().await;
        return;
    }

    let writer = attach_and_write_notes(&app).await;
    let out = app.cli(&["--data", &data_s, "backup", "--to", &backups_s]).await;
    assert!(out.status.success(), "backup: {}", stderr(&out));
    assert_eq!(writer.await.unwrap(), 60);
    let file = only_backup_in(backups.path());
    assert!(file.file_name().unwrap().to_str().unwrap().starts_with("tsunagu-backup-"));
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "the backup is private");
    }

    let restored = tempfile::tempdir().unwrap();
    let out = restore_into(restored.path(), &file).await;
    assert!(out.status.success(), "restore: {}", stderr(&out));
    let restored_url = format!("sqlite://{}/tsunagu.db", restored.path().display());
    // Every record of the copy is one the live database holds, unchanged; the copy's
    // audit chain verifies (the restore checked it, and so does the real command).
    for sql in [ENTRIES, AUDIT, FILES] {
        let copy = rows(&restored_url, sql).await;
        let live = rows(&app.url, sql).await;
        assert!(!copy.is_empty() && copy.is_subset(&live), "{sql}: the copy holds records the live database does not");
    }
    let verify = run_cli(&restored_url, &["--data", restored.path().to_str().unwrap(), "audit", "verify"]).await;
    assert!(verify.status.success(), "{}", stdout(&verify));
    // Every attachment of the copy is in the restored files, hashing right.
    let restored_blobs = Blobs::from_config(&BlobConfig::Local { root: restored.path().join("objects") }).unwrap();
    for (_, sha) in rows(&restored_url, FILES).await {
        restored_blobs.get(&sha).await.unwrap_or_else(|e| panic!("attachment {sha} after restore: {e}"));
    }

    // At rest, a backup restores to exactly the same records.
    std::fs::remove_file(&file).unwrap();
    let out = app.cli(&["--data", &data_s, "backup", "--to", &backups_s]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let again = tempfile::tempdir().unwrap();
    let out = restore_into(again.path(), &only_backup_in(backups.path())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let again_url = format!("sqlite://{}/tsunagu.db", again.path().display());
    for sql in [ENTRIES, FILES] {
        assert_eq!(rows(&again_url, sql).await, rows(&app.url, sql).await, "{sql}");
    }
    app.finish().await;
}

/// Run a PostgreSQL client tool (pg_dump, pg_restore) and insist it worked.
async fn pg_tool(tool: &str, args: &[&str]) {
    let out = tokio::process::Command::new(tool).args(args).output().await.unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The PostgreSQL procedure of docs/operations.md, under write load: `pg_dump -Fc` while
/// notes arrive, the attachment files copied after it, `pg_restore` into an empty
/// database. Every restored record is one the live database holds, the restored audit
/// chain verifies with the real command, and every restored attachment hashes right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_dump_taken_under_write_load_restores_and_verifies() {
    let data = tempfile::tempdir().unwrap();
    let blobs = Blobs::from_config(&BlobConfig::Local { root: data.path().join("objects") }).unwrap();
    let app = TestApp::start_with_blobs(blobs).await;
    if app.backend() != Backend::Postgres {
        // The SQLite path is `tsunagu backup`, tested above.
        app.finish().await;
        return;
    }
    let dumps = tempfile::tempdir().unwrap();
    let dump = dumps.path().join("tsunagu.dump");
    let writer = attach_and_write_notes(&app).await;
    pg_tool("pg_dump", &["-Fc", "-f", dump.to_str().unwrap(), &app.url]).await;
    assert_eq!(writer.await.unwrap(), 60);
    let objects = dumps.path().join("objects");
    copy_tree(&data.path().join("objects"), &objects);

    // Restore into a new, empty database beside the live one.
    let admin = std::env::var("TSUNAGU_TEST_POSTGRES_URL").unwrap();
    let name = format!("tsunagu_restore_{}", random_uuid().simple());
    let mut c = sqlx::AnyConnection::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await.unwrap();
    let restored_url = format!("{}/{name}", app.url.rsplit_once('/').unwrap().0);
    pg_tool("pg_restore", &["--no-owner", "--exit-on-error", "-d", &restored_url, dump.to_str().unwrap()]).await;

    for sql in [ENTRIES, AUDIT, FILES] {
        let copy = rows(&restored_url, sql).await;
        let live = rows(&app.url, sql).await;
        assert!(!copy.is_empty() && copy.is_subset(&live), "{sql}: the copy holds records the live database does not");
    }
    let verify = run_cli(&restored_url, &["audit", "verify"]).await;
    assert!(verify.status.success(), "{}{}", stdout(&verify), stderr(&verify));
    let restored_blobs = Blobs::from_config(&BlobConfig::Local { root: objects }).unwrap();
    for (_, sha) in rows(&restored_url, FILES).await {
        restored_blobs.get(&sha).await.unwrap_or_else(|e| panic!("attachment {sha} after restore: {e}"));
    }
    // The restored copy is as append-only as the original: its triggers came along.
    let mut r = sqlx::AnyConnection::connect(&restored_url).await.unwrap();
    assert!(sqlx::query("DELETE FROM entries").execute(&mut r).await.is_err());
    let _ = r.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut c)
        .await
        .unwrap();
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_backup_restores_nothing_and_generations_are_kept() {
    let data = tempfile::tempdir().unwrap();
    let data_s = data.path().to_str().unwrap().to_string();
    let blobs = Blobs::from_config(&BlobConfig::Local { root: data.path().join("objects") }).unwrap();
    let app = TestApp::start_with_blobs(blobs).await;
    if app.backend() == Backend::Postgres {
        app.finish().await;
        return;
    }
    let backups = tempfile::tempdir().unwrap();
    let backups_s = backups.path().to_str().unwrap().to_string();
    for n in 0..3 {
        // Backup files are named by the second; the clock of the test server does not
        // move, the real binary's does.
        if n > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
        let out = app.cli(&["--data", &data_s, "backup", "--to", &backups_s, "--keep", "2"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let mut kept: Vec<_> = std::fs::read_dir(backups.path()).unwrap().map(|e| e.unwrap().path()).collect();
    kept.sort();
    assert_eq!(kept.len(), 2, "two generations kept: {kept:?}");

    // One flipped byte inside the database: refused, nothing written.
    let mut bytes = std::fs::read(&kept[1]).unwrap();
    let at = bytes.windows(15).position(|w| w == b"SQLite format 3").unwrap() + 4096;
    bytes[at] ^= 0x55;
    let damaged = backups.path().join("damaged.tar");
    std::fs::write(&damaged, &bytes).unwrap();
    let target = tempfile::tempdir().unwrap();
    let out = restore_into(target.path(), &damaged).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("damaged"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0, "a refused restore wrote something");

    // A good one restores, and never over an existing database.
    let out = restore_into(target.path(), &kept[1]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = restore_into(target.path(), &kept[1]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    app.finish().await;
}

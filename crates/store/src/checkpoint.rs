//! Checkpoints of SQLite's write-ahead log, off the writer's path.
//!
//! A commit appends pages to the log; a checkpoint copies them back into the database
//! file, so that the log can start over. By default SQLite checkpoints in the connection
//! that commits, once the log holds 1,000 pages: the store's one writer then stops
//! writing while it copies and syncs, and every waiting write waits too. Under FHIR
//! transactions this was a seventh of the writer's time (bench/results/scale.md, W6).
//!
//! Here a task of its own, on a connection of its own, checkpoints every
//! [`EVERY`], passively: it copies what no reader still needs and never blocks the
//! writer or a reader. The writer keeps its own checkpoint as a backstop at
//! [`WRITER_BACKSTOP`] pages, reached only if this task falls behind (or does not run, as
//! outside a tokio runtime). Durability does not change: a commit is durable once its
//! log frames are synced, before any checkpoint.

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, Connection, Executor, Row};
use std::time::Duration;
use tokio::sync::watch;

/// How often the task folds the log back into the database file. An idle database
/// costs a statement that finds nothing to copy.
const EVERY: Duration = Duration::from_millis(200);

/// The writer's own checkpoint, in pages of log (4 KiB each): far above what the task
/// leaves between two of its checkpoints.
pub(crate) const WRITER_BACKSTOP: &str = "PRAGMA wal_autocheckpoint = 16000";

/// The running task; it stops when the last clone of the store (which holds this) is
/// dropped.
pub(crate) struct Checkpointer {
    _stop: watch::Sender<()>,
}

impl Checkpointer {
    /// Start checkpointing the database that `opts` opens, on the current tokio runtime;
    /// None outside one (the writer's backstop then does it all).
    pub(crate) fn start(opts: AnyConnectOptions) -> Option<Checkpointer> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (stop, mut stopped) = watch::channel(());
        handle.spawn(async move {
            let mut conn: Option<AnyConnection> = None;
            loop {
                tokio::select! {
                    // Nothing is ever sent: this ends when the sender is dropped.
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(EVERY) => {}
                }
                if let Err(e) = checkpoint(&opts, &mut conn).await {
                    // The next round opens a new connection; meanwhile the writer's
                    // backstop keeps the log bounded.
                    tracing::warn!(error = %e, "a write-ahead log checkpoint failed");
                    conn = None;
                }
            }
            if let Some(c) = conn {
                let _ = c.close().await;
            }
        });
        Some(Checkpointer { _stop: stop })
    }
}

/// One passive checkpoint, on the task's connection (opened on first use).
async fn checkpoint(opts: &AnyConnectOptions, conn: &mut Option<AnyConnection>) -> crate::Result<()> {
    let c = match conn {
        Some(c) => c,
        None => {
            let mut c = AnyConnection::connect_with(opts).await?;
            // A checkpoint syncs the log before copying and the database file after.
            c.execute("PRAGMA synchronous = FULL").await?;
            conn.insert(c)
        }
    };
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *c).await?;
    let (log, copied): (i64, i64) = (row.try_get(1)?, row.try_get(2)?);
    tracing::trace!(log, copied, "write-ahead log checkpoint");
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{OpenMode, Store};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use tsunagu_domain::clock::{RandomIdGen, SystemClock};

    /// The rows of `probe` the database file holds without its log: SQLite reads an
    /// immutable database as it is on disk, ignoring the write-ahead log. 0 while the
    /// file does not hold the table yet (or is caught mid-copy).
    async fn probes_in_file(path: &std::path::Path) -> i64 {
        use sqlx::ConnectOptions;
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(path).immutable(true).read_only(true);
        let Ok(mut c) = opts.connect().await else { return 0 };
        sqlx::query_scalar("SELECT COUNT(*) FROM probe").fetch_one(&mut c).await.unwrap_or(0)
    }

    /// A write reaches the database file although the writer never checkpoints it
    /// itself (it is far below the writer's backstop): the task copied it.
    #[tokio::test]
    async fn the_task_folds_the_log_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let url = format!("sqlite://{}", path.display());
        let store =
            Store::open(&url, OpenMode::CreateIfMissing, Arc::new(SystemClock), Arc::new(RandomIdGen)).await.unwrap();
        sqlx::query("CREATE TABLE probe (x INTEGER)").execute(&store.write).await.unwrap();
        sqlx::query("INSERT INTO probe (x) VALUES (1)").execute(&store.write).await.unwrap();
        let started = Instant::now();
        while probes_in_file(&path).await != 1 {
            assert!(started.elapsed() < Duration::from_secs(30), "no checkpoint copied the write within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

//! Group commit: writes that arrive while one commit is under way wait for the next,
//! and go in together: one transaction, one fsync (SQLite's single writer) or one WAL
//! flush (PostgreSQL), many writes. Every read of patient data writes an audit record,
//! and every note is a write with its audit record, so on a busy server nearly every
//! request is a write, and before this each paid a commit of its own.
//!
//! Each write is a *unit*: statements run on the batch's connection. Inside a batch each
//! unit runs under a savepoint, so a unit that fails (a stale version, a constraint) is
//! rolled back alone and gets its own error, and the others commit. A read's audit
//! record is no unit but a record to append: the batch appends all of them at once
//! (`audit::append_rows`, a few statements for the lot), before its units; five
//! statements per read went to the savepoint and the chain's head before. Each caller is
//! answered only after the commit that holds its unit: "acknowledged only after commit"
//! still holds, and so does "every read is recorded before anything is shown".

use crate::audit::{Appending, AuditCtx, AuditEvent, append_row, append_rows};
use crate::{Result, StoreError};
use sqlx::{AnyConnection, AnyPool};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::{mpsc, oneshot};

/// Units in one transaction at most: a burst larger than this is split, so one commit
/// never holds the writer for long.
const BATCH: usize = 256;

/// Waiting units at most before callers wait too (back-pressure, not loss).
const QUEUE: usize = 8192;

/// The statements of one write, run on the batch's connection inside its transaction;
/// its number (an audit sequence number, or 0) is the caller's answer after the commit.
pub(crate) type Unit =
    Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> Pin<Box<dyn Future<Output = Result<i64>> + Send + 'c>> + Send>;

/// Make a [`Unit`] of a closure (this fixes the closure's signature, which a plain
/// `Box::new` would not infer).
pub(crate) fn unit<F>(f: F) -> Unit
where
    F: for<'c> FnOnce(&'c mut AnyConnection) -> Pin<Box<dyn Future<Output = Result<i64>> + Send + 'c>> + Send + 'static,
{
    Box::new(f)
}

/// What a caller hands the committer.
pub(crate) enum Write {
    /// Statements of its own, run under a savepoint.
    Unit(Unit),
    /// One audit record and nothing else (a read's), at the given time: appended
    /// together with the batch's other records.
    Audit(AuditEvent, AuditCtx, String),
}

struct Pending {
    write: Write,
    done: oneshot::Sender<Result<i64>>,
}

/// The way to the committer task.
#[derive(Clone)]
pub(crate) struct WriteQueue {
    tx: mpsc::Sender<Pending>,
}

impl WriteQueue {
    /// Start the committer on the current tokio runtime; None outside one.
    pub(crate) fn start(write: AnyPool) -> Option<WriteQueue> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        handle.spawn(committer(write, rx));
        Some(WriteQueue { tx })
    }

    /// Run `write` in the next batch; Err(write) when the committer is gone (its runtime
    /// ended), so that the caller runs it on its own.
    pub(crate) async fn run(&self, write: Write) -> std::result::Result<Result<i64>, Write> {
        let (done, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(p)) = self.tx.send(Pending { write, done }).await {
            return Err(p.write);
        }
        Ok(match answer.await {
            Ok(r) => r,
            // Taken but never answered (the runtime is shutting down mid-commit): the write
            // may or may not be in; failing closed is the only safe answer.
            Err(_) => Err(StoreError::Corrupt("the write was not committed (the committer stopped)".into())),
        })
    }
}

/// A write on its own transaction: the path without a committer, and a batch of one.
pub(crate) async fn run_alone(pool: &AnyPool, write: Write) -> Result<i64> {
    let mut tx = pool.begin().await?;
    let n = match write {
        Write::Unit(unit) => unit(&mut tx).await?,
        Write::Audit(ev, ctx, at) => append_row(&mut tx, &ev, &ctx, at).await?,
    };
    tx.commit().await?;
    Ok(n)
}

/// Runs until every sender is gone: take what is waiting (at least one), commit it as
/// one transaction, answer each.
async fn committer(write: AnyPool, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        if batch.len() == 1
            && let Some(p) = batch.pop()
        {
            let _ = p.done.send(run_alone(&write, p.write).await);
            continue;
        }
        commit_batch(&write, std::mem::take(&mut batch)).await;
    }
}

async fn commit_batch(write: &AnyPool, batch: Vec<Pending>) {
    let mut answers: Vec<(oneshot::Sender<Result<i64>>, Result<i64>)> = Vec::with_capacity(batch.len());
    let (mut records, mut units) = (Vec::new(), Vec::new());
    for p in batch {
        match p.write {
            Write::Audit(ev, ctx, at) => records.push((p.done, ev, ctx, at)),
            Write::Unit(unit) => units.push((p.done, unit)),
        }
    }
    let outcome: Result<()> = async {
        let mut tx = write.begin().await?;
        let appending: Vec<_> = records.iter().map(|(_, ev, ctx, at)| Appending { ev, ctx, at }).collect();
        let last = append_rows(&mut tx, &appending).await?;
        drop(appending);
        // The records took the sequence numbers up to `last`, in order.
        let first = last + 1 - i64::try_from(records.len()).unwrap_or(i64::MAX);
        for (seq, (done, ..)) in (first..).zip(records) {
            answers.push((done, Ok(seq)));
        }
        for (done, unit) in units {
            sqlx::query("SAVEPOINT unit").execute(&mut *tx).await?;
            let r = unit(&mut tx).await;
            if r.is_err() {
                // Undo this unit alone (on PostgreSQL this also clears the aborted state).
                sqlx::query("ROLLBACK TO SAVEPOINT unit").execute(&mut *tx).await?;
            }
            sqlx::query("RELEASE SAVEPOINT unit").execute(&mut *tx).await?;
            answers.push((done, r));
        }
        tx.commit().await?;
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => {
            for (done, r) in answers {
                let _ = done.send(r);
            }
        }
        Err(e) => {
            // Nothing of the batch is in: every unit, including those that had
            // succeeded, is answered with the failure.
            tracing::error!(error = %e, units = answers.len(), "a group commit failed; nothing of it was written");
            let text = e.to_string();
            for (done, _) in answers {
                let _ = done.send(Err(StoreError::Corrupt(format!("group commit failed: {text}"))));
            }
        }
    }
}

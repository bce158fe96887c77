//! What a backup needs from the database: a consistent copy taken while the server
//! runs, and the list of stored files the copy refers to. System paths: they read no
//! patient's data for anyone (the copy goes to the operator's backup file).

use crate::db::{Backend, Store};
use crate::{Result, StoreError};
use sqlx::Row;
use std::path::Path;

impl Store {
    /// SQLite: write a consistent snapshot of the whole database to `path` (a new file)
    /// with `VACUUM INTO`, on a reader connection, so writers carry on meanwhile.
    /// PostgreSQL has its own tool for this (`pg_dump`): refused here.
    pub async fn snapshot_into(&self, path: &Path) -> Result<()> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::Unsupported("snapshots are for SQLite; back up PostgreSQL with pg_dump"));
        }
        let target = path.to_str().ok_or(StoreError::Unsupported("the backup path is not UTF-8"))?;
        sqlx::query("VACUUM INTO $1").bind(target).execute(&self.read).await?;
        Ok(())
    }

    /// Where the audit chain ends: the last sequence number and its hash.
    pub async fn audit_head(&self) -> Result<(i64, String)> {
        let r = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&self.read).await?;
        Ok((r.try_get("seq")?, r.try_get("hash")?))
    }

    /// The SHA-256 of every stored file the database refers to, sorted.
    pub async fn system_attachment_hashes(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT sha256 FROM attachments UNION SELECT sha256 FROM diary_photos ORDER BY sha256")
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>("sha256")?)).collect()
    }
}

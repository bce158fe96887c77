//! `tsunagu backup` and `tsunagu restore`: one file holding a consistent copy of the
//! database and every stored file it refers to, with a manifest of SHA-256 hashes, so
//! that a restore can prove it put back exactly what was saved.
//!
//! The backup file is a plain tar (readable with any tar tool in an emergency):
//!   manifest.json       what is inside, with hashes, schema version and audit head
//!   tsunagu.db          the SQLite database, snapshotted with `VACUUM INTO` while the
//!                       server runs (writers are not stopped)
//!   objects/<sha256>    each attachment, named by its hash
//!
//! PostgreSQL deployments back up the database with `pg_dump` (docs/operations.md);
//! this command refuses them rather than produce half a backup.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tsunagu_domain::clock::{RandomIdGen, SystemClock};
use tsunagu_store::{Backend, OpenMode, Store};

use crate::config::Config;

pub const FORMAT: &str = "tsunagu-backup/1";
const DB_NAME: &str = "tsunagu.db";
/// Backup files made in a directory are named `PREFIX<UTC time>.tar`, so that name order
/// is age order for keeping generations.
const PREFIX: &str = "tsunagu-backup-";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: String,
    pub created_at: String,
    pub tsunagu_version: String,
    pub schema_version: i64,
    /// The last record of the audit chain in the copy (its sequence number and hash).
    pub audit_seq: i64,
    pub audit_head: String,
    pub database: FileEntry,
    pub objects: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct BackupSummary {
    pub file: PathBuf,
    pub manifest: Manifest,
    /// Older backup files removed to keep the number of generations asked for.
    pub removed: Vec<PathBuf>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn is_sqlite(cfg: &Config) -> bool {
    cfg.database_url().starts_with("sqlite:")
}

/// Where the backup goes: `to` itself, or a new time-named file when `to` is a directory.
fn target_file(to: &Path, stamp: &str) -> PathBuf {
    if to.is_dir() { to.join(format!("{PREFIX}{stamp}.tar")) } else { to.to_path_buf() }
}

/// Take a backup while the server runs. `keep`, when `to` is a directory, removes the
/// oldest backup files there beyond that many.
pub async fn backup(cfg: &Config, to: &Path, keep: Option<usize>) -> Result<BackupSummary> {
    if !is_sqlite(cfg) {
        bail!(
            "`tsunagu backup` copies the embedded SQLite database; this deployment uses PostgreSQL: \
             back the database up with `pg_dump -Fc` and the attachments with your object store's \
             versioning or a copy of the objects directory (docs/operations.md, \"Backup and restore\")"
        );
    }
    let store = crate::commands::open_store(cfg, OpenMode::MustExist).await?;
    let now = store.now();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let file = target_file(to, &stamp);
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    // Work next to the target (same file system), so the final rename is atomic.
    let work = tempfile::Builder::new()
        .prefix(".tsunagu-backup-")
        .tempdir_in(parent)
        .with_context(|| format!("a working directory in {}", parent.display()))?;
    let snapshot = work.path().join(DB_NAME);
    store.snapshot_into(&snapshot).await.context("snapshotting the database")?;
    store.close().await;

    // The copy says which files it refers to and where its audit chain ends.
    let copy = Store::open(
        &format!("sqlite://{}", snapshot.display()),
        OpenMode::MustExist,
        Arc::new(SystemClock),
        Arc::new(RandomIdGen),
    )
    .await
    .context("opening the snapshot")?;
    let report = copy.verify_audit().await.context("verifying the snapshot's audit chain")?;
    if let Some((seq, why)) = report.first_break {
        bail!("the audit chain of the database is broken at record {seq} ({why}); not backing up a tampered chain");
    }
    let (audit_seq, audit_head) = copy.audit_head().await?;
    let schema_version = copy.schema_version().await?;
    let hashes = copy.system_attachment_hashes().await?;
    copy.close().await;

    let blobs = crate::commands::open_blobs(cfg).await?;
    let db_bytes = std::fs::read(&snapshot).with_context(|| format!("reading {}", snapshot.display()))?;
    let mut manifest = Manifest {
        format: FORMAT.into(),
        created_at: tsunagu_store::ts(now),
        tsunagu_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        audit_seq,
        audit_head,
        database: FileEntry { path: DB_NAME.into(), size: db_bytes.len() as u64, sha256: sha256_hex(&db_bytes) },
        objects: Vec::new(),
    };

    let partial = work.path().join("backup.tar");
    {
        let out = std::fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
        // Every patient's data is in it: readable by the owner only, whatever the umask.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            out.set_permissions(std::fs::Permissions::from_mode(0o600)).context("restricting the backup file")?;
        }
        let mut tar = tar::Builder::new(std::io::BufWriter::new(out));
        let mut objects: Vec<(String, Vec<u8>)> = Vec::with_capacity(hashes.len());
        for sha in &hashes {
            // `get` checks the bytes against their hash: a damaged file is not backed up
            // silently as if it were good.
            let bytes = blobs.get(sha).await.with_context(|| format!("reading attachment {sha}"))?;
            manifest.objects.push(FileEntry {
                path: format!("objects/{sha}"),
                size: bytes.len() as u64,
                sha256: sha.clone(),
            });
            objects.push((format!("objects/{sha}"), bytes));
        }
        let manifest_json = serde_json::to_vec_pretty(&manifest)?;
        append(&mut tar, "manifest.json", &manifest_json)?;
        append(&mut tar, DB_NAME, &db_bytes)?;
        for (path, bytes) in &objects {
            append(&mut tar, path, bytes)?;
        }
        let out = tar.into_inner().context("finishing the backup file")?;
        let file = out.into_inner().map_err(|e| anyhow::anyhow!("writing the backup file: {e}"))?;
        file.sync_all().context("syncing the backup file")?;
    }
    std::fs::rename(&partial, &file).with_context(|| format!("moving the backup to {}", file.display()))?;

    let removed = match keep {
        Some(n) if to.is_dir() => prune(to, n)?,
        _ => Vec::new(),
    };
    Ok(BackupSummary { file, manifest, removed })
}

fn append<W: std::io::Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o600);
    h.set_cksum();
    tar.append_data(&mut h, path, bytes).with_context(|| format!("adding {path} to the backup"))
}

/// Keep the newest `keep` backup files of the directory; returns what was removed.
fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(".tar"))
        })
        .collect();
    files.sort();
    let excess = files.len().saturating_sub(keep.max(1));
    let mut removed = Vec::new();
    for f in files.into_iter().take(excess) {
        std::fs::remove_file(&f).with_context(|| format!("removing the old backup {}", f.display()))?;
        removed.push(f);
    }
    Ok(removed)
}

#[derive(Debug, Clone)]
pub struct RestoreSummary {
    pub manifest: Manifest,
}

/// Restore a backup into an empty data directory (the configured SQLite database must
/// not exist yet). Every file is checked against the manifest before anything is put
/// in place; a damaged backup restores nothing.
pub async fn restore(cfg: &Config, from: &Path) -> Result<RestoreSummary> {
    if !is_sqlite(cfg) {
        bail!(
            "`tsunagu restore` restores the embedded SQLite database; restore PostgreSQL with pg_restore (docs/operations.md)"
        );
    }
    let url = cfg.database_url();
    let db_path = PathBuf::from(url.trim_start_matches("sqlite://").trim_start_matches("sqlite:"));
    if db_path.exists() {
        bail!(
            "{} already exists: restore into an empty data directory (or move the old database away first)",
            db_path.display()
        );
    }

    // Read everything and check it before writing anything.
    let file = std::fs::File::open(from).with_context(|| format!("opening {}", from.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let mut manifest: Option<Manifest> = None;
    let mut db: Option<Vec<u8>> = None;
    let mut objects: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in archive.entries().context("reading the backup file")? {
        let mut entry = entry.context("reading the backup file")?;
        let path = entry.path().context("a name in the backup file")?.to_string_lossy().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).with_context(|| format!("reading {path} from the backup"))?;
        if path == "manifest.json" {
            manifest = Some(serde_json::from_slice(&bytes).context("the backup's manifest is not readable")?);
        } else if path == DB_NAME {
            db = Some(bytes);
        } else if let Some(sha) = path.strip_prefix("objects/") {
            objects.push((sha.to_string(), bytes));
        } else {
            bail!("the backup holds an unexpected file {path:?}; not a tsunagu backup?");
        }
    }
    let manifest = manifest.context("the backup has no manifest.json; not a tsunagu backup")?;
    if manifest.format != FORMAT {
        bail!("the backup is in format {:?}; this tsunagu reads {FORMAT:?}", manifest.format);
    }
    let db = db.context("the backup holds no database")?;
    if sha256_hex(&db) != manifest.database.sha256 || db.len() as u64 != manifest.database.size {
        bail!("the database in the backup does not match its manifest: the file is damaged; nothing was restored");
    }
    let mut listed: Vec<&str> = manifest.objects.iter().map(|o| o.sha256.as_str()).collect();
    listed.sort_unstable();
    let mut found: Vec<&str> = objects.iter().map(|(s, _)| s.as_str()).collect();
    found.sort_unstable();
    if listed != found {
        bail!("the attachments in the backup do not match its manifest; nothing was restored");
    }
    for (sha, bytes) in &objects {
        if &sha256_hex(bytes) != sha {
            bail!("attachment {sha} in the backup is damaged; nothing was restored");
        }
    }

    // Attachments first (content-addressed, so a retry is harmless), then the database,
    // written under a temporary name and renamed, so a half-restored database never exists.
    let blobs = crate::commands::open_blobs(cfg).await?;
    for (sha, bytes) in &objects {
        let stored = blobs.put(bytes).await.with_context(|| format!("storing attachment {sha}"))?;
        if &stored.sha256 != sha {
            bail!("attachment {sha} was stored as {}", stored.sha256);
        }
    }
    if let Some(dir) = db_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let partial = db_path.with_extension("db.restoring");
    std::fs::write(&partial, &db).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::File::open(&partial).and_then(|f| f.sync_all()).context("syncing the restored database")?;
    std::fs::rename(&partial, &db_path).with_context(|| format!("moving the database to {}", db_path.display()))?;

    // The restored copy must open, be of the version saved and verify.
    let store = crate::commands::open_store(cfg, OpenMode::MustExist).await?;
    if store.backend() != Backend::Sqlite || store.schema_version().await? != manifest.schema_version {
        bail!("the restored database does not have the schema version of the manifest");
    }
    let report = store.verify_audit().await?;
    if let Some((seq, why)) = report.first_break {
        bail!("the restored audit chain breaks at record {seq} ({why})");
    }
    let (seq, head) = store.audit_head().await?;
    if (seq, head.as_str()) != (manifest.audit_seq, manifest.audit_head.as_str()) {
        bail!("the restored audit chain ends at record {seq}, the manifest says {}", manifest.audit_seq);
    }
    store.close().await;
    Ok(RestoreSummary { manifest })
}

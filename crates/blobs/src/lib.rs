//! Attachments' bytes, addressed by their SHA-256: the same file stored twice takes the
//! space once, and a stored file can always be checked against its name. The database
//! records which chart a file belongs to; this crate only keeps bytes.
//!
//! Two backends behind one type: a directory under the data directory (default) and an
//! S3-compatible object store (configured by endpoint, bucket and path style).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no such object")]
    NotFound,
    #[error("stored object does not match its hash (corrupted)")]
    Corrupt,
    #[error("storage I/O: {0}")]
    Io(String),
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub sha256: String,
    pub size: u64,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn valid_hash(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Files in a directory, fanned out by the first two bytes of the hash
/// (`ab/cd/abcd...`), written to a temporary name, fsynced, then renamed into place so
/// that a crash never leaves a half-written object under a valid name.
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path_of(&self, sha256: &str) -> PathBuf {
        let a = sha256.get(0..2).unwrap_or("00");
        let b = sha256.get(2..4).unwrap_or("00");
        self.root.join(a).join(b).join(sha256)
    }

    async fn put(&self, bytes: &[u8]) -> Result<StoredBlob, BlobError> {
        let sha256 = sha256_hex(bytes);
        let path = self.path_of(&sha256);
        let stored = StoredBlob {
            sha256: sha256.clone(),
            size: bytes.len() as u64,
        };
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(stored);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| BlobError::Io(e.to_string()))?;
        let tmp = dir.join(format!(".{sha256}.tmp"));
        let write = async {
            use tokio::io::AsyncWriteExt;
            let mut f = tokio::fs::File::create(&tmp).await?;
            f.write_all(bytes).await?;
            f.sync_all().await?;
            tokio::fs::rename(&tmp, &path).await?;
            // The rename itself must survive a crash.
            tokio::fs::File::open(dir).await?.sync_all().await
        };
        write.await.map_err(|e| BlobError::Io(e.to_string()))?;
        Ok(stored)
    }

    async fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        match tokio::fs::read(self.path_of(sha256)).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::NotFound),
            Err(e) => Err(BlobError::Io(e.to_string())),
        }
    }
}

/// The configured object store.
#[derive(Debug, Clone)]
pub enum Blobs {
    Local(LocalBlobs),
}

impl Blobs {
    /// Store bytes; returns their hash and size. Idempotent.
    pub async fn put(&self, bytes: &[u8]) -> Result<StoredBlob, BlobError> {
        match self {
            Blobs::Local(l) => l.put(bytes).await,
        }
    }

    /// Read bytes back and check them against their hash.
    pub async fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        if !valid_hash(sha256) {
            return Err(BlobError::NotFound);
        }
        let bytes = match self {
            Blobs::Local(l) => l.get(sha256).await?,
        };
        if sha256_hex(&bytes) != sha256 {
            tracing::error!(sha256, "stored object does not match its hash");
            return Err(BlobError::Corrupt);
        }
        Ok(bytes)
    }

    pub fn describe(&self) -> String {
        match self {
            Blobs::Local(l) => format!("local:{}", l.root.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_round_trip_and_corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let b = Blobs::Local(LocalBlobs::new(dir.path()));
        let s = b.put(b"%PDF-1.7 hello").await.unwrap();
        assert_eq!(s.size, 14);
        assert_eq!(b.put(b"%PDF-1.7 hello").await.unwrap(), s, "idempotent");
        assert_eq!(b.get(&s.sha256).await.unwrap(), b"%PDF-1.7 hello");
        assert!(matches!(
            b.get(&"0".repeat(64)).await,
            Err(BlobError::NotFound)
        ));
        assert!(matches!(
            b.get("../../etc/passwd").await,
            Err(BlobError::NotFound)
        ));
        let Blobs::Local(l) = &b;
        std::fs::write(l.path_of(&s.sha256), b"tampered").unwrap();
        assert!(matches!(b.get(&s.sha256).await, Err(BlobError::Corrupt)));
    }
}

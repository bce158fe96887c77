//! Attachments' bytes, addressed by their SHA-256: the same file stored twice takes the
//! space once, and a stored file can always be checked against its name. The database
//! records which chart a file belongs to; this crate only keeps bytes.
//!
//! Two backends behind one type: a directory under the data directory (default) and an
//! S3-compatible object store (configured by endpoint, bucket and path style).

use object_store::ObjectStoreExt as _;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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
    h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
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
        let stored = StoredBlob { sha256: sha256.clone(), size: bytes.len() as u64 };
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(stored);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir).await.map_err(|e| BlobError::Io(e.to_string()))?;
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

    /// Create the directory if needed, then write, read back and remove a probe file.
    async fn check(&self) -> Result<(), BlobError> {
        let probe = self.root.join(format!(".tsunagu-check.{}.tmp", std::process::id()));
        let io = |e: std::io::Error| BlobError::Io(format!("{}: {e}", self.root.display()));
        tokio::fs::create_dir_all(&self.root).await.map_err(io)?;
        tokio::fs::write(&probe, CHECK_BYTES).await.map_err(io)?;
        let back = tokio::fs::read(&probe).await;
        let removed = tokio::fs::remove_file(&probe).await;
        if back.map_err(io)? != CHECK_BYTES {
            return Err(BlobError::Io(format!("{}: probe file read back differently", self.root.display())));
        }
        removed.map_err(io)
    }
}

/// What `check` writes (and reads back) to prove the store works.
const CHECK_BYTES: &[u8] = b"tsunagu storage check\n";

/// Where an S3-compatible store is and how to talk to it.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Base URL, e.g. `https://s3.eu-central-1.amazonaws.com` or `http://127.0.0.1:9000`.
    /// Empty means AWS's endpoint for `region`.
    pub endpoint: String,
    pub bucket: String,
    /// Empty means `us-east-1` (what most self-hosted stores expect).
    pub region: String,
    /// Empty (with an empty secret) means no static keys: the usual AWS credential
    /// sources (instance metadata) are used instead.
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `{endpoint}/{bucket}/{key}` rather than `{bucket}.{endpoint}/{key}`; most
    /// self-hosted stores (MinIO, Ceph, Garage) need this.
    pub path_style: bool,
    /// Allow a plain `http://` endpoint (testing, or a store on a trusted network).
    pub allow_http: bool,
    /// Prepended verbatim to every key: `{prefix}{ab}/{cd}/{sha256}`. Usually empty or
    /// ends with `/` (e.g. `tsunagu/attachments/`).
    pub prefix: String,
}

impl std::fmt::Debug for S3Config {
    // The secret key must never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &if self.secret_access_key.is_empty() { "" } else { "<redacted>" })
            .field("path_style", &self.path_style)
            .field("allow_http", &self.allow_http)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// Which backend to build, see [`Blobs::from_config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobConfig {
    Local { root: PathBuf },
    S3(S3Config),
}

/// Objects in an S3-compatible bucket under `{prefix}{ab}/{cd}/{sha256}`. S3 PUTs are
/// atomic, so a failed upload never leaves a partial object under a valid name.
#[derive(Clone)]
pub struct S3Blobs {
    store: Arc<object_store::aws::AmazonS3>,
    endpoint: String,
    bucket: String,
    prefix: String,
}

impl std::fmt::Debug for S3Blobs {
    // Not the client: it holds the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Blobs")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// reqwest is built with rustls but without a bundled crypto provider (to keep aws-lc-sys
/// out of the build): install ring as the process default before any client is made.
/// A provider installed earlier by someone else is kept.
fn install_ring_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err means another thread won the race: a provider is installed either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn s3_error(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        e => BlobError::Io(e.to_string()),
    }
}

impl S3Blobs {
    /// Build the client. Makes no request: see [`Blobs::check`].
    pub fn new(config: &S3Config) -> Result<Self, BlobError> {
        let invalid = |what: String| BlobError::Io(format!("invalid S3 configuration: {what}"));
        if config.bucket.is_empty() {
            return Err(invalid("bucket is empty".into()));
        }
        // The prefix must give keys that object_store keeps verbatim.
        let sample = format!("{}00/00/{}", config.prefix, "0".repeat(64));
        match object_store::path::Path::parse(&sample) {
            Ok(p) if p.as_ref() == sample => {}
            _ => {
                return Err(invalid(format!(
                    "prefix {:?} must not start with '/', contain '//', '.' or '..' segments \
                     or control characters",
                    config.prefix
                )));
            }
        }
        install_ring_provider();
        let endpoint = config.endpoint.trim_end_matches('/').to_string();
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(if config.region.is_empty() { "us-east-1" } else { &config.region })
            .with_virtual_hosted_style_request(!config.path_style)
            .with_allow_http(config.allow_http)
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_allow_http(config.allow_http)
                    .with_connect_timeout(Duration::from_secs(5))
                    // Attachments can be large and links slow: the default (30 s) would
                    // cut off a big upload.
                    .with_timeout(Duration::from_secs(300)),
            )
            .with_retry(object_store::RetryConfig {
                backoff: object_store::BackoffConfig::default(),
                max_retries: 3,
                // A store that is down must not hold a request (or the start of the
                // server) for the default three minutes.
                retry_timeout: Duration::from_secs(30),
            });
        if !endpoint.is_empty() {
            builder = builder.with_endpoint(&endpoint);
        }
        if !config.access_key_id.is_empty() || !config.secret_access_key.is_empty() {
            builder =
                builder.with_access_key_id(&config.access_key_id).with_secret_access_key(&config.secret_access_key);
        }
        let store = builder.build().map_err(|e| invalid(e.to_string()))?;
        Ok(Self { store: Arc::new(store), endpoint, bucket: config.bucket.clone(), prefix: config.prefix.clone() })
    }

    fn key_of(&self, sha256: &str) -> object_store::path::Path {
        let a = sha256.get(0..2).unwrap_or("00");
        let b = sha256.get(2..4).unwrap_or("00");
        // Valid by construction (prefix checked in `new`, hash checked by callers);
        // `from` would escape rather than fail anyway.
        object_store::path::Path::from(format!("{}{a}/{b}/{sha256}", self.prefix))
    }

    async fn put(&self, bytes: &[u8]) -> Result<StoredBlob, BlobError> {
        let sha256 = sha256_hex(bytes);
        let key = self.key_of(&sha256);
        let stored = StoredBlob { sha256, size: bytes.len() as u64 };
        match self.store.head(&key).await {
            Ok(_) => return Ok(stored),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(BlobError::Io(e.to_string())),
        }
        self.store.put(&key, bytes.to_vec().into()).await.map_err(|e| BlobError::Io(e.to_string()))?;
        Ok(stored)
    }

    async fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        let got = self.store.get(&self.key_of(sha256)).await.map_err(s3_error)?;
        let bytes = got.bytes().await.map_err(s3_error)?;
        Ok(bytes.into())
    }

    /// Write and read back a fixed probe object (`{prefix}tsunagu-check`; overwritten,
    /// never deleted, so no delete permission is needed).
    async fn check(&self) -> Result<(), BlobError> {
        let key = object_store::path::Path::from(format!("{}tsunagu-check", self.prefix));
        let what =
            |e: object_store::Error| BlobError::Io(format!("S3 bucket {:?} at {}: {e}", self.bucket, self.where_()));
        self.store.put(&key, CHECK_BYTES.into()).await.map_err(what)?;
        let back = self.store.get(&key).await.map_err(what)?.bytes().await.map_err(what)?;
        if back.as_ref() != CHECK_BYTES {
            return Err(BlobError::Io(format!("S3 bucket {:?}: probe object read back differently", self.bucket)));
        }
        Ok(())
    }

    fn where_(&self) -> &str {
        if self.endpoint.is_empty() { "AWS" } else { &self.endpoint }
    }
}

/// The configured object store.
#[derive(Debug, Clone)]
pub enum Blobs {
    Local(LocalBlobs),
    S3(S3Blobs),
}

impl Blobs {
    /// Build the configured backend. Makes no request: call [`Blobs::check`] to find out
    /// whether the store can actually be used.
    pub fn from_config(config: &BlobConfig) -> Result<Self, BlobError> {
        Ok(match config {
            BlobConfig::Local { root } => Blobs::Local(LocalBlobs::new(root.clone())),
            BlobConfig::S3(c) => Blobs::S3(S3Blobs::new(c)?),
        })
    }

    /// Whether the store is reachable and writable (and reads back what was written):
    /// meant for server start, so a misconfiguration shows at once rather than at the
    /// first upload.
    pub async fn check(&self) -> Result<(), BlobError> {
        match self {
            Blobs::Local(l) => l.check().await,
            Blobs::S3(s) => s.check().await,
        }
    }

    /// Store bytes; returns their hash and size. Idempotent.
    pub async fn put(&self, bytes: &[u8]) -> Result<StoredBlob, BlobError> {
        match self {
            Blobs::Local(l) => l.put(bytes).await,
            Blobs::S3(s) => s.put(bytes).await,
        }
    }

    /// Read bytes back and check them against their hash.
    pub async fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        if !valid_hash(sha256) {
            return Err(BlobError::NotFound);
        }
        let bytes = match self {
            Blobs::Local(l) => l.get(sha256).await?,
            Blobs::S3(s) => s.get(sha256).await?,
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
            Blobs::S3(s) => format!("s3:{}/{} at {}", s.bucket, s.prefix, s.where_()),
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
        assert!(matches!(b.get(&"0".repeat(64)).await, Err(BlobError::NotFound)));
        assert!(matches!(b.get("../../etc/passwd").await, Err(BlobError::NotFound)));
        let Blobs::Local(l) = &b else { unreachable!() };
        std::fs::write(l.path_of(&s.sha256), b"tampered").unwrap();
        assert!(matches!(b.get(&s.sha256).await, Err(BlobError::Corrupt)));
    }

    fn s3_config() -> S3Config {
        S3Config {
            endpoint: "http://127.0.0.1:1/".into(),
            bucket: "b".into(),
            region: "us-east-1".into(),
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG".into(),
            path_style: true,
            allow_http: true,
            prefix: "tsunagu/".into(),
        }
    }

    #[test]
    fn s3_secret_is_redacted_in_debug() {
        let c = s3_config();
        let shown = format!("{c:?} {:?}", BlobConfig::S3(c.clone()));
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("AKIDEXAMPLE"));
        let b = Blobs::from_config(&BlobConfig::S3(c)).unwrap();
        let shown = format!("{b:?} {}", b.describe());
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert_eq!(b.describe(), "s3:b/tsunagu/ at http://127.0.0.1:1");
    }

    #[test]
    fn s3_key_layout() {
        let Blobs::S3(s) = Blobs::from_config(&BlobConfig::S3(s3_config())).unwrap() else { unreachable!() };
        let h = sha256_hex(b"x");
        assert_eq!(s.key_of(&h).as_ref(), format!("tsunagu/{}/{}/{h}", &h[0..2], &h[2..4]));
    }

    #[test]
    fn s3_bad_prefix_or_bucket_is_rejected() {
        for prefix in ["/abs/", "a//b/", "../", "a/./", "tab\t/"] {
            let c = S3Config { prefix: prefix.into(), ..s3_config() };
            assert!(Blobs::from_config(&BlobConfig::S3(c)).is_err(), "{prefix:?} accepted");
        }
        for prefix in ["", "p/", "a-", "tsunagu/attachments/"] {
            let c = S3Config { prefix: prefix.into(), ..s3_config() };
            assert!(Blobs::from_config(&BlobConfig::S3(c)).is_ok(), "{prefix:?}");
        }
        let c = S3Config { bucket: String::new(), ..s3_config() };
        assert!(Blobs::from_config(&BlobConfig::S3(c)).is_err());
    }

    #[tokio::test]
    async fn s3_check_fails_fast_when_unreachable() {
        // Port 1 on loopback: connection refused.
        let b = Blobs::from_config(&BlobConfig::S3(s3_config())).unwrap();
        let started = std::time::Instant::now();
        let err = b.check().await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(20), "{err}");
        assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    }

    #[tokio::test]
    async fn local_check_creates_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a").join("b");
        let b = Blobs::from_config(&BlobConfig::Local { root: root.clone() }).unwrap();
        b.check().await.unwrap();
        assert!(root.is_dir());
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0, "probe left behind");
    }
}

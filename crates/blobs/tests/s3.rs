//! The shared suite on the S3 backend, against an S3-compatible server (moto in
//! `scripts/test`, which sets `TSUNAGU_TEST_S3_ENDPOINT`; by hand:
//! `source scripts/lib/moto.sh && ensure_moto && cargo test -p tsunagu-blobs`).
//!
//! Without `TSUNAGU_TEST_S3_ENDPOINT` these tests FAIL rather than pass silently, unless
//! `TSUNAGU_TEST_S3=skip` says that skipping is intended.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use object_store::ObjectStoreExt as _;
use std::hash::{BuildHasher as _, Hasher as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tsunagu_blobs::{BlobConfig, Blobs, S3Config, sha256_hex};

const REGION: &str = "us-east-1";

fn endpoint() -> Option<String> {
    match std::env::var("TSUNAGU_TEST_S3_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e.trim().trim_end_matches('/').to_string()),
        _ if std::env::var("TSUNAGU_TEST_S3").as_deref() == Ok("skip") => {
            eprintln!("TSUNAGU_TEST_S3=skip: S3 backend NOT tested");
            None
        }
        _ => panic!(
            "TSUNAGU_TEST_S3_ENDPOINT is not set, so the S3 backend cannot be tested.\n\
             Start an S3-compatible test server and export its URL, e.g.\n\
             \n    source scripts/lib/moto.sh && ensure_moto && cargo test -p tsunagu-blobs\n\
             \n(scripts/test does this), or point TSUNAGU_TEST_S3_ENDPOINT at another \
             S3-compatible server that accepts unauthenticated bucket creation.\n\
             To skip these tests on purpose: TSUNAGU_TEST_S3=skip"
        ),
    }
}

/// A bucket name no other run (or test) against the same server uses.
fn unique_bucket(tag: &str) -> String {
    let r = std::collections::hash_map::RandomState::new().build_hasher().finish();
    format!("tsunagu-test-{tag}-{}-{:08x}", std::process::id(), r as u32)
}

/// Create a bucket with a bare `PUT /{bucket}` (object_store cannot create buckets;
/// moto accepts the request unauthenticated).
async fn create_bucket(endpoint: &str, bucket: &str) {
    let authority = endpoint
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("test endpoint must be http://host:port, got {endpoint}"))
        .split('/')
        .next()
        .unwrap();
    let mut conn = tokio::net::TcpStream::connect(authority)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {endpoint}: {e} (is moto running?)"));
    let request =
        format!("PUT /{bucket} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    conn.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    let status = response.lines().next().unwrap_or_default();
    assert!(
        status.starts_with("HTTP/1.1 200") || status.starts_with("HTTP/1.0 200"),
        "creating bucket {bucket} at {endpoint} failed: {response}"
    );
}

fn config(endpoint: &str, bucket: &str, prefix: &str) -> S3Config {
    S3Config {
        endpoint: endpoint.to_string(),
        bucket: bucket.to_string(),
        region: REGION.to_string(),
        access_key_id: "testing".to_string(),
        secret_access_key: "testing-secret".to_string(),
        path_style: true,
        allow_http: true,
        prefix: prefix.to_string(),
    }
}

/// The bucket, straight through object_store, to tamper with objects.
fn raw_store(c: &S3Config) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&c.endpoint)
        .with_bucket_name(&c.bucket)
        .with_region(&c.region)
        .with_access_key_id(&c.access_key_id)
        .with_secret_access_key(&c.secret_access_key)
        .with_virtual_hosted_style_request(!c.path_style)
        .with_allow_http(c.allow_http)
        .build()
        .unwrap()
}

async fn run_suite(prefix: &str, seed: u64) {
    let Some(endpoint) = endpoint() else { return };
    let bucket = unique_bucket("suite");
    create_bucket(&endpoint, &bucket).await;
    let c = config(&endpoint, &bucket, prefix);
    let blobs = Blobs::from_config(&BlobConfig::S3(c.clone())).unwrap();
    assert!(matches!(blobs, Blobs::S3(_)));
    assert_eq!(blobs.describe(), format!("s3:{bucket}/{prefix} at {endpoint}"));
    let raw = raw_store(&c);
    common::suite(&blobs, seed, async |sha256: &str, bytes: &[u8]| {
        // The layout is part of the contract: `{prefix}{ab}/{cd}/{sha256}`.
        let key = object_store::path::Path::from(format!("{prefix}{}/{}/{sha256}", &sha256[0..2], &sha256[2..4]));
        raw.head(&key).await.unwrap_or_else(|e| panic!("object should be at {key}: {e}"));
        raw.put(&key, bytes.to_vec().into()).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn s3_backend_passes_the_suite() {
    run_suite("tsunagu/attachments/", 2).await;
}

#[tokio::test]
async fn s3_backend_passes_the_suite_without_prefix() {
    run_suite("", 3).await;
}

#[tokio::test]
async fn s3_put_skips_the_upload_when_the_object_exists() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = unique_bucket("skip");
    create_bucket(&endpoint, &bucket).await;
    let c = config(&endpoint, &bucket, "p/");
    let blobs = Blobs::from_config(&BlobConfig::S3(c.clone())).unwrap();
    let raw = raw_store(&c);
    let bytes = common::PDF;
    let sha = sha256_hex(bytes);
    let key = object_store::path::Path::from(format!("p/{}/{}/{sha}", &sha[0..2], &sha[2..4]));
    blobs.put(bytes).await.unwrap();
    let first = raw.head(&key).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    blobs.put(bytes).await.unwrap();
    let second = raw.head(&key).await.unwrap();
    assert_eq!(first.last_modified, second.last_modified, "second put re-uploaded the object");
}

#[tokio::test]
async fn s3_check_fails_when_the_bucket_does_not_exist() {
    let Some(endpoint) = endpoint() else { return };
    let c = config(&endpoint, &unique_bucket("missing"), "");
    let blobs = Blobs::from_config(&BlobConfig::S3(c)).unwrap();
    let err = blobs.check().await.unwrap_err();
    assert!(err.to_string().contains("tsunagu-test-missing"), "{err}");
    assert!(!err.to_string().contains("testing-secret"), "{err}");
}

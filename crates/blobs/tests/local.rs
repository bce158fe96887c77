//! The shared suite on the local-directory backend (always runs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use tsunagu_blobs::{BlobConfig, Blobs};

#[tokio::test]
async fn local_backend_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("objects");
    let blobs = Blobs::from_config(&BlobConfig::Local { root: root.clone() }).unwrap();
    assert_eq!(blobs.describe(), format!("local:{}", root.display()));
    common::suite(&blobs, 1, async |sha256: &str, bytes: &[u8]| {
        // The layout is part of the contract: `{root}/{ab}/{cd}/{sha256}`.
        let path = root.join(&sha256[0..2]).join(&sha256[2..4]).join(sha256);
        assert!(path.is_file(), "{} should exist", path.display());
        std::fs::write(path, bytes).unwrap();
    })
    .await;
}

#[tokio::test]
async fn local_check_fails_when_the_root_cannot_be_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let blobs = Blobs::from_config(&BlobConfig::Local { root: file.join("objects") }).unwrap();
    assert!(blobs.check().await.is_err());
}

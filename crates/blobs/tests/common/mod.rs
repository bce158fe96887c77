//! The one suite every backend must pass (tests/local.rs, tests/s3.rs).

use tsunagu_blobs::{BlobError, Blobs, StoredBlob, sha256_hex};

/// Looks like the start of a PDF (header, an object, trailer).
pub const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

/// Looks like the start of a PNG (signature, IHDR chunk of a 1x1 image).
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x00IEND\xaeB`\x82";

/// Deterministic, incompressible-looking bytes (xorshift), different per `seed`.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

async fn round_trip(blobs: &Blobs, bytes: &[u8]) -> StoredBlob {
    let stored = blobs.put(bytes).await.unwrap();
    assert_eq!(stored.sha256, sha256_hex(bytes));
    assert_eq!(stored.size, bytes.len() as u64);
    let back = blobs.get(&stored.sha256).await.unwrap();
    assert_eq!(back.len(), bytes.len());
    assert!(back == bytes, "bytes read back differ from those stored");
    assert_eq!(sha256_hex(&back), stored.sha256);
    stored
}

/// `seed` keeps the objects of concurrent runs against one shared store apart.
/// `tamper(sha256, bytes)` overwrites the stored object behind the backend's back.
pub async fn suite(blobs: &Blobs, seed: u64, tamper: impl AsyncFn(&str, &[u8])) {
    blobs.check().await.unwrap();
    assert!(!blobs.describe().is_empty());

    // Round trips, with the hash checked.
    let pdf = round_trip(blobs, PDF).await;
    let png = round_trip(blobs, PNG).await;
    assert_ne!(pdf.sha256, png.sha256);

    // Idempotent put: same answer, and the object still reads back.
    assert_eq!(blobs.put(PDF).await.unwrap(), pdf);
    assert_eq!(blobs.put(PDF).await.unwrap(), pdf);
    assert_eq!(blobs.get(&pdf.sha256).await.unwrap(), PDF);

    // The empty file is a file too.
    round_trip(blobs, b"").await;

    // Missing objects, and names that are not hashes, are NotFound.
    let absent = sha256_hex(&pseudo_random(100, seed ^ 0xabcd));
    assert!(matches!(blobs.get(&absent).await, Err(BlobError::NotFound)));
    for bad in [
        "",
        "../../etc/passwd",
        &"0".repeat(63),
        &"0".repeat(65),
        &pdf.sha256.to_uppercase(),
        &format!("../{}", &pdf.sha256[3..]),
    ] {
        assert!(matches!(blobs.get(bad).await, Err(BlobError::NotFound)), "{bad:?} should be NotFound");
    }

    // A large object (5 MiB) round-trips.
    round_trip(blobs, &pseudo_random(5 * 1024 * 1024, seed)).await;

    // Corruption is detected on read; put does not re-upload an object that exists.
    let victim = pseudo_random(4096, seed ^ 0x1234);
    let stored = round_trip(blobs, &victim).await;
    tamper(&stored.sha256, b"tampered").await;
    assert!(matches!(blobs.get(&stored.sha256).await, Err(BlobError::Corrupt)));
    assert_eq!(blobs.put(&victim).await.unwrap(), stored);
    assert!(matches!(blobs.get(&stored.sha256).await, Err(BlobError::Corrupt)));
    // Other objects are untouched.
    assert_eq!(blobs.get(&png.sha256).await.unwrap(), PNG);
}

//! Documents and photos on the chart (DOMAIN.md §5): a PDF or PNG uploaded on the page
//! or through the API is previewed on the timeline and downloads byte for byte, with a
//! `Content-Disposition` and `nosniff`; the type is told from the content, so an
//! executable renamed `.pdf` is refused, as is an oversize file, and neither leaves
//! anything behind. The round trip runs on a local directory and on S3 (moto).

use crate::chart::{Api, article, assert_saved, bytes_of, count_rows};
use crate::harness::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tsunagu_blobs::{BlobConfig, BlobError, Blobs, LocalBlobs, S3Config, sha256_hex};
use tsunagu_domain::PatientId;

/// A real 1x1 RGBA PNG (signature, IHDR, IDAT, IEND, with their CRCs).
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\
\x00\x00\x00\x0dIDAT\x78\xda\x63\xb8\xe0\xe0\xf0\x1f\x00\x05\x84\x02\x50\xe7\x3b\x59\x6f\
\x00\x00\x00\x00IEND\xae\x42\x60\x82";

/// The start of a Windows executable (what a renamed `.exe` begins with).
const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00\x00\x00\x00\x00\
\x40\x00\x00\x00This program cannot be run in DOS mode.\r\r\n$\x00\x00\x00";

/// Largest accepted upload (the product's MAX_UPLOAD_BYTES: 20 MiB).
const MAX_UPLOAD: usize = 20 * 1024 * 1024;

/// A real one-page PDF 1.4 saying `text` (ASCII), with a correct cross-reference table.
fn pdf(text: &str) -> Vec<u8> {
    let stream = format!("BT /F1 12 Tf 20 50 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{o}\nendobj\n", i + 1));
    }
    let xref = out.len();
    out.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1));
    for o in offsets {
        out.push_str(&format!("{o:010} 00000 n \n"));
    }
    out.push_str(&format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1));
    out.into_bytes()
}

/// One uploaded file as the chart recorded it.
struct Uploaded {
    attachment: String,
    bytes: Vec<u8>,
    media_type: &'static str,
    filename: &'static str,
}

/// Upload a PNG and a PDF on the page and a PDF through the API, check the timeline's
/// previews, and download each (page and API, by another organization too) comparing
/// the bytes.
async fn upload_and_download(app: &TestApp, yamada: PatientId) -> Vec<Uploaded> {
    let chart = format!("/patients/{yamada}");
    let takahashi = app.signin(TAKAHASHI).await;
    let takahashi_api = Api::new(app, TAKAHASHI).await;
    let sato = app.signin(SATO).await;
    let suzuki = app.signin(SUZUKI).await;
    app.clock.advance(time::Duration::minutes(1));
    let summary_pdf = pdf("Discharge summary");
    let order_pdf = pdf("Home nursing order");

    // The nurse's photo and the hospital's discharge summary, on the page.
    let r = takahashi
        .post_multipart(
            &format!("{chart}/documents"),
            &[("doc_type", "photo"), ("title", "仙骨部の写真"), ("note", "発赤なし")],
            ("sacrum.png", "image/png", PNG),
        )
        .await;
    assert_saved(&r, yamada, "PNG on the page");
    let r = sato
        .post_multipart(
            &format!("{chart}/documents"),
            &[("doc_type", "discharge_summary"), ("title", "退院時サマリー")],
            ("退院時サマリー.pdf", "application/pdf", &summary_pdf),
        )
        .await;
    assert_saved(&r, yamada, "PDF on the page");
    // The nurse's order through the API.
    let r = takahashi_api
        .post_raw(
            &format!(
                "/api/v1{chart}/documents?doc_type=referral_letter&filename={}&title={}",
                urlencode("訪問看護指示書.pdf"),
                urlencode("訪問看護指示書")
            ),
            "application/pdf",
            "ja",
            order_pdf.clone(),
        )
        .await;
    assert_eq!(r.status, 201, "PDF through the API: {}", r.body);
    let created = r.json();
    assert_eq!(created["body"]["attachments"][0]["sha256"], sha256_hex(&order_pdf));
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(
        rows.iter().any(|a| a.action == "attachment.upload" && a.detail.contains(&sha256_hex(&order_pdf))),
        "the upload is in the audit chain with the file's hash: {rows:?}"
    );

    // The chart records each file with its hash, size and the type told from content.
    let entries: Vec<_> = takahashi_api.entries(yamada).await.into_iter().filter(|e| e["kind"] == "document").collect();
    assert_eq!(entries.len(), 3, "{entries:#?}");
    let mut uploaded = Vec::new();
    for (title, bytes, media_type, filename) in [
        ("仙骨部の写真", PNG.to_vec(), "image/png", "sacrum.png"),
        ("退院時サマリー", summary_pdf, "application/pdf", "退院時サマリー.pdf"),
        ("訪問看護指示書", order_pdf, "application/pdf", "訪問看護指示書.pdf"),
    ] {
        let e = entries.iter().find(|e| e["body"]["title"] == title).unwrap_or_else(|| panic!("no document {title}"));
        assert_eq!(e["kind"], "document");
        let a = &e["body"]["attachments"][0];
        assert_eq!(a["sha256"], sha256_hex(&bytes), "{title}");
        assert_eq!(a["size"], bytes.len(), "{title}");
        assert_eq!(a["media_type"], media_type, "{title}");
        assert_eq!(a["filename"], filename, "{title}");
        uploaded.push(Uploaded { attachment: a["id"].as_str().unwrap().to_string(), bytes, media_type, filename });
    }
    let photo_entry = entries.iter().find(|e| e["body"]["title"] == "仙骨部の写真").unwrap()["entry_id"].clone();
    let summary_entry = entries.iter().find(|e| e["body"]["title"] == "退院時サマリー").unwrap()["entry_id"].clone();

    // The timeline previews them: the photo as an image, the PDF as a preview link.
    let page = suzuki.get(&chart).await;
    assert_eq!(page.status, 200);
    let photo = article(&page.body, photo_entry.as_str().unwrap());
    let png_url = format!("{chart}/attachments/{}", uploaded[0].attachment);
    assert!(photo.contains(&format!("<img class=\"preview\" src=\"{png_url}?inline=1\"")), "{photo}");
    assert!(photo.contains(&format!("href=\"{png_url}\"")), "the photo is downloadable too");
    assert!(photo.contains("発赤なし"), "the note is shown");
    let summary = article(&page.body, summary_entry.as_str().unwrap());
    let pdf_url = format!("{chart}/attachments/{}", uploaded[1].attachment);
    assert!(!summary.contains("<img"), "a PDF is not an image:\n{summary}");
    assert!(summary.contains(&format!("href=\"{pdf_url}?inline=1\"")), "{summary}");
    assert!(summary.contains(&msg("ja", "doc-preview")), "{summary}");
    assert!(summary.contains(&format!("href=\"{pdf_url}\"")), "{summary}");

    // Downloads, on the page by another organization of the team and through the API.
    let reader = app.user(SUZUKI).await.id.to_string();
    for u in &uploaded {
        let path = format!("{chart}/attachments/{}", u.attachment);
        let (status, h, body) = bytes_of(suzuki.client.get(app.at(&path))).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(sha256_hex(&body), sha256_hex(&u.bytes), "{}: the bytes differ", u.filename);
        assert_eq!(body, u.bytes);
        assert_eq!(h["content-type"], u.media_type, "{}", u.filename);
        assert_eq!(h["x-content-type-options"], "nosniff");
        let cd = h["content-disposition"].to_str().unwrap();
        assert!(cd.starts_with("attachment;"), "{}: {cd}", u.filename);
        assert!(cd.contains(&format!("filename*=UTF-8''{}", urlencode(u.filename))), "{}: {cd}", u.filename);
        let request_id = h["x-request-id"].to_str().unwrap();
        let rows = app.audit_of_request(request_id).await;
        assert!(
            rows.iter().any(|a| a.action == "attachment.read"
                && a.outcome == "allowed"
                && a.actor_user.as_deref() == Some(reader.as_str())),
            "the download is in the audit chain: {rows:?}"
        );

        let (status, h, body) = bytes_of(suzuki.client.get(app.at(&format!("{path}?inline=1")))).await;
        assert_eq!(status, 200);
        assert_eq!(body, u.bytes);
        assert!(h["content-disposition"].to_str().unwrap().starts_with("inline;"), "{:?}", h["content-disposition"]);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["content-type"], u.media_type);

        let (status, h, body) = takahashi_api.get_bytes(&format!("/api/v1{path}")).await;
        assert_eq!(status, 200, "/api/v1{path}");
        assert_eq!(sha256_hex(&body), sha256_hex(&u.bytes), "{} through the API", u.filename);
        assert_eq!(h["content-type"], u.media_type);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    }
    // Attachments belong to their chart: another patient's id does not reach them.
    let suzuki_principal = app.principal(SUZUKI).await;
    let reach = tsunagu_store::SearchQuery { limit: 100, ..Default::default() };
    let other = app
        .store
        .search_patients(&suzuki_principal, &reach, &tsunagu_store::AuditCtx::default())
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .find(|p| *p != yamada)
        .expect("suzuki reaches another patient");
    assert_eq!(suzuki.get(&format!("/patients/{other}")).await.status, 200);
    let (status, _, body) =
        bytes_of(suzuki.client.get(app.at(&format!("/patients/{other}/attachments/{}", uploaded[0].attachment)))).await;
    assert_eq!(status, 404, "an attachment through another chart");
    assert!(body != PNG);
    uploaded
}

/// POST announcing a body of `len` bytes and read the answer without sending any of it:
/// a server that refuses by the announced length answers at once. (A client that sends
/// the body may see the connection closed under it instead of the answer.)
async fn announce_upload(app: &TestApp, path: &str, headers: &[(&str, String)], len: usize) -> Resp {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let authority = app.base.strip_prefix("http://").unwrap().to_string();
    let mut conn = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {len}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut raw: Vec<u8> = Vec::new();
    let read = async {
        let mut buf = [0u8; 8192];
        loop {
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if raw.len() >= end + 4 + length {
                    break;
                }
            }
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection closed before a whole answer: {}", String::from_utf8_lossy(&raw));
            raw.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .unwrap_or_else(|_| panic!("no answer to an announced {len}-byte upload within 10 s (is the body awaited?)"));
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let mut map = reqwest::header::HeaderMap::new();
    for l in lines {
        let (k, v) = l.split_once(':').unwrap();
        map.append(
            reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()).unwrap(),
            reqwest::header::HeaderValue::from_str(v.trim()).unwrap(),
        );
    }
    let length: usize = map.get("content-length").map_or(0, |v| v.to_str().unwrap().parse().unwrap());
    let body = String::from_utf8(raw[end + 4..end + 4 + length].to_vec()).unwrap();
    Resp { status, headers: map, body }
}

/// Every file under a directory (the local blob store's objects).
fn files_under(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_round_trip_and_what_is_refused_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with_blobs(Blobs::Local(LocalBlobs::new(dir.path()))).await;
    let yamada = app.patient_id("ヤマダ").await;
    let chart = format!("/patients/{yamada}");
    let uploaded = upload_and_download(&app, yamada).await;
    // Stored under their hash, in this app's store.
    for u in &uploaded {
        let sha = sha256_hex(&u.bytes);
        let p = dir.path().join(&sha[0..2]).join(&sha[2..4]).join(&sha);
        assert_eq!(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())), u.bytes);
    }

    let takahashi = app.signin(TAKAHASHI).await;
    let api = Api::new(&app, TAKAHASHI).await;
    let stored = || async {
        (count_rows(&app, "attachments").await, count_rows(&app, "entries").await, files_under(dir.path()))
    };
    let before = stored().await;
    assert!(before.0 >= 3);

    // An executable renamed .pdf: refused with the message, in Japanese and English.
    let form = [("doc_type", "referral_letter"), ("title", "紹介状")];
    let r =
        takahashi.post_multipart(&format!("{chart}/documents"), &form, ("紹介状.pdf", "application/pdf", EXE)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.text().contains(&msg("ja", "err-file-type")), "{}", r.body);
    assert!(r.text().contains(&format!("<strong>{}</strong>", msg("ja", "field-file"))), "{}", r.body);
    r.assert_no_leak("exe upload");
    assert_eq!(stored().await, before, "the refused executable left something behind");
    takahashi.set_lang("en").await;
    let r =
        takahashi.post_multipart(&format!("{chart}/documents"), &form, ("referral.pdf", "application/pdf", EXE)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.text().contains(&msg("en", "err-file-type")), "{}", r.body);
    takahashi.set_lang("ja").await;
    let upload_path = format!("/api/v1{chart}/documents?doc_type=referral_letter&filename=referral.pdf");
    for lang in ["ja", "en"] {
        let r = api.post_raw(&upload_path, "application/pdf", lang, EXE.to_vec()).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.header("content-type").starts_with("application/problem+json"));
        let v = r.json();
        assert_eq!(v["errors"][0]["field"], "file", "{v}");
        assert_eq!(v["errors"][0]["message"], msg(lang, "err-file-type"), "{v}");
    }
    assert_eq!(stored().await, before, "the refused executable left something behind");

    // One byte over 20 MiB: the page with the message, the API a problem; nothing kept.
    let mut big = pdf("Scanned chart");
    big.resize(MAX_UPLOAD + 1, b' ');
    let r = takahashi.post_multipart(&format!("{chart}/documents"), &form, ("scan.pdf", "application/pdf", &big)).await;
    assert_eq!(r.status, 422, "one byte over the limit on the page: {}", r.body);
    assert!(r.text().contains(&msg("ja", "err-file-too-large")), "{}", r.body);
    r.assert_no_leak("oversize upload");
    let r = api.post_raw(&upload_path, "application/pdf", "ja", big.clone()).await;
    assert_eq!(r.status, 422, "one byte over the limit through the API: {}", r.body);
    assert_eq!(r.json()["errors"][0]["message"], msg("ja", "err-file-too-large"));
    assert_eq!(stored().await, before, "the refused oversize file left something behind");

    // Far over the limit (25 MiB announced): 413 before the body is sent, in the user's
    // language.
    let huge = 25 * 1024 * 1024;
    let r = announce_upload(
        &app,
        &format!("{chart}/documents?csrf={}", urlencode(&takahashi.csrf)),
        &[
            ("content-type", "multipart/form-data; boundary=tsunagu-test".to_string()),
            ("cookie", format!("tsunagu={}; lang=en", takahashi.cookie)),
        ],
        huge,
    )
    .await;
    assert_eq!(r.status, 413, "25 MiB on the page: {}", r.body);
    assert!(r.text().contains(&msg("en", "error-too-large")), "{}", r.body);
    let r = announce_upload(
        &app,
        &upload_path,
        &[("content-type", "application/pdf".to_string()), ("authorization", format!("Bearer {}", api.bearer()))],
        huge,
    )
    .await;
    assert_eq!(r.status, 413, "25 MiB through the API: {}", r.body);
    assert_eq!(r.json()["title"], msg("ja", "error-too-large"));
    assert_eq!(stored().await, before, "the refused 25 MiB upload left something behind");

    // Exactly 20 MiB is accepted (the limit is not off by one) and comes back whole.
    big.truncate(MAX_UPLOAD);
    let r = api.post_raw(&upload_path, "application/pdf", "ja", big.clone()).await;
    assert_eq!(r.status, 201, "a file of exactly 20 MiB: {}", r.body);
    let att = r.json()["body"]["attachments"][0]["id"].as_str().unwrap().to_string();
    let (status, _, back) = api.get_bytes(&format!("/api/v1{chart}/attachments/{att}")).await;
    assert_eq!(status, 200);
    assert!(back == big, "the 20 MiB file comes back whole");
    let r = takahashi.post_multipart(&format!("{chart}/documents"), &form, ("scan.pdf", "application/pdf", &big)).await;
    assert_saved(&r, yamada, "a file of exactly 20 MiB on the page");
    app.finish().await;
}

/// The S3 test server, from `TSUNAGU_TEST_S3_ENDPOINT` (scripts/test starts moto and
/// sets it for both database passes). Unset, the test fails with instructions, unless
/// `TSUNAGU_TEST_S3=skip` says that skipping is intended.
fn s3_endpoint() -> Option<String> {
    match std::env::var("TSUNAGU_TEST_S3_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e.trim().trim_end_matches('/').to_string()),
        _ if std::env::var("TSUNAGU_TEST_S3").as_deref() == Ok("skip") => {
            eprintln!("TSUNAGU_TEST_S3=skip: attachments on S3 NOT tested");
            None
        }
        _ => panic!(
            "TSUNAGU_TEST_S3_ENDPOINT is not set, so attachments on S3 cannot be tested.\n\
             Start an S3-compatible test server and export its URL, e.g.\n\
             \n    source scripts/lib/moto.sh && ensure_moto && cargo test -p tsunagu --test integration\n\
             \n(scripts/test does this), or point TSUNAGU_TEST_S3_ENDPOINT at another \
             S3-compatible server that accepts unauthenticated bucket creation.\n\
             To skip this test on purpose: TSUNAGU_TEST_S3=skip"
        ),
    }
}

/// Create a bucket with a bare `PUT /{bucket}` (moto accepts it unauthenticated).
async fn create_bucket(endpoint: &str, bucket: &str) {
    let r = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("cannot reach the S3 test server at {endpoint}: {e} (is moto running?)"));
    assert_eq!(r.status().as_u16(), 200, "creating bucket {bucket} at {endpoint}: {}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_round_trip_through_s3() {
    let Some(endpoint) = s3_endpoint() else { return };
    // One bucket per run and backend pass: runs against one server never meet.
    let bucket = format!("tsunagu-it-{}", random_uuid().simple());
    create_bucket(&endpoint, &bucket).await;
    let prefix = "attachments/";
    let config = S3Config {
        endpoint: endpoint.clone(),
        bucket: bucket.clone(),
        region: "us-east-1".into(),
        access_key_id: "testing".into(),
        secret_access_key: "testing-secret".into(),
        path_style: true,
        allow_http: true,
        prefix: prefix.into(),
    };
    let blobs = Blobs::from_config(&BlobConfig::S3(config.clone())).unwrap();
    blobs.check().await.unwrap_or_else(|e| panic!("the S3 test bucket does not work: {e}"));
    let app = TestApp::start_with_blobs(blobs).await;
    let yamada = app.patient_id("ヤマダ").await;
    let uploaded = upload_and_download(&app, yamada).await;

    // The bytes are in the bucket under their hash: another client of the bucket reads
    // them back, and a client of another prefix does not find them.
    let reader = Blobs::from_config(&BlobConfig::S3(config.clone())).unwrap();
    let elsewhere =
        Blobs::from_config(&BlobConfig::S3(S3Config { prefix: "elsewhere/".into(), ..config.clone() })).unwrap();
    for u in &uploaded {
        let sha = sha256_hex(&u.bytes);
        let back = reader.get(&sha).await.unwrap_or_else(|e| panic!("{} is not in the bucket: {e}", u.filename));
        assert!(back == u.bytes, "{}: the bucket holds other bytes", u.filename);
        assert!(matches!(elsewhere.get(&sha).await, Err(BlobError::NotFound)), "{}", u.filename);
    }

    // A refused file stores nothing in the bucket.
    let takahashi = app.signin(TAKAHASHI).await;
    let r = takahashi
        .post_multipart(
            &format!("/patients/{yamada}/documents"),
            &[("doc_type", "other"), ("title", "x")],
            ("x.pdf", "application/pdf", EXE),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.text().contains(&msg("ja", "err-file-type")));
    assert!(
        matches!(reader.get(&sha256_hex(EXE)).await, Err(BlobError::NotFound)),
        "the refused file is in the bucket"
    );
    app.finish().await;
}

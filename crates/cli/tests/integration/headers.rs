//! Security headers on every page, no caching of patient data, health and metrics.

use crate::harness::*;

fn assert_security_headers(r: &Resp, what: &str) {
    let csp = r.header("content-security-policy");
    assert!(!csp.is_empty(), "{what}: no Content-Security-Policy");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("default-src"), "{what}: {csp}");
    assert_eq!(r.header("x-content-type-options"), "nosniff", "{what}");
    assert!(!r.request_id().is_empty(), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_carries_the_security_headers() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await.to_string();
    let sato = app.signin(SATO).await;

    // Every GET route of the table, as a signed-in org admin and as nobody.
    let anonymous = app.client();
    for route in tsunagu_web::route_table().into_iter().filter(|r| r.method == "GET") {
        let path = fill_path(route.path, &[("patient", &yamada), ("file", "app.css")], &random_uuid().to_string());
        let path = if path == "/lang" { "/lang?to=ja&back=/patients".to_string() } else { path };
        let signed = sato.get(&path).await;
        assert_security_headers(&signed, &format!("GET {path} signed in"));
        assert!(signed.status < 500, "GET {path}: {}", signed.status);
        let anon = Resp::of(anonymous.get(app.at(&path)).send().await.unwrap()).await;
        assert_security_headers(&anon, &format!("GET {path} anonymous"));
        if !path.starts_with("/static/") {
            assert_eq!(signed.header("cache-control"), "no-store", "GET {path} must not be cached");
        }
    }
    // Patient pages, error pages and a refused form are not cached and carry the headers.
    for path in [
        format!("/patients/{yamada}"),
        format!("/patients/{yamada}/access-log"),
        "/patients?q=%E3%82%84%E3%81%BE%E3%81%A0".into(),
        "/no-such-page".into(),
    ] {
        let r = sato.get(&path).await;
        assert_security_headers(&r, &path);
        assert_eq!(r.header("cache-control"), "no-store", "{path}");
    }
    let r = sato.post_raw("/patients", &[]).await;
    assert_eq!(r.status, 403);
    assert_security_headers(&r, "refused form");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics() {
    let app = TestApp::start().await;
    let client = app.bare_client();
    let r = Resp::of(client.get(app.at("/healthz")).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").starts_with("application/json"));
    let v = r.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["schema_version"], tsunagu_store::LATEST_VERSION);
    assert_eq!(v["backend"], app.backend().as_str());
    assert_security_headers(&r, "/healthz");

    let _ = Resp::of(client.get(app.at("/signin")).send().await.unwrap()).await;
    let r = Resp::of(client.get(app.at("/metrics")).send().await.unwrap()).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("tsunagu_http_requests_total"), "{}", r.body);
    // Labels are low-cardinality: no ids in them.
    let yamada = app.patient_id("ヤマダ").await.to_string();
    let _ = client.get(app.at(&format!("/patients/{yamada}"))).send().await.unwrap();
    let r = Resp::of(client.get(app.at("/metrics")).send().await.unwrap()).await;
    assert!(!r.body.contains(&yamada), "a patient id in the metrics");
    app.finish().await;
}

/// The bytes of a GET with `Accept-Encoding: gzip` (reqwest here does not decompress),
/// with the response's `Content-Encoding` and `Content-Type`.
async fn get_accepting_gzip(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
) -> (u16, String, String, Vec<u8>) {
    let mut req = client.get(url).header("accept-encoding", "gzip");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (status, encoding, content_type) = (r.status().as_u16(), header("content-encoding"), header("content-type"));
    (status, encoding, content_type, r.bytes().await.unwrap().to_vec())
}

fn gunzip(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut out).expect("a gzip body");
    out
}

/// The JSON and FHIR APIs' bodies and static text go gzip-compressed to a client that
/// accepts it, and decompress to the same document. Pages never do (a page holds its CSRF
/// token next to text a request can put there: compressed together, the sizes would leak
/// the token, BREACH), and nothing is compressed for a client that does not ask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_bodies_and_static_text_are_compressed_on_request_and_pages_never() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let token = app.token_for(SATO).await;
    let api = app.bare_client();

    let plain = Resp::of(api.get(app.at("/fhir/r4/metadata")).send().await.unwrap()).await;
    assert_eq!((plain.status, plain.header("content-encoding")), (200, String::new()), "not asked, not compressed");
    let (status, encoding, content_type, body) = get_accepting_gzip(&api, app.at("/fhir/r4/metadata"), None).await;
    assert_eq!((status, encoding.as_str()), (200, "gzip"), "{content_type}");
    assert!(content_type.starts_with("application/fhir+json"), "{content_type}");
    assert!(body.len() < plain.body.len(), "{} compressed bytes for {}", body.len(), plain.body.len());
    assert_eq!(gunzip(&body), plain.body, "the same CapabilityStatement");

    let (status, encoding, _, body) = get_accepting_gzip(&api, app.at("/api/openapi.json"), None).await;
    assert_eq!((status, encoding.as_str()), (200, "gzip"));
    let doc: serde_json::Value = serde_json::from_str(&gunzip(&body)).unwrap();
    assert!(doc["paths"].is_object());

    let chart = app.at(&format!("/fhir/r4/Patient/{yamada}"));
    let (status, _, content_type, body) = get_accepting_gzip(&api, chart, Some(&token)).await;
    assert_eq!(status, 200, "{content_type}");
    let text = if body.starts_with(&[0x1f, 0x8b]) { gunzip(&body) } else { String::from_utf8(body).unwrap() };
    assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"], yamada.to_string());

    let (status, encoding, _, body) = get_accepting_gzip(&api, app.at("/static/app.css"), None).await;
    assert_eq!((status, encoding.as_str()), (200, "gzip"));
    assert!(!gunzip(&body).is_empty());

    let sato = app.signin(SATO).await;
    for page in [format!("/patients/{yamada}"), "/patients?q=%E3%82%84%E3%81%BE%E3%81%A0".to_string()] {
        let (status, encoding, content_type, _) = get_accepting_gzip(&sato.client, app.at(&page), None).await;
        assert_eq!(status, 200, "{page}");
        assert!(content_type.starts_with("text/html"), "{page}: {content_type}");
        assert_eq!(encoding, "", "{page}: a page must never be compressed");
    }
    app.finish().await;
}

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

//! Load that holds (issue #8): the short form of the load test. A hundred clients at
//! once sign in, open a chart, write notes and search, with zero errors; and a server
//! past its limit answers 503 with `Retry-After` at once instead of letting requests
//! wait into a timeout. (The long form, with throughput and latency, is `bench/`.)

use crate::harness::*;
use std::time::Duration;
use tsunagu_cli::demo::DEMO_PASSWORD;
use tsunagu_web::WebConfig;

/// Members of 山田 花子's team who may write on her chart.
const WRITERS: [&str; 4] = [SATO, SUZUKI, TAKAHASHI, "ito@hidamari.example.jp"];

async fn entries_of(app: &TestApp, patient: &str) -> i64 {
    let mut c = app.raw_conn().await;
    let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM entries WHERE patient_id = $1")
        .bind(patient)
        .fetch_one(&mut c)
        .await
        .unwrap();
    n.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_clients_at_once_get_no_errors() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let notes_before = entries_of(&app, &yamada.to_string()).await;
    let mut tasks = Vec::new();
    for i in 0..100usize {
        let base = app.base.clone();
        let email = WRITERS[i % WRITERS.len()];
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap();
            let mut statuses = Vec::new();
            let r = client
                .post(format!("{base}/signin"))
                .form(&[("email", email), ("password", DEMO_PASSWORD), ("next", "/patients")])
                .send()
                .await
                .unwrap();
            statuses.push(("signin", r.status().as_u16()));
            let page = client.get(format!("{base}/patients/{yamada}")).send().await.unwrap();
            statuses.push(("chart", page.status().as_u16()));
            let body = page.text().await.unwrap();
            let csrf = body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
            let note = format!("負荷試験の記録 {i}");
            let r = client
                .post(format!("{base}/patients/{yamada}/entries"))
                .form(&[("csrf", csrf.as_str()), ("kind", "nursing_record"), ("text", note.as_str())])
                .send()
                .await
                .unwrap();
            statuses.push(("note", r.status().as_u16()));
            let r = client.get(format!("{base}/patients/search?q=ヤマダ")).send().await.unwrap();
            statuses.push(("search", r.status().as_u16()));
            let r = client.get(format!("{base}/patients/{yamada}/timeline")).send().await.unwrap();
            statuses.push(("timeline", r.status().as_u16()));
            statuses
        }));
    }
    let mut errors = Vec::new();
    for t in tasks {
        for (what, status) in t.await.unwrap() {
            if status >= 400 {
                errors.push((what, status));
            }
        }
    }
    assert!(errors.is_empty(), "errors under load: {errors:?}");
    assert_eq!(
        entries_of(&app, &yamada.to_string()).await,
        notes_before + 100,
        "every acknowledged note is on the chart"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_limit_the_server_answers_503_with_retry_after_at_once() {
    let app = TestApp::start_with_config(WebConfig { max_in_flight: 4, ..web_config() }).await;
    let sato = app.signin(SATO).await;
    let yamada = app.patient_id("ヤマダ").await;

    // Every permit is taken (four slow requests in flight).
    let held = app.admission.clone().acquire_many_owned(4).await.unwrap();
    let started = std::time::Instant::now();
    for (path, is_api) in [(format!("/patients/{yamada}"), false), ("/api/v1/me".to_string(), true)] {
        let r = sato.get(&path).await;
        assert_eq!(r.status, 503, "GET {path}");
        assert_eq!(r.header("retry-after"), "1", "GET {path} says when to come back");
        r.assert_no_leak("shed request");
        if is_api {
            assert!(r.header("content-type").starts_with("application/problem+json"));
        } else {
            assert!(r.text().contains(&msg("ja", "error-unavailable")), "{}", r.body);
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5), "answered at once, not after a timeout");
    // The health check still answers: a busy server is not a dead one.
    assert_eq!(sato.get("/healthz").await.status, 200);
    drop(held);
    assert_eq!(sato.get(&format!("/patients/{yamada}")).await.status, 200, "served again once permits free up");

    // Fifty at once against four permits: each is served or told to retry; none fails
    // otherwise, and none waits into a timeout.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = sato.client.clone();
        let url = app.at(&format!("/patients/{yamada}"));
        tasks.push(tokio::spawn(async move {
            let r = client.get(url).send().await.unwrap();
            (r.status().as_u16(), r.headers().get("retry-after").is_some())
        }));
    }
    for t in tasks {
        let (status, retry) = t.await.unwrap();
        assert!(status == 200 || (status == 503 && retry), "status {status}, retry-after {retry}");
    }
    app.finish().await;
}

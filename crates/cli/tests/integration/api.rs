//! The JSON API with a token from the real `tsunagu token create`; problems as
//! `application/problem+json`; the OpenAPI document.

use crate::harness::*;
use serde_json::json;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_token_searches_and_reads_and_no_token_is_401() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;

    let out = app.cli(&["token", "create", "--user", SATO]).await;
    assert!(out.status.success(), "token create: {}", stderr(&out));
    let token = stdout(&out).trim().to_string();
    assert!(
        token.starts_with("tsu_") && token.len() > 40 && !token.contains(char::is_whitespace),
        "stdout is the token alone: {token:?}"
    );
    let api = app.bare_client();

    let r = Resp::of(
        api.get(app.at("/api/v1/patients?q=%EF%BE%94%EF%BE%8F%EF%BE%80%EF%BE%9E")) // ﾔﾏﾀﾞ
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").starts_with("application/json"));
    let found = r.json()["patients"].as_array().unwrap().clone();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["id"], yamada.to_string());
    assert_eq!(found[0]["given_name"], "花子");
    assert_eq!(found[0]["local_id"], "H-000123");

    let r = Resp::of(api.get(app.at(&format!("/api/v1/patients/{yamada}"))).bearer_auth(&token).send().await.unwrap())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["patient"]["family_name"], "山田");
    assert_eq!(v["patient"]["family_kana"], "ヤマダ");
    assert_eq!(v["patient"]["birth_date"], "1940-03-02");
    assert!(v["team"].as_array().unwrap().len() >= 5, "{}", v["team"]);
    // The read is audited with the API caller as the actor.
    let rows = app.audit_of_request(&r.request_id()).await;
    let sato = app.principal(SATO).await;
    assert!(rows.iter().any(|a| a.action == "chart.read"
        && a.outcome == "allowed"
        && a.actor_user.as_deref() == Some(sato.user.to_string().as_str())));

    // No token, a wrong token, a malformed header: 401 problem with a Bearer challenge.
    let requests = [
        api.get(app.at("/api/v1/patients")),
        api.get(app.at(&format!("/api/v1/patients/{yamada}"))).bearer_auth("tsu_not-a-real-token"),
        api.get(app.at("/api/v1/me")).header("authorization", format!("Basic {token}")),
    ];
    for req in requests {
        let r = Resp::of(req.send().await.unwrap()).await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(r.header("www-authenticate"), "Bearer");
        assert!(r.header("content-type").starts_with("application/problem+json"));
        let v = r.json();
        assert_eq!(v["status"], 401);
        assert_eq!(v["title"], msg("ja", "error-unauthenticated"));
        assert_eq!(v["request_id"], r.request_id().as_str());
        assert!(!r.body.contains("山田"));
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_registration_flags_duplicates_and_conflicts() {
    let app = TestApp::start().await;
    let before = app.counts().await;
    let token = app.token_for(SATO).await;
    let api = app.bare_client();
    let post = |body: serde_json::Value| {
        api.post(app.at("/api/v1/patients")).bearer_auth(&token).header("accept-language", "en").json(&body)
    };
    let mut hanako = json!({
        "family_name": "山田", "given_name": "花子", "family_kana": "ﾔﾏﾀﾞ", "given_kana": "ﾊﾅｺ",
        "sex": "female", "birth_date": "1940-03-02", "local_id": "H-000123",
    });
    let r = Resp::of(post(hanako.clone()).send().await.unwrap()).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let v = r.json();
    assert_eq!(v["possible_duplicates"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["title"], msg("en", "patient-duplicates-title"));

    hanako["confirm_new"] = json!(true);
    let r = Resp::of(post(hanako).send().await.unwrap()).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let v = r.json();
    assert_eq!(v["errors"][0]["field"], "local_id", "{v}");
    assert_eq!(v["errors"][0]["message"], msg("en", "err-local-id-taken"));
    r.assert_no_leak("API local id conflict");
    assert_eq!(app.counts().await, before);

    let r = Resp::of(
        post(json!({
            "family_name": "海野", "given_name": "次郎", "family_kana": "うみの", "given_kana": "じろう",
            "sex": "male", "birth_date": "1950-05-05",
        }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap_or_else(|| panic!("no id in {}", r.body)).to_string();
    let r = Resp::of(api.get(app.at(&format!("/api/v1/patients/{id}/team"))).bearer_auth(&token).send().await.unwrap())
        .await;
    assert_eq!(r.status, 200);
    let team = r.json()["team"].clone();
    assert_eq!(team.as_array().unwrap().len(), 1, "{team}");
    assert_eq!(team[0]["org_id"], app.org_of(SATO).await.id.to_string());
    assert_eq!(app.counts().await.2, before.2 + 1);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_api_route() {
    let app = TestApp::start().await;
    let r = Resp::of(app.bare_client().get(app.at("/api/openapi.json")).send().await.unwrap()).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object().unwrap().keys().map(|m| (m.to_uppercase(), path.clone())).collect::<Vec<_>>()
        })
        .collect();
    let routes: BTreeSet<(String, String)> = tsunagu_web::route_table()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/v1/"))
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(documented, routes, "the OpenAPI paths and the API routes differ");
    app.finish().await;
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_documents_its_errors_as_problems() {
    let app = TestApp::start().await;
    let doc = Resp::of(app.bare_client().get(app.at("/api/openapi.json")).send().await.unwrap()).await.json();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    // Every reference resolves.
    let text = doc.to_string();
    for r in text.split("\"#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "unresolved reference to {name}");
    }
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let what = format!("{method} {path}");
            assert!(responses.contains_key("401"), "{what}: no 401");
            if path.contains("{patient}") {
                assert!(responses.contains_key("404"), "{what}: no 404");
            }
            if op.get("requestBody").is_some() {
                for code in ["400", "413", "422"] {
                    assert!(responses.contains_key(code), "{what}: no {code}");
                }
            }
            for (code, r) in responses {
                if code.starts_with('4') || code.starts_with('5') {
                    assert_eq!(
                        r["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
                        "{what} {code}: not a problem"
                    );
                }
                if code.starts_with('2') {
                    assert!(r["content"].as_object().is_some_and(|c| !c.is_empty()), "{what} {code}: no content");
                }
            }
        }
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_filters_are_checked_not_ignored() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let token = app.token_for(TAKAHASHI).await;
    let api = app.bare_client();
    let get = |query: &str| {
        let url = app.at(&format!("/api/v1/patients/{yamada}/entries?{query}"));
        let req = api.get(url).bearer_auth(&token).header("accept-language", "en");
        async move { Resp::of(req.send().await.unwrap()).await }
    };
    let all = get("").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(
        get("org=&profession=&kind=&before_at=&before_id=").await.json(),
        all.json(),
        "empty filters filter nothing"
    );

    for (query, field) in [
        ("limit=501", "limit"),
        ("limit=0", "limit"),
        ("kind=bogus", "kind"),
        ("kind=%20message", "kind"),
        ("profession=doctor", "profession"),
        ("org=not-an-id", "org"),
    ] {
        let r = get(query).await;
        assert_eq!(r.status, 422, "{query}: {}", r.body);
        assert!(r.header("content-type").starts_with("application/problem+json"));
        assert_eq!(r.json()["errors"][0]["field"], field, "{query}: {}", r.body);
        r.assert_no_leak(query);
    }
    let r = get("limit=lots").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.header("content-type").starts_with("application/problem+json"));

    // The profession as every answer writes it filters; so does the pages' short code.
    let r = get("profession=medical_social_worker&limit=500").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let by_msw = r.json()["entries"].as_array().unwrap().clone();
    assert!(!by_msw.is_empty(), "the demo chart has entries by the hospital's social worker");
    assert!(by_msw.iter().all(|e| e["author_profession"] == "medical_social_worker"));
    assert_eq!(get("profession=msw&limit=500").await.json()["entries"].as_array().unwrap(), &by_msw);
    let r = get("kind=vital_signs&limit=500").await;
    assert!(r.json()["entries"].as_array().unwrap().iter().all(|e| e["kind"] == "vital_signs"), "{}", r.body);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letter_keeps_its_kind_and_a_document_needs_an_exact_type() {
    let app = TestApp::start().await;
    let yamada = app.patient_id("ヤマダ").await;
    let token = app.token_for(SATO).await;
    let umibe = app.org_of(KOBAYASHI).await.id.to_string();
    let api = app.bare_client();
    let letters = app.at(&format!("/api/v1/patients/{yamada}/letters"));
    let r = Resp::of(
        api.post(&letters)
            .bearer_auth(&token)
            .json(&json!({ "kind": "referral", "to_org": umibe, "fields": { "purpose": "在宅緩和ケア" } }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["letter"]["id"].as_str().unwrap().to_string();
    let put = |body: serde_json::Value| {
        api.put(format!("{letters}/{id}")).bearer_auth(&token).header("accept-language", "en").json(&body).send()
    };

    let r = Resp::of(
        put(json!({ "kind": "nursing_instruction", "to_org": umibe, "version": 1, "fields": { "instructions": "x" } }))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["field"], "kind");
    let r = Resp::of(put(json!({ "kind": " referral", "to_org": umibe, "version": 1 })).await.unwrap()).await;
    assert_eq!(r.status, 422, "a kind is its exact name: {}", r.body);
    let r = Resp::of(api.get(format!("{letters}/{id}")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(r.json()["letter"]["version"], 1, "a refused save changed the letter: {}", r.body);

    let r = Resp::of(
        put(json!({ "kind": "referral", "to_org": umibe, "version": 1, "fields": { "purpose": "在宅での看取り" } }))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["letter"]["version"], 2);

    let entries = || {
        let req = api.get(app.at(&format!("/api/v1/patients/{yamada}/entries?limit=500"))).bearer_auth(&token);
        async move { Resp::of(req.send().await.unwrap()).await.json()["entries"].as_array().unwrap().len() }
    };
    let before = entries().await;
    let r = Resp::of(
        api.post(app.at(&format!("/api/v1/patients/{yamada}/documents?doc_type=photo%20")))
            .bearer_auth(&token)
            .header("content-type", "application/pdf")
            .body(b"%PDF-1.4\n%%EOF\n".to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["field"], "doc_type");
    assert_eq!(entries().await, before, "a refused upload added an entry");
    app.finish().await;
}

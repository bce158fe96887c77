//! Bad input gets a clear message in the user's language (Japanese by default, English
//! on request), a 4xx status, nothing internal in the answer, and changes nothing.

use crate::harness::*;
use serde_json::json;

/// A refused form or API call: 4xx, the catalogue message of `key` in `lang` (and not
/// the other language's), nothing leaked.
fn assert_refused(resp: &Resp, status: u16, lang: &str, key: &str, what: &str) {
    assert_eq!(resp.status, status, "{what}:\n{}", resp.body);
    let text = resp.text();
    let other = if lang == "ja" { "en" } else { "ja" };
    assert!(
        text.contains(&msg(lang, key)),
        "{what}: the {lang} message {key} ({:?}) is missing:\n{}",
        msg(lang, key),
        resp.body
    );
    assert!(!text.contains(&msg(other, key)), "{what}: the {other} message {key} shows in a {lang} answer");
    resp.assert_no_leak(what);
}

/// A refused API call: the problem body carries the message for `field`.
fn assert_problem(resp: &Resp, status: u16, lang: &str, field: &str, key: &str, what: &str) {
    assert_eq!(resp.status, status, "{what}:\n{}", resp.body);
    assert!(
        resp.header("content-type").starts_with("application/problem+json"),
        "{what}: content type {}",
        resp.header("content-type")
    );
    let v = resp.json();
    assert_eq!(v["status"], status, "{what}");
    assert_eq!(v["title"], msg(lang, "error-invalid"), "{what}");
    let errors = v["errors"].as_array().expect("errors[]");
    assert!(
        errors.iter().any(|e| e["field"] == field && e["message"] == msg(lang, key)),
        "{what}: no {field} error with the {lang} message {key}: {v}"
    );
    resp.assert_no_leak(what);
}

fn assert_cli_refused(out: &std::process::Output, words: &[&str], what: &str) {
    let err = stderr(out);
    assert!(!out.status.success(), "{what} succeeded:\n{err}");
    for w in words {
        assert!(err.contains(w), "{what}: stderr does not say {w:?}:\n{err}");
    }
    for l in LEAKS {
        assert!(!err.contains(l), "{what}: stderr shows {l:?}:\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_institution_code_is_refused_clearly() {
    let app = TestApp::start().await;
    let before = app.counts().await;
    let op = app.signin(OPERATOR).await;
    let form = [("code", "123"), ("kind", "clinic"), ("name", "つなぐ新規クリニック")];
    let r = op.post("/operator/orgs", &form).await;
    assert_refused(&r, 422, "ja", "err-institution-code", "operator, code 123");
    // A 10-digit code with a wrong check digit is just as wrong.
    let r = op.post("/operator/orgs", &[("code", "0610111110"), ("kind", "clinic"), ("name", "X")]).await;
    assert_eq!(r.status, 422, "a wrong check digit:\n{}", r.body);
    assert!(r.text().contains(&msg("ja", "err-institution-code")));
    op.set_lang("en").await;
    let r = op.post("/operator/orgs", &form).await;
    assert_refused(&r, 422, "en", "err-institution-code", "operator, code 123, en");
    assert_eq!(app.counts().await, before, "nothing was created");

    let out = app.cli(&["org", "create", "--code", "123", "--kind", "clinic", "--name", "つなぐ新規クリニック"]).await;
    assert_cli_refused(&out, &["--code", "institution code"], "org create --code 123");
    assert_eq!(app.counts().await, before, "nothing was created");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_profession_is_refused_clearly() {
    let app = TestApp::start().await;
    let before = app.counts().await;
    let sato = app.signin(SATO).await;
    let form = [
        ("email", "shinjin@hospital.example.jp"),
        ("display_name", "新人 太郎"),
        ("name_kana", "シンジン タロウ"),
        ("profession", "wizard"),
        ("password", "long-enough-password"),
    ];
    let r = sato.post("/admin/staff", &form).await;
    assert_refused(&r, 422, "ja", "err-profession", "admin, profession wizard");
    sato.set_lang("en").await;
    let r = sato.post("/admin/staff", &form).await;
    assert_refused(&r, 422, "en", "err-profession", "admin, profession wizard, en");
    assert_eq!(app.counts().await, before, "nobody was created");

    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "long-enough-password\n").unwrap();
    let code = app.org_of(SATO).await.code.expect("the hospital has a code");
    let out = app
        .cli(&[
            "user",
            "create",
            "--org",
            &code,
            "--email",
            "shinjin@hospital.example.jp",
            "--name",
            "新人 太郎",
            "--profession",
            "wizard",
            "--password-file",
            pw.to_str().unwrap(),
        ])
        .await;
    assert_cli_refused(&out, &["--profession", "physician", "nurse"], "user create --profession wizard");
    assert_eq!(app.counts().await, before, "nobody was created");
    app.finish().await;
}

fn patient_form<'a>(kana: (&'a str, &'a str), birth: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("family_name", "海野"),
        ("given_name", "次郎"),
        ("family_kana", kana.0),
        ("given_kana", kana.1),
        ("sex", "male"),
        ("birth_date", birth),
        ("postal_code", ""),
        ("address", ""),
        ("phone", ""),
        ("local_id", ""),
        ("confirm_new", "on"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patient_registration_rejects_empty_kana_and_future_birth_dates() {
    let app = TestApp::start().await;
    let before = app.counts().await;
    let sato = app.signin(SATO).await;
    // The clock says 2026-11-24; 2027 is the future.
    let cases = [
        (patient_form(("", ""), "1950-05-05"), "family_kana", "err-kana-required"),
        (patient_form(("ウミノ", "ジロウ"), "2027-01-01"), "birth_date", "err-birth-date-future"),
    ];
    for lang in ["ja", "en"] {
        if lang == "en" {
            sato.set_lang("en").await;
        }
        for (form, _, key) in &cases {
            let r = sato.post("/patients", form).await;
            assert_refused(&r, 422, lang, key, &format!("POST /patients {key} {lang}"));
        }
    }
    assert_eq!(app.counts().await, before, "no patient was created");

    let token = app.token_for(SATO).await;
    let api = app.bare_client();
    for lang in ["ja", "en"] {
        for (form, field, key) in &cases {
            let mut body = serde_json::Map::new();
            for (k, v) in form {
                body.insert((*k).into(), json!(v));
            }
            body.insert("confirm_new".into(), json!(true));
            let r = Resp::of(
                api.post(app.at("/api/v1/patients"))
                    .bearer_auth(&token)
                    .header("accept-language", if lang == "en" { "en-US,en;q=0.9" } else { "ja" })
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_problem(&r, 422, lang, field, key, &format!("API {key} {lang}"));
        }
    }
    assert_eq!(app.counts().await, before, "no patient was created");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_bodies_are_refused_with_413() {
    let app = TestApp::start().await;
    let before = app.counts().await;
    let sato = app.signin(SATO).await;
    let big = "あ".repeat(400 * 1024); // 1.2 MB of UTF-8, more once percent-encoded
    let mut form = patient_form(("ウミノ", "ジロウ"), "1950-05-05");
    form.push(("note", big.as_str()));
    for lang in ["ja", "en"] {
        if lang == "en" {
            sato.set_lang("en").await;
        }
        let r = sato.post("/patients", &form).await;
        assert_refused(&r, 413, lang, "error-too-large", &format!("big form {lang}"));
    }

    // Without a session too (the sign-in form is the one open to anybody).
    let r = Resp::of(
        app.bare_client()
            .post(app.at("/signin"))
            .form(&[("email", SATO), ("password", big.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(&r, 413, "ja", "error-too-large", "big sign-in form");

    let token = app.token_for(SATO).await;
    let api = app.bare_client();
    let body = json!({
        "family_name": "海野", "given_name": "次郎", "family_kana": "ウミノ", "given_kana": "ジロウ",
        "sex": "male", "birth_date": "1950-05-05", "address": big, "confirm_new": true,
    });
    for lang in ["ja", "en"] {
        let r = Resp::of(
            api.post(app.at("/api/v1/patients"))
                .bearer_auth(&token)
                .header("accept-language", lang)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 413, "big JSON {lang}:\n{}", r.body);
        assert!(r.header("content-type").starts_with("application/problem+json"));
        assert_eq!(r.json()["title"], msg(lang, "error-too-large"), "big JSON {lang}");
        r.assert_no_leak("big JSON");
    }
    assert_eq!(app.counts().await, before, "no patient was created");
    app.finish().await;
}

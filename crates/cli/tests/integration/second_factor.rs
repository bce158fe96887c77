//! Two-factor sign-in (issue #8, acceptance 1; DOMAIN.md §4, the MHLW guideline): with
//! the second factor required (the production default), a password alone reaches no
//! page of the application; an authenticator is set up at first sign-in; codes work
//! once and only near their time; recovery codes work once; sensitive actions ask for
//! the password and code again; an administrator's password reset leaves the second
//! factor in place.

use crate::harness::*;
use time::Duration;
use tsunagu_cli::demo::DEMO_PASSWORD;
use tsunagu_domain::clock::Clock;
use tsunagu_store::AuditCtx;
use tsunagu_web::WebConfig;
use tsunagu_web::routes::{Scope, route_table};
use tsunagu_web::second_factor::{code_at_step, recovery_code_hash, step_of};

pub(crate) fn required() -> WebConfig {
    WebConfig { second_factor_required: true, ..web_config() }
}

fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// The code an authenticator app shows now (`offset` steps from now).
pub(crate) fn code(app: &TestApp, secret: &[u8], offset: i64) -> String {
    code_at_step(secret, step_of(app.clock.now().unix_timestamp()) + offset)
}

/// Give the person an authenticator and known recovery codes, through the store.
pub(crate) async fn enrol(app: &TestApp, email: &str) -> (Vec<u8>, Vec<String>) {
    let user = app.user(email).await;
    let secret = format!("secret of {email}").into_bytes();
    let codes: Vec<String> = (0..10).map(|i| format!("abcd-efgh-ijkl-mn{}{}", (b'a' + i) as char, 'q')).collect();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_code_hash(c)).collect();
    app.store.enrol_totp(user.id, &secret, 0, &hashes, &AuditCtx::default()).await.unwrap();
    (secret, codes)
}

/// The password step: a fresh client holding the half-way session.
pub(crate) async fn password_step(app: &TestApp, email: &str, password: &str) -> (reqwest::Client, Resp) {
    let client = app.client();
    let r = client
        .post(app.at("/signin"))
        .form(&[("email", email), ("password", password), ("next", "/patients")])
        .send()
        .await
        .unwrap();
    (client, Resp::of(r).await)
}

pub(crate) async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> Resp {
    Resp::of(client.get(app.at(path)).send().await.unwrap()).await
}

pub(crate) async fn post(app: &TestApp, client: &reqwest::Client, path: &str, fields: &[(&str, &str)]) -> Resp {
    Resp::of(client.post(app.at(path)).form(fields).send().await.unwrap()).await
}

/// The code page's CSRF token, then the code.
pub(crate) async fn submit_code(app: &TestApp, client: &reqwest::Client, typed: &str) -> Resp {
    let form = get(app, client, "/signin/code?next=%2Fpatients").await;
    assert_eq!(form.status, 200, "the code page opens for a half-way session");
    let csrf = form.csrf().unwrap();
    post(app, client, "/signin/code", &[("csrf", &csrf), ("code", typed), ("next", "/patients")]).await
}

/// Sign in fully with password and code; a session for the rest of a test.
pub(crate) async fn signin_with_code(app: &TestApp, email: &str, secret: &[u8]) -> Session {
    let (client, r) = password_step(app, email, DEMO_PASSWORD).await;
    assert_eq!(r.location(), "/signin/code?next=%2Fpatients");
    let r = submit_code(app, &client, &code(app, secret, 0)).await;
    assert_eq!((r.status, r.location().as_str()), (303, "/patients"), "{}", r.body);
    let cookie = session_cookie(&r.headers).unwrap();
    let page = Resp::of(client.get(app.at("/patients")).send().await.unwrap()).await;
    assert_eq!(page.status, 200);
    Session { client, csrf: page.csrf().unwrap(), cookie, base: app.at("") }
}

/// Every page of the application, with a real patient in the path: none may answer
/// a half-way session with anything but "sign in first".
pub(crate) async fn assert_reaches_nothing(app: &TestApp, client: &reqwest::Client, what: &str) {
    let patient = app.patient_id("ヤマダ").await.to_string();
    for route in route_table() {
        if route.method != "GET"
            || matches!(route.scope, Scope::Public)
            || route.path.starts_with("/api/")
            || route.path.starts_with("/fhir/")
        {
            continue;
        }
        let path = fill_path(route.path, &[("patient", &patient)], &random_uuid().to_string());
        if route.scope == Scope::Family {
            // The family's pages know no staff session at all: their own sign-in.
            let r = get(app, client, &path).await;
            assert_eq!((r.status, r.location().as_str()), (303, "/family/signin"), "{what}: GET {path}");
            continue;
        }
        let mut r = get(app, client, &path).await;
        if r.status == 303 && !r.location().starts_with("/signin") {
            // `/` forwards to the inbox, which then asks to sign in.
            r = get(app, client, &r.location()).await;
        }
        assert_eq!(r.status, 303, "{what}: GET {path} answered {}", r.status);
        assert!(r.location().starts_with("/signin?next="), "{what}: GET {path} went to {}", r.location());
        assert!(!r.body.contains("ヤマダ") && !r.body.contains("山田"), "{what}: GET {path} shows a patient");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_alone_reaches_nothing_and_first_sign_in_sets_up_the_authenticator() {
    let app = TestApp::start_with_config(required()).await;

    let (client, r) = password_step(&app, TAKAHASHI, DEMO_PASSWORD).await;
    assert_eq!((r.status, r.location().as_str()), (303, "/signin/enrol?next=%2Fpatients"));
    assert!(session_cookie(&r.headers).is_some());
    assert_reaches_nothing(&app, &client, "before setting up an authenticator").await;
    // The code page sends a person without an authenticator to set one up.
    assert_eq!(get(&app, &client, "/signin/code?next=%2Fpatients").await.location(), "/signin/enrol?next=%2Fpatients");

    let setup = get(&app, &client, "/signin/enrol?next=%2Fpatients").await;
    assert_eq!(setup.status, 200);
    assert!(setup.body.contains("<svg"), "a QR code drawn as SVG");
    let secret_text =
        setup.body.split("id=\"totp-secret\" class=\"secret\">").nth(1).unwrap().split('<').next().unwrap();
    let secret = base32_decode(secret_text);
    assert_eq!(secret.len(), 20, "a 160-bit secret");
    // Reloading keeps the same secret (the phone may already have scanned it).
    assert!(get(&app, &client, "/signin/enrol?next=%2Fpatients").await.body.contains(secret_text));
    let csrf = setup.csrf().unwrap();

    // A wrong code changes nothing.
    let wrong = if code(&app, &secret, 0) == "000000" { "111111" } else { "000000" };
    let r = post(&app, &client, "/signin/enrol", &[("csrf", &csrf), ("code", wrong), ("next", "/patients")]).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "second-factor-setup-wrong")));
    assert!(app.store.totp_factor(app.user(TAKAHASHI).await.id).await.unwrap().is_none());
    assert_reaches_nothing(&app, &client, "after a wrong first code").await;

    let r = post(
        &app,
        &client,
        "/signin/enrol",
        &[("csrf", &csrf), ("code", &code(&app, &secret, 0)), ("next", "/patients")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new_cookie = session_cookie(&r.headers).unwrap();
    let codes: Vec<String> =
        r.body.split("<li><code>").skip(1).map(|s| s.split('<').next().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10, "ten recovery codes shown once");
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(rows.iter().any(|a| a.action == "second_factor.enrol"), "{rows:?}");
    assert!(rows.iter().any(|a| a.action == "signin" && a.detail == "password+totp_enrolled"), "{rows:?}");

    // Signed in now, on a new session id.
    assert_eq!(get(&app, &client, "/patients").await.status, 200);
    let user = app.user(TAKAHASHI).await;
    assert_eq!(app.store.recovery_codes_left(user.id).await.unwrap(), 10);
    assert!(app.store.use_recovery_code(user.id, &recovery_code_hash(&codes[0])).await.unwrap());
    let _ = new_cookie;

    // The next sign-in asks for the code.
    let (_, r) = password_step(&app, TAKAHASHI, DEMO_PASSWORD).await;
    assert_eq!(r.location(), "/signin/code?next=%2Fpatients");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_work_once_and_only_near_their_time_and_recovery_codes_once() {
    let app = TestApp::start_with_config(required()).await;
    let (secret, recovery) = enrol(&app, TAKAHASHI).await;

    let (client, r) = password_step(&app, TAKAHASHI, DEMO_PASSWORD).await;
    assert_eq!(r.location(), "/signin/code?next=%2Fpatients");
    assert_reaches_nothing(&app, &client, "waiting for the code").await;
    let now_code = code(&app, &secret, 0);
    let r = submit_code(&app, &client, &now_code).await;
    assert_eq!((r.status, r.location().as_str()), (303, "/patients"));
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(rows.iter().any(|a| a.action == "signin" && a.outcome == "allowed" && a.detail == "password+totp"));
    assert_eq!(get(&app, &client, "/patients").await.status, 200);

    // The same code again (a code read over a shoulder, or from a log) is refused.
    let (client, _) = password_step(&app, TAKAHASHI, DEMO_PASSWORD).await;
    let r = submit_code(&app, &client, &now_code).await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains(&msg("ja", "second-factor-replayed")), "{}", r.body);
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(
        rows.iter()
            .any(|a| a.action == "signin.second_factor" && a.outcome == "refused" && a.detail == "replayed_code")
    );
    assert_reaches_nothing(&app, &client, "after a replayed code").await;

    // Out of the window on either side: refused.
    app.clock.advance(Duration::seconds(30));
    for offset in [-2, 2, 3] {
        let r = submit_code(&app, &client, &code(&app, &secret, offset)).await;
        assert_eq!(r.status, 401, "a code {offset} steps away");
        assert!(r.text().contains(&msg("ja", "second-factor-wrong")));
    }
    // The next code, once.
    let r = submit_code(&app, &client, &code(&app, &secret, 0)).await;
    assert_eq!((r.status, r.location().as_str()), (303, "/patients"));

    // A recovery code instead of the app: works once, however it is typed.
    let user = app.user(TAKAHASHI).await;
    let (client, _) = password_step(&app, TAKAHASHI, DEMO_PASSWORD).await;
    let r = submit_code(&app, &client, &recovery[3].to_uppercase().replace('-', " ")).await;
    assert_eq!((r.status, r.location().as_str()), (303, "/patients"), "{}", r.body);
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(rows.iter().any(|a| a.action == "signin" && a.detail == "password+recovery_code"));
    assert_eq!(app.store.recovery_codes_left(user.id).await.unwrap(), 9);
    let (client, _) = password_step(&app, TAKAHASHI, DEMO_PASSWORD).await;
    let r = submit_code(&app, &client, &recovery[3]).await;
    assert_eq!(r.status, 401, "a used recovery code");
    let r = submit_code(&app, &client, "zzzz-zzzz-zzzz-zzzz").await;
    assert_eq!(r.status, 401, "an unknown recovery code");

    // Guessing is cut short: after five wrong codes the half-way session ends.
    for _ in 0..3 {
        assert_eq!(submit_code(&app, &client, "zzzz-zzzz-zzzz-zzzy").await.status, 401);
    }
    let r = submit_code(&app, &client, &code(&app, &secret, 1)).await;
    assert_eq!(r.status, 429, "throttled even with a right code: {}", r.body);
    assert!(r.text().contains(&msg("ja", "second-factor-throttled")));
    let form = get(&app, &client, "/signin/code?next=%2Fpatients").await;
    assert_eq!(form.status, 303, "the half-way session is gone");
    assert!(form.location().starts_with("/signin?next="));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_actions_ask_for_password_and_code_again() {
    let app = TestApp::start_with_config(required()).await;
    let (secret, recovery) = enrol(&app, KOBAYASHI).await;
    let kobayashi = signin_with_code(&app, KOBAYASHI, &secret).await;

    // Just signed in: break-the-glass opens without asking again.
    assert_eq!(kobayashi.get("/emergency").await.status, 200);
    // Eleven minutes later (the window is ten) it asks first, and changes nothing.
    app.clock.advance(Duration::minutes(11));
    let r = kobayashi.get("/emergency").await;
    assert_eq!((r.status, r.location().as_str()), (303, "/reauth?next=%2Femergency"));
    let r = kobayashi
        .post("/emergency", &[("name", "やまだはなこ"), ("birth_date", "1940-03-02"), ("reason", "救急搬送")])
        .await;
    assert_eq!(r.location(), "/reauth?next=%2Femergency");
    let yamada = app.patient_id("ヤマダ").await;
    assert_eq!(kobayashi.get(&format!("/patients/{yamada}")).await.status, 404, "no emergency access was opened");

    let form = kobayashi.get("/reauth?next=%2Femergency").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"code\""), "the code is asked for");
    let r = kobayashi
        .post("/reauth", &[("password", "wrong password"), ("code", &code(&app, &secret, 0)), ("next", "/emergency")])
        .await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains(&msg("ja", "reauth-failed")));
    let r = kobayashi.post("/reauth", &[("password", DEMO_PASSWORD), ("code", "000000"), ("next", "/emergency")]).await;
    assert_eq!(r.status, 401, "the password alone is not enough");
    let r = kobayashi
        .post("/reauth", &[("password", DEMO_PASSWORD), ("code", &code(&app, &secret, 0)), ("next", "/emergency")])
        .await;
    assert_eq!((r.status, r.location().as_str()), (303, "/emergency"));
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(rows.iter().any(|a| a.action == "reauth" && a.outcome == "allowed" && a.detail == "password+totp"));
    assert_eq!(kobayashi.get("/emergency").await.status, 200);

    // The account page: new recovery codes replace the old ones.
    let account = kobayashi.get("/account").await;
    assert_eq!(account.status, 200);
    assert!(account.body.contains("id=\"recovery-left\""));
    let r = kobayashi.post("/account/recovery-codes", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.matches("<li><code>").count(), 10);
    let user = app.user(KOBAYASHI).await;
    assert!(
        !app.store.use_recovery_code(user.id, &recovery_code_hash(&recovery[0])).await.unwrap(),
        "old codes stop working"
    );

    // Replacing the authenticator, later, asks again first.
    app.clock.advance(Duration::minutes(11));
    let r = kobayashi.get("/account/authenticator").await;
    assert_eq!(r.location(), "/reauth?next=%2Faccount%2Fauthenticator");
    let r = kobayashi.post("/account/recovery-codes", &[]).await;
    assert_eq!(r.location(), "/reauth?next=%2Faccount");
    // Removing the second factor is not offered where it is required.
    assert_eq!(kobayashi.post("/account/authenticator/remove", &[]).await.status, 403);
    assert!(app.store.totp_factor(user.id).await.unwrap().is_some());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_password_reset_never_bypasses_the_second_factor() {
    let app = TestApp::start_with_config(required()).await;
    // 佐藤 administers the hospital, where 田中 works.
    let (admin_secret, _) = enrol(&app, SATO).await;
    let (tanaka_secret, _) = enrol(&app, "tanaka@hospital.example.jp").await;
    let tanaka = signin_with_code(&app, "tanaka@hospital.example.jp", &tanaka_secret).await;
    app.clock.advance(Duration::seconds(30));
    let sato = signin_with_code(&app, SATO, &admin_secret).await;
    let tanaka_id = app.user("tanaka@hospital.example.jp").await.id;

    // Too short: refused with the reason, nothing changes.
    let r = sato.post(&format!("/admin/staff/{tanaka_id}/password"), &[("password", "short")]).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "err-password-short")));
    assert_eq!(tanaka.get("/patients").await.status, 200);

    let r = sato.post(&format!("/admin/staff/{tanaka_id}/password"), &[("password", "a new password 2026")]).await;
    assert_eq!((r.status, r.location().as_str()), (303, "/admin/org"));
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(rows.iter().any(|a| a.action == "user.password_reset" && a.target == tanaka_id.to_string()));
    assert_eq!(tanaka.get("/patients").await.status, 303, "田中's sessions ended");

    // The new password opens only the code page.
    let (_, r) = password_step(&app, "tanaka@hospital.example.jp", DEMO_PASSWORD).await;
    assert_eq!(r.status, 401, "the old password no longer works");
    let (client, r) = password_step(&app, "tanaka@hospital.example.jp", "a new password 2026").await;
    assert_eq!(r.location(), "/signin/code?next=%2Fpatients");
    assert_reaches_nothing(&app, &client, "after a password reset").await;
    app.clock.advance(Duration::seconds(30));
    let r = submit_code(&app, &client, &code(&app, &tanaka_secret, 0)).await;
    assert_eq!(r.location(), "/patients");

    // Another organization's administrator cannot reset 田中's password.
    let (suzuki_secret, _) = enrol(&app, SUZUKI).await;
    let suzuki = signin_with_code(&app, SUZUKI, &suzuki_secret).await;
    let r = suzuki.post(&format!("/admin/staff/{tanaka_id}/password"), &[("password", "taken over 123456")]).await;
    assert_eq!(r.status, 404);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_resets_a_lost_second_factor_and_the_person_sets_up_a_new_one() {
    let app = TestApp::start_with_config(required()).await;
    let (secret, _) = enrol(&app, TAKAHASHI).await;
    let takahashi = signin_with_code(&app, TAKAHASHI, &secret).await;

    let out = app.cli(&["user", "reset-second-factor", "--email", TAKAHASHI]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("removed the authenticator"));
    let user = app.user(TAKAHASHI).await;
    assert!(app.store.totp_factor(user.id).await.unwrap().is_none());
    assert_eq!(app.store.recovery_codes_left(user.id).await.unwrap(), 0);
    assert_eq!(takahashi.get("/patients").await.status, 303, "the sessions ended");
    let rows = app.store.audit_recent(Some("second_factor.reset"), 5).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].target, user.id.to_string());

    // The next sign-in sets up a new authenticator before anything else.
    let (_, r) = password_step(&app, TAKAHASHI, DEMO_PASSWORD).await;
    assert_eq!(r.location(), "/signin/enrol?next=%2Fpatients");

    let out = app.cli(&["user", "reset-second-factor", "--email", "nobody@example.jp"]).await;
    assert!(!out.status.success());
    app.finish().await;
}

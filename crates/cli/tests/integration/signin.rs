//! Sign-in, sessions and CSRF: failures are refused with a message and audited, an
//! account is throttled after five failures, the session cookie is HttpOnly and
//! SameSite with a new id at every sign-in, sign-out (here or everywhere) and the idle
//! timeout end sessions, and forms need the session's token from the same origin.

use crate::harness::*;
use tsunagu_cli::demo::DEMO_PASSWORD;

async fn attempt(app: &TestApp, email: &str, password: &str) -> Resp {
    Resp::of(
        app.client()
            .post(app.at("/signin"))
            .form(&[("email", email), ("password", password), ("next", "/patients")])
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Does this cookie value still open a signed-in page?
async fn opens_patients(app: &TestApp, cookie: &str) -> bool {
    let r = Resp::of(
        app.bare_client().get(app.at("/patients")).header("cookie", format!("tsunagu={cookie}")).send().await.unwrap(),
    )
    .await;
    match r.status {
        200 => true,
        303 => {
            assert!(r.location().starts_with("/signin"), "a stale session goes to sign-in, not {}", r.location());
            false
        }
        s => panic!("GET /patients answered {s}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_signins_are_refused_audited_and_throttled() {
    let app = TestApp::start().await;

    let r = attempt(&app, TAKAHASHI, "wrong password").await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.text().contains(&msg("ja", "signin-failed")), "{}", r.body);
    assert!(session_cookie(&r.headers).is_none(), "no session for a failure");
    r.assert_no_leak("failed sign-in");
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(
        rows.iter().any(|a| a.action == "signin" && a.outcome == "refused" && a.target == TAKAHASHI),
        "the failure is audited: {rows:?}"
    );

    // An unknown account gets the same answer as a wrong password.
    let r = attempt(&app, "nobody@station.example.jp", "wrong password").await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains(&msg("ja", "signin-failed")));

    for _ in 2..=5 {
        let r = attempt(&app, TAKAHASHI, "wrong password").await;
        assert_eq!(r.status, 401);
    }
    // Five failures: the sixth attempt is refused even with the right password.
    let r = attempt(&app, TAKAHASHI, DEMO_PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.text().contains(&msg("ja", "signin-throttled")), "{}", r.body);
    assert!(session_cookie(&r.headers).is_none());
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(
        rows.iter().any(|a| a.action == "signin" && a.outcome == "refused"),
        "the throttled attempt is audited: {rows:?}"
    );
    // Other accounts are not affected.
    let r = attempt(&app, SUZUKI, DEMO_PASSWORD).await;
    assert_eq!(r.status, 303);
    // After the window the account can sign in again.
    app.clock.advance(time::Duration::minutes(16));
    let r = attempt(&app, TAKAHASHI, DEMO_PASSWORD).await;
    assert_eq!(r.status, 303, "after the window: {}", r.body);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_rotate_and_end() {
    let app = TestApp::start().await;

    // The cookie: HttpOnly, SameSite, the whole site, a new id at every sign-in.
    let r = attempt(&app, SATO, DEMO_PASSWORD).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), "/patients");
    let line = set_cookie_line(&r.headers, "tsunagu").expect("a session cookie");
    assert!(line.contains("HttpOnly"), "{line}");
    assert!(line.contains("SameSite=Lax") || line.contains("SameSite=Strict"), "{line}");
    assert!(line.contains("Path=/"), "{line}");
    let first = session_cookie(&r.headers).unwrap();
    assert!(first.len() >= 32, "a long random id: {first}");
    let again = session_cookie(&attempt(&app, SATO, DEMO_PASSWORD).await.headers).unwrap();
    assert_ne!(first, again, "a new session id at every sign-in");

    // A session id planted by someone else is never adopted.
    let planted = "planted-by-an-attacker-0123456789abcdef";
    let r = Resp::of(
        app.bare_client()
            .post(app.at("/signin"))
            .header("cookie", format!("tsunagu={planted}"))
            .form(&[("email", SATO), ("password", DEMO_PASSWORD), ("next", "/patients")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 303);
    assert_ne!(session_cookie(&r.headers).unwrap(), planted);
    assert!(!opens_patients(&app, planted).await);

    // Sign-out ends this session only.
    let a = app.signin(SATO).await;
    let b = app.signin(SATO).await;
    assert!(opens_patients(&app, &a.cookie).await);
    let r = a.post("/signout", &[]).await;
    assert_eq!(r.status, 303);
    assert!(r.location().starts_with("/signin"));
    let cleared = set_cookie_line(&r.headers, "tsunagu").expect("the cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(!opens_patients(&app, &a.cookie).await, "the old cookie is dead");
    assert!(opens_patients(&app, &b.cookie).await, "the other session lives");

    // Sign-out everywhere ends every session of the person, and only theirs.
    let c = app.signin(SATO).await;
    let other = app.signin(SUZUKI).await;
    let r = c.post("/signout-everywhere", &[]).await;
    assert_eq!(r.status, 303);
    assert!(!opens_patients(&app, &b.cookie).await);
    assert!(!opens_patients(&app, &c.cookie).await);
    assert!(!opens_patients(&app, &first).await);
    assert!(opens_patients(&app, &other.cookie).await);
    let rows = app.store.audit_recent(Some("signout.everywhere"), 5).await.unwrap();
    assert_eq!(rows.len(), 1);

    // Idle timeout (30 minutes), sliding with use.
    let d = app.signin(SATO).await;
    app.clock.advance(time::Duration::minutes(29));
    assert!(opens_patients(&app, &d.cookie).await, "29 idle minutes");
    app.clock.advance(time::Duration::minutes(29));
    assert!(opens_patients(&app, &d.cookie).await, "used 29 minutes ago");
    app.clock.advance(time::Duration::minutes(31));
    assert!(!opens_patients(&app, &d.cookie).await, "31 idle minutes");
    let r = d.get("/patients").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), "/signin?next=%2Fpatients");

    // Absolute timeout (12 hours), however busy the session.
    let e = app.signin(SATO).await;
    let mut alive_for = 0;
    while opens_patients(&app, &e.cookie).await {
        alive_for += 20;
        assert!(alive_for <= 13 * 60, "the session outlived 12 hours");
        app.clock.advance(time::Duration::minutes(20));
    }
    assert!(alive_for >= 11 * 60, "ended after only {alive_for} minutes");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_the_session_token_and_the_same_origin() {
    let app = TestApp::start().await;
    let before = app.counts().await;
    let sato = app.signin(SATO).await;
    let form = [
        ("family_name", "海野"),
        ("given_name", "次郎"),
        ("family_kana", "ウミノ"),
        ("given_kana", "ジロウ"),
        ("sex", "male"),
        ("birth_date", "1950-05-05"),
        ("confirm_new", "on"),
    ];

    let r = sato.post_raw("/patients", &form).await;
    assert_eq!(r.status, 403, "no token: {}", r.body);
    assert!(r.text().contains(&msg("ja", "error-csrf")));
    let mut wrong = vec![("csrf", "not-the-token")];
    wrong.extend_from_slice(&form);
    let r = sato.post_raw("/patients", &wrong).await;
    assert_eq!(r.status, 403, "a wrong token: {}", r.body);

    let mut with_token = vec![("csrf", sato.csrf.as_str())];
    with_token.extend_from_slice(&form);
    for (name, value) in [("origin", "https://evil.example"), ("origin", "null"), ("sec-fetch-site", "cross-site")] {
        let r =
            Resp::of(sato.client.post(app.at("/patients")).header(name, value).form(&with_token).send().await.unwrap())
                .await;
        assert_eq!(r.status, 403, "{name}: {value}: {}", r.body);
    }
    // Sign-out is a form too: a cross-site one does not end the session.
    let r = Resp::of(
        sato.client
            .post(app.at("/signout"))
            .header("origin", "https://evil.example")
            .form(&[("csrf", sato.csrf.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(opens_patients(&app, &sato.cookie).await);
    assert_eq!(app.counts().await, before, "nothing was registered");

    // The same form, same origin, with the token: accepted.
    let r = Resp::of(
        sato.client
            .post(app.at("/patients"))
            .header("origin", app.base.as_str())
            .form(&with_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(app.counts().await.2, before.2 + 1);
    app.finish().await;
}

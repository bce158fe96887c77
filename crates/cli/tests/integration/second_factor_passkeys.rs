//! Passkeys as an alternative second factor, over HTTP without an authenticator (the
//! whole ceremony with Chrome's virtual authenticator is `browser/passkey.rs`): the
//! routes ask for recent authentication, answers nobody asked for and broken answers
//! are refused with a clear message and change nothing, a passkey counts as a second
//! factor at sign-in (a password alone still reaches nothing), the last factor cannot
//! be removed where one is required, a removed passkey cannot be used, and every
//! registration, use and removal leaves an audit row.

use crate::harness::*;
use crate::second_factor::{assert_reaches_nothing, code, enrol, password_step, required, signin_with_code};
use time::Duration;
use tsunagu_cli::demo::DEMO_PASSWORD;
use tsunagu_store::AuditCtx;

/// A passkey row put in through the store (a credential no authenticator holds: the
/// tests below need only the row).
async fn add_row(app: &TestApp, email: &str, name: &str) -> String {
    let user = app.user(email).await;
    let cred = format!("cred-{}", random_uuid().simple());
    app.store.add_passkey(user.id, &cred, name, "{}", None, &AuditCtx::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_passkey_routes_ask_for_recent_authentication_and_refuse_unsolicited_answers() {
    let app = TestApp::start_with_config(required()).await;
    let (secret, _) = enrol(&app, KOBAYASHI).await;
    let me = signin_with_code(&app, KOBAYASHI, &secret).await;
    let user = app.user(KOBAYASHI).await;

    let account = me.get("/account").await;
    assert_eq!(account.status, 200);
    assert!(account.body.contains("id=\"passkeys-none\""), "{}", account.body);
    assert!(account.body.contains("href=\"/account/passkeys/new\""));
    assert!(account.body.contains("/static/passkey.js"), "the ceremony script is served from the app");
    let js = me.get("/static/passkey.js").await;
    assert_eq!(js.status, 200);
    assert!(js.body.contains("navigator.credentials.create"));

    // Just signed in: the form opens and the options come as JSON for this relying party.
    assert_eq!(me.get("/account/passkeys/new").await.status, 200);
    let r = me.post("/account/passkeys/options", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let options: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(options["publicKey"]["user"]["name"], KOBAYASHI);
    assert!(options["publicKey"]["challenge"].as_str().is_some_and(|c| c.len() >= 40));

    // A broken answer: refused with the reason in Japanese, nothing registered, audited.
    let r = me.post("/account/passkeys", &[("name", "仕事用"), ("credential", "{\"id\":\"x\"}")]).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "passkey-failed")), "{}", r.body);
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(rows.iter().any(|a| a.action == "passkey.register" && a.outcome == "refused"), "{rows:?}");
    assert!(app.store.passkeys(user.id).await.unwrap().is_empty());
    // The ceremony was used up: the same (or any) answer again finds none.
    let r = me.post("/account/passkeys", &[("name", "仕事用"), ("credential", "")]).await;
    assert_eq!(r.status, 422);
    assert!(app.store.passkeys(user.id).await.unwrap().is_empty());
    // A name too long is refused before anything else.
    let long = "あ".repeat(61);
    let r = me.post("/account/passkeys", &[("name", &long), ("credential", "{}")]).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&msg("ja", "passkey-name-long")));

    // No passkey yet: re-authentication with one has nothing to ask for.
    let r = me.post("/reauth/passkey/options", &[]).await;
    assert_eq!(r.status, 409);
    assert!(r.text().contains(&msg("ja", "passkey-none")));
    // An answer without a ceremony is refused and does not re-authenticate.
    app.clock.advance(Duration::minutes(11));
    let r = me.post("/reauth/passkey", &[("credential", "{}"), ("next", "/account")]).await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains(&msg("ja", "passkey-failed")));
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(rows.iter().any(|a| a.action == "reauth" && a.outcome == "refused" && a.detail == "passkey_failed"));

    // Eleven minutes on, every passkey change asks for re-authentication first.
    for r in [
        me.get("/account/passkeys/new").await,
        me.post("/account/passkeys/options", &[]).await,
        me.post("/account/passkeys", &[("name", "x"), ("credential", "{}")]).await,
    ] {
        assert_eq!((r.status, r.location().as_str()), (303, "/reauth?next=%2Faccount%2Fpasskeys%2Fnew"));
    }
    let id = add_row(&app, KOBAYASHI, "古い端末").await;
    let r = me.post(&format!("/account/passkeys/{id}/remove"), &[]).await;
    assert_eq!((r.status, r.location().as_str()), (303, "/reauth?next=%2Faccount"));
    assert_eq!(app.store.passkeys(user.id).await.unwrap().len(), 1, "nothing removed");

    // Without a session, or with a half-way one, none of it answers.
    let stranger = app.client();
    let r = Resp::of(stranger.post(app.at("/account/passkeys/options")).send().await.unwrap()).await;
    assert_ne!(r.status, 200);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_passkey_counts_at_sign_in_and_a_removed_one_cannot_be_used() {
    let app = TestApp::start_with_config(required()).await;
    let user = app.user(TAKAHASHI).await;
    // A person whose only second factor is a passkey.
    let id = add_row(&app, TAKAHASHI, "仕事用のスマートフォン").await;
    let rows = app.store.audit_recent(Some("passkey.register"), 5).await.unwrap();
    assert!(rows.iter().any(|a| a.target == id && a.detail == "仕事用のスマートフォン"), "{rows:?}");

    // The password alone opens the second step, which offers the passkey; nothing else.
    let (client, r) = password_step(&app, TAKAHASHI, DEMO_PASSWORD).await;
    assert_eq!(r.location(), "/signin/code?next=%2Fpatients");
    assert_reaches_nothing(&app, &client, "a passkey owed").await;
    let form = Resp::of(client.get(app.at("/signin/code?next=%2Fpatients")).send().await.unwrap()).await;
    assert!(form.body.contains("id=\"passkey-signin-form\""), "the page offers the passkey");
    assert!(form.body.contains("id=\"code\""), "and still the code, without script");
    let csrf = form.csrf().unwrap();

    // An answer nobody asked for: refused, counted like a wrong code, still half-way.
    let r = Resp::of(
        client
            .post(app.at("/signin/passkey"))
            .form(&[("csrf", csrf.as_str()), ("credential", "{}"), ("next", "/patients")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains(&msg("ja", "passkey-failed")));
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(rows.iter().any(|a| a.action == "signin.second_factor" && a.detail == "passkey_failed"), "{rows:?}");
    assert_reaches_nothing(&app, &client, "after a refused passkey answer").await;
    // Without the session's token the post is refused outright.
    let r = Resp::of(client.post(app.at("/signin/passkey")).form(&[("credential", "{}")]).send().await.unwrap()).await;
    assert_eq!(r.status, 403);

    // Re-authentication of a passkey-only person asks for more than the password.
    let store_user = app.user(TAKAHASHI).await;
    assert!(app.store.has_second_factor(store_user.id).await.unwrap());

    // Removing: the only factor cannot go where one is required (checked by the route
    // below with a signed-in person); a removed passkey cannot be used.
    let ctx = AuditCtx::default();
    assert!(app.store.passkey_used(user.id, &id, "{}", 1, "signin", &ctx).await.unwrap());
    let rows = app.store.audit_recent(Some("passkey.use"), 5).await.unwrap();
    assert!(rows.iter().any(|a| a.target == id && a.detail == "signin"));
    let listed = app.store.passkeys(user.id).await.unwrap();
    assert_eq!(listed[0].sign_count, 1);
    assert!(listed[0].last_used_at.is_some());
    assert!(app.store.remove_passkey(user.id, &id, &ctx).await.unwrap());
    assert!(!app.store.passkey_used(user.id, &id, "{}", 2, "signin", &ctx).await.unwrap(), "removed");
    assert!(!app.store.remove_passkey(user.id, &id, &ctx).await.unwrap(), "removed once");
    assert!(app.store.passkeys(user.id).await.unwrap().is_empty());
    let rows = app.store.audit_recent(Some("passkey.remove"), 5).await.unwrap();
    assert_eq!(rows.iter().filter(|a| a.target == id).count(), 1);
    // The row stays (a mark, not a DELETE), and the database refuses a DELETE.
    let deleted = sqlx::query("DELETE FROM passkeys").execute(&mut app.raw_conn().await).await;
    assert!(deleted.is_err(), "passkeys are never deleted");

    // Without a factor left, the next sign-in sets one up first.
    let (_, r) = password_step(&app, TAKAHASHI, DEMO_PASSWORD).await;
    assert_eq!(r.location(), "/signin/enrol?next=%2Fpatients");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_passkey_removal_keeps_a_factor_and_is_audited() {
    let app = TestApp::start_with_config(required()).await;
    let (secret, _) = enrol(&app, KOBAYASHI).await;
    let user = app.user(KOBAYASHI).await;
    let first = add_row(&app, KOBAYASHI, "iPhone").await;
    let me = signin_with_code(&app, KOBAYASHI, &secret).await;

    let account = me.get("/account").await;
    assert!(account.body.contains("iPhone"));
    assert!(account.body.contains(&format!("/account/passkeys/{first}/remove")), "removable: the app remains");
    assert!(account.body.contains(&msg("ja", "passkey-never-used")));

    // Someone else's passkey, or none: not found, nothing changes.
    let other = add_row(&app, TAKAHASHI, "他人の端末").await;
    assert_eq!(me.post(&format!("/account/passkeys/{other}/remove"), &[]).await.status, 404);
    assert_eq!(me.post("/account/passkeys/nonsense/remove", &[]).await.status, 404);
    assert_eq!(app.store.passkeys(app.user(TAKAHASHI).await.id).await.unwrap().len(), 1);

    let r = me.post(&format!("/account/passkeys/{first}/remove"), &[]).await;
    assert_eq!((r.status, r.location().as_str()), (303, "/account"));
    let rows = app.audit_of_request(&r.request_id()).await;
    assert!(rows.iter().any(|a| a.action == "passkey.remove" && a.target == first), "{rows:?}");
    assert!(app.store.passkeys(user.id).await.unwrap().is_empty());

    // A person whose only factor is one passkey cannot remove it where one is required.
    let takahashi = app.user(TAKAHASHI).await;
    assert!(app.store.totp_factor(takahashi.id).await.unwrap().is_none());
    // (高橋 signs in with a recovery code, the passkey's companion.)
    let codes = vec![tsunagu_web::second_factor::recovery_code_hash("aaaa-bbbb-cccc-dddd")];
    app.store.replace_recovery_codes(takahashi.id, &codes, &AuditCtx::default()).await.unwrap();
    let (client, _) = password_step(&app, TAKAHASHI, DEMO_PASSWORD).await;
    let form = Resp::of(client.get(app.at("/signin/code?next=%2Fpatients")).send().await.unwrap()).await;
    let csrf = form.csrf().unwrap();
    let r = Resp::of(
        client
            .post(app.at("/signin/code"))
            .form(&[("csrf", csrf.as_str()), ("code", "aaaa-bbbb-cccc-dddd"), ("next", "/account")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.location(), "/account");
    let page = Resp::of(client.get(app.at("/account")).send().await.unwrap()).await;
    assert!(page.body.contains("他人の端末"));
    assert!(!page.body.contains(&format!("/account/passkeys/{other}/remove")), "not offered");
    let csrf = page.csrf().unwrap();
    let r = Resp::of(
        client
            .post(app.at(&format!("/account/passkeys/{other}/remove")))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 409);
    assert!(r.text().contains(&msg("ja", "passkey-last-factor")));
    assert_eq!(app.store.passkeys(takahashi.id).await.unwrap().len(), 1);

    // Re-authenticating, a password alone is not enough for a passkey-only person.
    app.clock.advance(Duration::minutes(11));
    let form = Resp::of(client.get(app.at("/reauth?next=%2Faccount")).send().await.unwrap()).await;
    assert!(form.body.contains("id=\"passkey-reauth-form\""));
    assert!(form.body.contains("name=\"code\""));
    let r = Resp::of(
        client
            .post(app.at("/reauth"))
            .form(&[("csrf", csrf.as_str()), ("password", DEMO_PASSWORD), ("code", ""), ("next", "/account")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);

    // The operator's reset removes passkeys too (marks), and the person sets up anew.
    let out = app.cli(&["user", "reset-second-factor", "--email", TAKAHASHI]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(app.store.passkeys(takahashi.id).await.unwrap().is_empty());
    let (_, r) = password_step(&app, TAKAHASHI, DEMO_PASSWORD).await;
    assert_eq!(r.location(), "/signin/enrol?next=%2Fpatients");
    let _ = code(&app, &secret, 0);
    app.finish().await;
}

//! Passkeys in a real browser (issue #8): a visiting nurse who signs in with the code
//! from her authenticator app adds a passkey on her account page, signs out, signs in
//! again with the password and the passkey instead of a code, and reaches 山田 花子's
//! chart. The passkey lives in Chrome's virtual authenticator (a WebDriver extension
//! command), which verifies its user like a fingerprint reader would.
//!
//! The app runs here with the second factor required, as `serve` does, on `localhost`
//! (a passkey's relying party is a host name, never an IP address). Screenshots:
//! `passkey-account.png`, `passkey-chart.png`; on failure `failure-passkey.png`.

use super::*;
use tsunagu_store::AuditCtx;
use tsunagu_web::second_factor::{code_at_step, recovery_code_hash, step_of};

/// `POST /session/{id}/webauthn/authenticator`: a platform authenticator with resident
/// keys that verifies its user.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/webauthn/authenticator", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

const SECRET: &[u8] = b"the nurse's authenticator secret";

async fn start_required_app(dir: &Path) -> Result<(Running, Store)> {
    let url = format!("sqlite://{}/t.db", dir.display());
    let store = Store::open(&url, OpenMode::CreateIfMissing, Arc::new(SystemClock), Arc::new(RandomIdGen)).await?;
    store.migrate().await?;
    let hash = tsunagu_web::password::hash_password(DEMO_PASSWORD, 256, 1, 1)?;
    seed(&store, &hash).await?;
    // The nurse set up her authenticator app earlier.
    let nurse = store.user_by_email(&tsunagu_domain::person::Email::parse(NURSE)?).await?;
    let codes = vec![recovery_code_hash("aaaa-bbbb-cccc-dddd")];
    store.enrol_totp(nurse.id, SECRET, 0, &codes, &AuditCtx::default()).await?;
    let web = WebConfig {
        argon2_m_kib: 256,
        argon2_t: 1,
        argon2_p: 1,
        second_factor_required: true,
        passkey_rp_id: "localhost".into(),
        passkey_origin: "http://localhost".into(),
        ..Default::default()
    };
    let running = spawn(state(store.clone(), web), "127.0.0.1:0".parse()?).await?;
    Ok((running, store))
}

/// The password step, from the sign-in page to the second step.
async fn password(c: &Client, base: &str) -> Result<()> {
    goto(c, base, "/signin").await?;
    fill(c, "#email", NURSE).await?;
    fill(c, "#password", DEMO_PASSWORD).await?;
    find(c, "#signin-submit").await?.click().await?;
    wait_path(c, "the code page", |p| p == "/signin/code").await?;
    Ok(())
}

async fn passkey_story(c: &Client, base: &str, store: &Store) -> Result<()> {
    c.issue_cmd(AddVirtualAuthenticator).await.context("adding the virtual authenticator")?;

    // First sign-in: password and the code from the app.
    password(c, base).await?;
    let code = code_at_step(SECRET, step_of(SystemClock.now().unix_timestamp()));
    fill(c, "#code", &code).await?;
    find(c, "#code-submit").await?.click().await?;
    wait_text(c, "header.top .who", NURSE_NAME).await.context("signed in with the code")?;

    // Add a passkey on the account page.
    goto(c, base, "/account").await?;
    wait_text(c, "#account-passkeys", "パスキー").await?;
    find(c, "#add-passkey").await?.click().await?;
    wait_path(c, "the add-a-passkey page", |p| p == "/account/passkeys/new").await?;
    fill(c, "#passkey-name", "ステーションのPC").await?;
    find(c, "#passkey-create").await?.click().await?;
    wait_path(c, "the account page after adding", |p| p == "/account").await?;
    let listed = wait_text(c, "#passkey-list", "ステーションのPC").await?;
    ensure!(listed.contains("まだ使われていません"), "a new passkey is not used yet: {listed}");
    shot(c, "passkey-account.png", DESKTOP).await?;
    let nurse = store.user_by_email(&tsunagu_domain::person::Email::parse(NURSE)?).await?;
    let keys = store.passkeys(nurse.id).await?;
    ensure!(keys.len() == 1, "one passkey registered, found {}", keys.len());

    sign_out(c).await?;

    // Second sign-in: password, then the passkey instead of a code.
    password(c, base).await?;
    let button = find(c, "#passkey-signin").await?;
    wait_until("the passkey form to show", || async {
        Ok(c.find(Locator::Css("#passkey-signin-form")).await?.is_displayed().await?.then_some(()))
    })
    .await?;
    button.click().await?;
    wait_text(c, "header.top .who", NURSE_NAME).await.context("signed in with the passkey")?;
    open_chart_by_search(c, base, "やまだ", HANAKO).await?;
    shot(c, "passkey-chart.png", DESKTOP).await?;

    let keys = store.passkeys(nurse.id).await?;
    ensure!(keys.first().is_some_and(|k| k.last_used_at.is_some()), "the passkey's use is recorded");
    let signins = store.audit_recent(Some("signin"), 10).await?;
    ensure!(
        signins.iter().any(|a| a.detail == "password+passkey" && a.outcome == "allowed"),
        "a sign-in with the passkey is audited: {signins:?}"
    );
    ensure!(!store.audit_recent(Some("passkey.use"), 5).await?.is_empty(), "the use is audited");
    ensure!(!store.audit_recent(Some("passkey.register"), 5).await?.is_empty(), "the registration is audited");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nurse_adds_a_passkey_and_signs_in_with_it_instead_of_a_code_in_a_browser() {
    let run = async {
        let _turn = BROWSER.lock().await;
        let _ = std::fs::remove_file(shots_dir()?.join("failure-passkey.png"));
        let tmp = tempfile::tempdir()?;
        let profile = tempfile::tempdir()?;
        let (app, store) = start_required_app(tmp.path()).await?;
        let base = format!("http://localhost:{}", app.addr.port());
        let mut driver = Driver::start(tmp.path())?;
        driver.ready().await?;
        let client = connect(&driver, profile.path()).await?;
        let result = passkey_story(&client, &base, &store).await;
        if let Err(e) = &result {
            report_failure(&client, e, "failure-passkey.png").await;
        }
        let _ = tokio::time::timeout(TIMEOUT, client.close()).await;
        drop(driver);
        let _ = app.shutdown.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), app.task).await;
        result
    };
    if let Err(e) = run.await {
        panic!("passkey story failed: {e:?}");
    }
}

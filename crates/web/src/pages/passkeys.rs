//! Passkeys (WebAuthn) as an alternative second factor: registering one from the
//! account page (after re-authentication) or at first sign-in instead of an
//! authenticator app, using one instead of a code at sign-in and at re-authentication,
//! and removing one (audited, after re-authentication, never the last factor where a
//! second factor is required).
//!
//! Each ceremony has two steps, both ordinary form posts with the session's CSRF
//! token: `…/options` answers the options for `navigator.credentials` as JSON and keeps
//! the ceremony's state (its challenge) in the session row; the form post with the
//! browser's answer takes that state once and checks the answer against it. A second
//! answer, an answer without a ceremony, or one for another purpose is refused and
//! changes nothing. `static/passkey.js` runs the browser side.

use super::second_factor::{
    CodePage, ReauthPage, RecoveryCodesPage, at_other_step, audit_event, code_key, code_throttled, finish_signin,
    pending_chrome, with_cookie,
};
use super::signin::safe_next;
use crate::auth::{Pending, Signed, require_recent_auth};
use crate::error::{AppError, AppResult};
use crate::middleware::RequestCtx;
use crate::second_factor::{self as sf, recovery_code_hash};
use crate::state::AppState;
use crate::view::{Chrome, page, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use tsunagu_domain::{Invalid, UserId};
use tsunagu_store::{Outcome, PasskeyRow, SessionStage, UserRow};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url,
    Webauthn, WebauthnBuilder,
};

/// Longest name a person may give a passkey.
const NAME_MAX_CHARS: usize = 60;

/// The relying party from the configuration. On `localhost` any port is accepted, so
/// a developer's server (and the tests, on port 0) work without configuring it.
pub fn webauthn(state: &AppState) -> AppResult<Webauthn> {
    let cfg = &state.config;
    let origin = Url::parse(&cfg.passkey_origin).map_err(|e| AppError::Internal(format!("passkey origin: {e}")))?;
    let localhost = cfg.passkey_rp_id == "localhost";
    WebauthnBuilder::new(&cfg.passkey_rp_id, &origin)
        .map(|b| b.rp_name(&cfg.totp_issuer).allow_any_port(localhost))
        .and_then(|b| b.build())
        .map_err(|e| AppError::Internal(format!("passkey relying party: {e}")))
}

/// A ceremony under way, kept in the session row until the browser answers.
#[derive(Serialize, Deserialize)]
#[serde(tag = "purpose", content = "state")]
enum Ceremony {
    /// Signing in with a passkey instead of the code.
    Signin(PasskeyAuthentication),
    /// Setting up a passkey at first sign-in instead of an authenticator app.
    Enrol(PasskeyRegistration),
    /// Proving again who one is before a sensitive action.
    Reauth(PasskeyAuthentication),
    /// Adding a passkey from the account page.
    Add(PasskeyRegistration),
}

async fn begin(
    state: &AppState,
    session_hash: &str,
    ceremony: &Ceremony,
    options: &impl Serialize,
) -> AppResult<Response> {
    let kept = serde_json::to_string(ceremony).map_err(|e| AppError::Internal(format!("passkey state: {e}")))?;
    state.store.set_passkey_state(session_hash, &kept).await?;
    let body = serde_json::to_string(options).map_err(|e| AppError::Internal(format!("passkey options: {e}")))?;
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

/// The ceremony of this session, taken (cleared) once.
async fn take(state: &AppState, session_hash: &str) -> AppResult<Option<Ceremony>> {
    Ok(state.store.take_passkey_state(session_hash).await?.and_then(|s| serde_json::from_str(&s).ok()))
}

fn credential_id(pk: &Passkey) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(AsRef::<[u8]>::as_ref(pk.cred_id()))
}

fn stored(rows: &[PasskeyRow]) -> Vec<Passkey> {
    rows.iter().filter_map(|r| serde_json::from_str(&r.credential_json).ok()).collect()
}

async fn start_registration(state: &AppState, user: &UserRow) -> AppResult<(serde_json::Value, PasskeyRegistration)> {
    let existing = stored(&state.store.passkeys(user.id).await?).iter().map(|p| p.cred_id().clone()).collect();
    let (options, reg) = webauthn(state)?
        .start_passkey_registration(user.id.as_uuid(), &user.email, &user.display_name, Some(existing))
        .map_err(|e| AppError::Internal(format!("passkey registration: {e}")))?;
    let options = serde_json::to_value(options).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((options, reg))
}

async fn start_authentication(
    state: &AppState,
    user: UserId,
) -> AppResult<Option<(serde_json::Value, PasskeyAuthentication)>> {
    let keys = stored(&state.store.passkeys(user).await?);
    if keys.is_empty() {
        return Ok(None);
    }
    let (options, auth) = webauthn(state)?
        .start_passkey_authentication(&keys)
        .map_err(|e| AppError::Internal(format!("passkey authentication: {e}")))?;
    let options = serde_json::to_value(options).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(Some((options, auth)))
}

/// Check a registration answer; the new credential and its id, or None when it does
/// not answer the challenge.
fn finish_registration(state: &AppState, answer: &str, reg: &PasskeyRegistration) -> AppResult<Option<Passkey>> {
    let Ok(cred) = serde_json::from_str::<RegisterPublicKeyCredential>(answer) else {
        return Ok(None);
    };
    Ok(webauthn(state)?.finish_passkey_registration(&cred, reg).ok())
}

/// Check an authentication answer against the person's passkeys in use and record the
/// use (new counter, last used); None when it fails, or the passkey was removed.
async fn finish_authentication(
    state: &AppState,
    ctx: &RequestCtx,
    user: UserId,
    answer: &str,
    auth: &PasskeyAuthentication,
    purpose: &str,
) -> AppResult<Option<String>> {
    let Ok(cred) = serde_json::from_str::<PublicKeyCredential>(answer) else {
        return Ok(None);
    };
    let Ok(result) = webauthn(state)?.finish_passkey_authentication(&cred, auth) else {
        return Ok(None);
    };
    // The passkey must still be the person's now, not only when the challenge was made.
    for row in state.store.passkeys(user).await? {
        let Ok(mut pk) = serde_json::from_str::<Passkey>(&row.credential_json) else {
            continue;
        };
        if pk.cred_id() != result.cred_id() {
            continue;
        }
        pk.update_credential(&result);
        let json = serde_json::to_string(&pk).map_err(|e| AppError::Internal(e.to_string()))?;
        let used =
            state.store.passkey_used(user, &row.id, &json, i64::from(result.counter()), purpose, &ctx.audit()).await?;
        return Ok(used.then_some(row.id));
    }
    Ok(None)
}

/// The name the person typed, or the default; too long is an error.
fn passkey_name(ctx: &RequestCtx, typed: &str) -> AppResult<String> {
    let name = typed.trim();
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(AppError::Invalid(Invalid::one("name", "passkey-name-long")));
    }
    Ok(if name.is_empty() { ctx.tr().t("passkey-default-name") } else { name.to_string() })
}

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    credential: String,
    #[serde(default)]
    name: String,
    next: Option<String>,
}

// --- sign-in ------------------------------------------------------------------------

/// `POST /signin/passkey/options`: at the code step, a challenge for the person's
/// passkeys; at the set-up step, the options to create one.
pub async fn signin_options(State(state): State<AppState>, p: Pending) -> AppResult<Response> {
    match p.stage {
        SessionStage::Code => {
            let Some((options, auth)) = start_authentication(&state, p.user.id).await? else {
                return Err(AppError::Conflict(tsunagu_domain::FieldError::new("credential", "passkey-none")));
            };
            begin(&state, &p.session_hash, &Ceremony::Signin(auth), &options).await
        }
        SessionStage::Enrol => {
            let (options, reg) = start_registration(&state, &p.user).await?;
            begin(&state, &p.session_hash, &Ceremony::Enrol(reg), &options).await
        }
        SessionStage::Full => Err(AppError::Unauthenticated),
    }
}

/// `POST /signin/passkey`: the browser's answer. At the code step it signs the person
/// in; at the set-up step it registers the passkey, signs in and shows recovery codes
/// once. A failed answer counts like a wrong code.
pub async fn signin_finish(
    State(state): State<AppState>,
    ctx: RequestCtx,
    p: Pending,
    Form(f): Form<AnswerForm>,
) -> AppResult<Response> {
    let next = safe_next(f.next.as_deref());
    if code_throttled(&state, p.user.id).await? {
        return Err(AppError::TooManyAttempts);
    }
    let ceremony = take(&state, &p.session_hash).await?;
    match (p.stage, ceremony) {
        (SessionStage::Code, Some(Ceremony::Signin(auth)))
            if finish_authentication(&state, &ctx, p.user.id, &f.credential, &auth, "signin").await?.is_some() =>
        {
            let id = finish_signin(&state, &ctx, &p, "passkey").await?;
            return Ok(with_cookie(&state, Redirect::to(&next).into_response(), &id));
        }
        (SessionStage::Enrol, Some(Ceremony::Enrol(reg))) => {
            if let Some(pk) = finish_registration(&state, &f.credential, &reg)? {
                let name = passkey_name(&ctx, &f.name)?;
                let json = serde_json::to_string(&pk).map_err(|e| AppError::Internal(e.to_string()))?;
                let codes = sf::new_recovery_codes()?;
                let hashes: Vec<String> = codes.iter().map(|c| recovery_code_hash(c)).collect();
                state
                    .store
                    .add_passkey(p.user.id, &credential_id(&pk), &name, &json, Some(&hashes), &ctx.audit())
                    .await?;
                let id = finish_signin(&state, &ctx, &p, "passkey_enrolled").await?;
                let r = page(&RecoveryCodesPage { chrome: pending_chrome(&state, &ctx, ""), codes, next })?;
                return Ok(with_cookie(&state, r, &id));
            }
        }
        _ => {}
    }
    state.store.record_signin_failure(&code_key(p.user.id)).await?;
    let ev = audit_event(p.user.id, "signin.second_factor", Outcome::Refused, &p.user.email, "passkey_failed");
    state.store.audit(&ev, &ctx.audit()).await?;
    let error = ctx.tr().t("passkey-failed");
    if p.stage == SessionStage::Code {
        let chrome = pending_chrome(&state, &ctx, &p.csrf);
        return render(StatusCode::UNAUTHORIZED, &CodePage { chrome, next, error, has_passkey: true });
    }
    if let Some(elsewhere) = at_other_step(&p, SessionStage::Enrol, &next) {
        return Ok(elsewhere);
    }
    Err(AppError::Invalid(Invalid::one("credential", "passkey-failed")))
}

// --- re-authentication ----------------------------------------------------------------

/// `POST /reauth/passkey/options`
pub async fn reauth_options(State(state): State<AppState>, me: Signed) -> AppResult<Response> {
    let Some((options, auth)) = start_authentication(&state, me.user.id).await? else {
        return Err(AppError::Conflict(tsunagu_domain::FieldError::new("credential", "passkey-none")));
    };
    begin(&state, &me.session_hash, &Ceremony::Reauth(auth), &options).await
}

/// `POST /reauth/passkey`: a passkey that verified its user (PIN or biometrics on the
/// device) is itself two factors, so it stands for password and code.
pub async fn reauth_finish(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Form(f): Form<AnswerForm>,
) -> AppResult<Response> {
    let next = safe_next(f.next.as_deref());
    if code_throttled(&state, me.user.id).await? {
        return Err(AppError::TooManyAttempts);
    }
    let mut ev = audit_event(me.user.id, "reauth", Outcome::Allowed, &me.user.email, "passkey");
    ev.actor_org = Some(me.principal.org);
    if let Some(Ceremony::Reauth(auth)) = take(&state, &me.session_hash).await?
        && finish_authentication(&state, &ctx, me.user.id, &f.credential, &auth, "reauth").await?.is_some()
    {
        state.store.mark_reauthenticated(&me.session_hash).await?;
        state.store.audit(&ev, &ctx.audit()).await?;
        return Ok(Redirect::to(&next).into_response());
    }
    state.store.record_signin_failure(&code_key(me.user.id)).await?;
    ev.outcome = Outcome::Refused;
    ev.detail = "passkey_failed".into();
    state.store.audit(&ev, &ctx.audit()).await?;
    let has_factor = state.store.totp_factor(me.user.id).await?.is_some();
    let page = ReauthPage {
        chrome: me.chrome(&ctx, &state),
        next,
        has_factor,
        has_passkey: true,
        error: ctx.tr().t("passkey-failed"),
    };
    render(StatusCode::UNAUTHORIZED, &page)
}

// --- the account page ------------------------------------------------------------------

#[derive(Template)]
#[template(path = "passkey_add.html")]
pub struct AddPage {
    pub chrome: Chrome,
    pub error: String,
}

/// `GET /account/passkeys/new`: name the passkey and create it (after re-authentication).
pub async fn add_form(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    require_recent_auth(&state, &me, "/account/passkeys/new")?;
    page(&AddPage { chrome: me.chrome(&ctx, &state), error: String::new() })
}

/// `POST /account/passkeys/options`
pub async fn add_options(State(state): State<AppState>, me: Signed) -> AppResult<Response> {
    require_recent_auth(&state, &me, "/account/passkeys/new")?;
    let (options, reg) = start_registration(&state, &me.user).await?;
    begin(&state, &me.session_hash, &Ceremony::Add(reg), &options).await
}

/// `POST /account/passkeys`: the browser's answer; the passkey is added (never
/// replacing another).
pub async fn add_finish(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Form(f): Form<AnswerForm>,
) -> AppResult<Response> {
    require_recent_auth(&state, &me, "/account/passkeys/new")?;
    let name = passkey_name(&ctx, &f.name)?;
    let registered = match take(&state, &me.session_hash).await? {
        Some(Ceremony::Add(reg)) => finish_registration(&state, &f.credential, &reg)?,
        _ => None,
    };
    let Some(pk) = registered else {
        let mut ev = audit_event(me.user.id, "passkey.register", Outcome::Refused, &me.user.id.to_string(), "");
        ev.detail = "passkey_failed".into();
        state.store.audit(&ev, &ctx.audit()).await?;
        let error = ctx.tr().t("passkey-failed");
        return render(StatusCode::UNPROCESSABLE_ENTITY, &AddPage { chrome: me.chrome(&ctx, &state), error });
    };
    let json = serde_json::to_string(&pk).map_err(|e| AppError::Internal(e.to_string()))?;
    state.store.add_passkey(me.user.id, &credential_id(&pk), &name, &json, None, &ctx.audit()).await?;
    Ok(Redirect::to("/account").into_response())
}

/// `POST /account/passkeys/{passkey}/remove`: only while another factor remains, or
/// where the second factor is optional.
pub async fn remove(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(passkey): Path<String>,
) -> AppResult<Response> {
    require_recent_auth(&state, &me, "/account")?;
    let keys = state.store.passkeys(me.user.id).await?;
    if !keys.iter().any(|k| k.id == passkey) {
        return Err(AppError::NotFound);
    }
    let others = keys.len() > 1 || state.store.totp_factor(me.user.id).await?.is_some();
    if state.config.second_factor_required && !others {
        return Err(AppError::Conflict(tsunagu_domain::FieldError::new("passkey", "passkey-last-factor")));
    }
    if !state.store.remove_passkey(me.user.id, &passkey, &ctx.audit()).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/account").into_response())
}

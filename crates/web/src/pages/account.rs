//! The person's own sign-in security: their authenticator (set up or replace), their
//! recovery codes (how many are left, a new set), and, where the second factor is
//! optional (the demo only), removing it. Each change asks for the password and code
//! again first.

use super::second_factor::{RecoveryCodesPage, SetupFor, confirm_setup, setup_page};
use crate::auth::{Signed, require_recent_auth};
use crate::error::{AppError, AppResult};
use crate::middleware::RequestCtx;
use crate::second_factor::{self as sf, recovery_code_hash};
use crate::state::AppState;
use crate::view::{Chrome, page, render};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub chrome: Chrome,
    pub email: String,
    /// When the authenticator was set up (JST), if there is one.
    pub factor_since: Option<String>,
    pub recovery_left: i64,
    pub required: bool,
    pub passkeys: Vec<PasskeyView>,
    /// Whether a passkey may be removed: another factor remains, or none is required.
    pub passkey_removable: bool,
}

/// One passkey as the account page lists it (times in JST).
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
}

/// `GET /account`
pub async fn show(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    let factor = state.store.totp_factor(me.user.id).await?;
    let recovery_left = state.store.recovery_codes_left(me.user.id).await?;
    let tr = ctx.tr();
    let passkeys: Vec<PasskeyView> = state
        .store
        .passkeys(me.user.id)
        .await?
        .into_iter()
        .map(|k| PasskeyView {
            id: k.id,
            name: k.name,
            created: tr.datetime(&tsunagu_store::ts(k.created_at)),
            last_used: k.last_used_at.map(|t| tr.datetime(&tsunagu_store::ts(t))),
        })
        .collect();
    let passkey_removable = !state.config.second_factor_required || factor.is_some() || passkeys.len() > 1;
    page(&AccountPage {
        chrome: me.chrome(&ctx, &state),
        email: me.user.email.clone(),
        factor_since: factor.map(|f| tr.datetime(&tsunagu_store::ts(f.created_at))),
        recovery_left,
        required: state.config.second_factor_required,
        passkeys,
        passkey_removable,
    })
}

/// `GET /account/authenticator`: a new secret to scan (it replaces the old one only
/// once its first code is confirmed).
pub async fn setup_form(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    require_recent_auth(&state, &me, "/account/authenticator")?;
    let secret = sf::new_secret()?;
    state.store.set_enrol_secret(&me.session_hash, &secret).await?;
    let replacing = state.store.totp_factor(me.user.id).await?.is_some();
    let chrome = me.chrome(&ctx, &state);
    let to = SetupFor { action: "/account/authenticator", next: "/account".into(), replacing };
    let p = setup_page(&state, chrome, to, &secret, &me.user.email, String::new())?;
    page(&p)
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// `POST /account/authenticator`
pub async fn setup_submit(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Form(f): Form<CodeForm>,
) -> AppResult<Response> {
    require_recent_auth(&state, &me, "/account/authenticator")?;
    match confirm_setup(&state, &ctx, me.user.id, &me.session_hash, &f.code).await? {
        Some(codes) => page(&RecoveryCodesPage { chrome: me.chrome(&ctx, &state), codes, next: "/account".into() }),
        None => {
            let Some(secret) = state.store.enrol_secret(&me.session_hash).await? else {
                return Ok(Redirect::to("/account/authenticator").into_response());
            };
            let replacing = state.store.totp_factor(me.user.id).await?.is_some();
            let error = ctx.tr().t("second-factor-setup-wrong");
            let to = SetupFor { action: "/account/authenticator", next: "/account".into(), replacing };
            let p = setup_page(&state, me.chrome(&ctx, &state), to, &secret, &me.user.email, error)?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
    }
}

/// `POST /account/recovery-codes`: a new set; the old codes stop working.
pub async fn new_recovery_codes(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    require_recent_auth(&state, &me, "/account")?;
    if !state.store.has_second_factor(me.user.id).await? {
        return Err(AppError::Conflict(tsunagu_domain::FieldError::new("otp", "second-factor-none")));
    }
    let codes = sf::new_recovery_codes()?;
    let hashes: Vec<String> = codes.iter().map(|c| recovery_code_hash(c)).collect();
    state.store.replace_recovery_codes(me.user.id, &hashes, &ctx.audit()).await?;
    page(&RecoveryCodesPage { chrome: me.chrome(&ctx, &state), codes, next: "/account".into() })
}

/// `POST /account/authenticator/remove`: only where the second factor is optional.
pub async fn remove(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    if state.config.second_factor_required {
        return Err(AppError::Forbidden);
    }
    require_recent_auth(&state, &me, "/account")?;
    state.store.remove_second_factor(me.user.id, &ctx.audit()).await?;
    Ok(Redirect::to("/account").into_response())
}

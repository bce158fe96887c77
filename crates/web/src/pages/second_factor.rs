//! The second step of signing in (the code from the authenticator app, or a recovery
//! code), setting up an authenticator at first sign-in, and re-authentication before
//! sensitive actions. A password alone opens none of the application: the half-way
//! session reaches only these pages.

use super::signin::safe_next;
use crate::auth::{Pending, Signed, session_cookie, start_session};
use crate::error::{AppError, AppResult};
use crate::middleware::RequestCtx;
use crate::password::verify_password;
use crate::second_factor::{self as sf, looks_like_recovery_code, recovery_code_hash};
use crate::state::AppState;
use crate::view::{Chrome, page, render};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::Duration;
use tsunagu_domain::UserId;
use tsunagu_store::{AuditEvent, Outcome, SessionStage};

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct ReauthForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "signin_code.html")]
pub struct CodePage {
    pub chrome: Chrome,
    pub next: String,
    pub error: String,
    /// The person has a passkey: the page offers it beside the code.
    pub has_passkey: bool,
}

/// Setting up an authenticator: at first sign-in (`action` = /signin/enrol) or from
/// the account page (`action` = /account/authenticator).
#[derive(Template)]
#[template(path = "authenticator_setup.html")]
pub struct SetupPage {
    pub chrome: Chrome,
    pub action: String,
    pub next: String,
    pub qr_svg: String,
    pub secret: String,
    pub error: String,
    /// Replacing an existing authenticator (the old one stops working).
    pub replacing: bool,
    /// At first sign-in: a passkey may be set up instead.
    pub offer_passkey: bool,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub chrome: Chrome,
    pub codes: Vec<String>,
    pub next: String,
}

#[derive(Template)]
#[template(path = "reauth.html")]
pub struct ReauthPage {
    pub chrome: Chrome,
    pub next: String,
    pub has_factor: bool,
    pub has_passkey: bool,
    pub error: String,
}

pub(crate) fn pending_chrome(state: &AppState, ctx: &RequestCtx, csrf: &str) -> Chrome {
    Chrome {
        tr: ctx.tr(),
        here: ctx.here.clone(),
        csrf: csrf.to_string(),
        demo_banner: state.config.demo_banner,
        request_id: ctx.request_id.clone(),
        ..Default::default()
    }
}

pub(crate) fn audit_event(user: UserId, action: &str, outcome: Outcome, target: &str, detail: &str) -> AuditEvent {
    AuditEvent {
        actor_user: Some(user),
        actor_org: None,
        action: action.into(),
        outcome,
        patient: None,
        target: target.into(),
        detail: detail.into(),
    }
}

pub(crate) fn code_key(user: UserId) -> String {
    format!("code:{user}")
}

/// Too many wrong codes for this person within the failure window.
pub(crate) async fn code_throttled(state: &AppState, user: UserId) -> AppResult<bool> {
    let since = state.store.now() - Duration::seconds(state.config.failure_window.as_secs() as i64);
    Ok(state.store.recent_signin_failures(&code_key(user), since).await? >= state.config.max_failures_per_account)
}

/// How a typed second factor fared.
enum Checked {
    Totp,
    RecoveryCode,
    /// A right code whose time step was already used.
    Replayed,
    Wrong,
}

impl Checked {
    fn detail(&self) -> &'static str {
        match self {
            Checked::Totp => "totp",
            Checked::RecoveryCode => "recovery_code",
            Checked::Replayed => "replayed_code",
            Checked::Wrong => "wrong_code",
        }
    }
}

/// Check what the person typed against their authenticator or recovery codes, and
/// consume it (a code's time step, a recovery code) when it passes.
async fn check_second_factor(state: &AppState, user: UserId, typed: &str) -> AppResult<Checked> {
    if looks_like_recovery_code(typed) {
        let used = state.store.use_recovery_code(user, &recovery_code_hash(typed)).await?;
        return Ok(if used { Checked::RecoveryCode } else { Checked::Wrong });
    }
    let Some(factor) = state.store.totp_factor(user).await? else {
        return Ok(Checked::Wrong);
    };
    let now = state.store.now().unix_timestamp();
    match sf::verify(&factor.secret, typed, now, factor.last_step) {
        // The database has the last word: of two requests racing with one code, one wins.
        Some(step) if state.store.accept_totp_step(user, step).await? => Ok(Checked::Totp),
        Some(_) => Ok(Checked::Replayed),
        None if sf::verify(&factor.secret, typed, now, i64::MIN).is_some() => Ok(Checked::Replayed),
        None => Ok(Checked::Wrong),
    }
}

/// Replace the half-way session by a full one (a new id: privilege changed) and record
/// the sign-in; the response carries the new cookie.
pub(crate) async fn finish_signin(state: &AppState, ctx: &RequestCtx, p: &Pending, method: &str) -> AppResult<String> {
    state.store.delete_session(&p.session_hash).await?;
    let principal = state.store.principal(p.user.id, p.org).await?;
    let id = start_session(state, &principal, ctx.ip.as_deref(), SessionStage::Full).await?;
    state.store.clear_signin_failures(&format!("acct:{}", p.user.email.to_lowercase())).await?;
    state.store.clear_signin_failures(&code_key(p.user.id)).await?;
    state.store.mark_signed_in(p.user.id).await?;
    let mut ev = audit_event(p.user.id, "signin", Outcome::Allowed, &p.user.email, &format!("password+{method}"));
    ev.actor_org = Some(p.org);
    state.store.audit(&ev, &ctx.audit()).await?;
    Ok(id)
}

pub(crate) fn with_cookie(state: &AppState, mut r: Response, id: &str) -> Response {
    r.headers_mut().insert(header::SET_COOKIE, session_cookie(state, Some(id)));
    r
}

/// Where the password step sends a person who still owes the second factor.
pub fn second_step_url(stage: SessionStage, next: &str) -> String {
    let step = if stage == SessionStage::Enrol { "enrol" } else { "code" };
    format!("/signin/{step}?next={}", crate::view::urlencode(next))
}

/// A half-way session that belongs on the other step goes there.
pub(crate) fn at_other_step(p: &Pending, here: SessionStage, next: &str) -> Option<Response> {
    (p.stage != here).then(|| Redirect::to(&second_step_url(p.stage, next)).into_response())
}

/// `GET /signin/code`
pub async fn code_form(
    State(state): State<AppState>,
    ctx: RequestCtx,
    p: Pending,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    let next = safe_next(q.next.as_deref());
    if let Some(elsewhere) = at_other_step(&p, SessionStage::Code, &next) {
        return Ok(elsewhere);
    }
    let has_passkey = !state.store.passkeys(p.user.id).await?.is_empty();
    page(&CodePage { chrome: pending_chrome(&state, &ctx, &p.csrf), next, error: String::new(), has_passkey })
}

/// `POST /signin/code`: the code from the app, or one recovery code.
pub async fn code_submit(
    State(state): State<AppState>,
    ctx: RequestCtx,
    p: Pending,
    Form(f): Form<CodeForm>,
) -> AppResult<Response> {
    let next = safe_next(f.next.as_deref());
    if let Some(elsewhere) = at_other_step(&p, SessionStage::Code, &next) {
        return Ok(elsewhere);
    }
    let tr = ctx.tr();
    if code_throttled(&state, p.user.id).await? {
        // The half-way session ends: the person starts again from the password.
        state.store.delete_session(&p.session_hash).await?;
        let ev = audit_event(p.user.id, "signin.second_factor", Outcome::Refused, &p.user.email, "throttled");
        state.store.audit(&ev, &ctx.audit()).await?;
        let chrome = pending_chrome(&state, &ctx, "");
        let mut r = render(
            StatusCode::TOO_MANY_REQUESTS,
            &CodePage { chrome, next, error: tr.t("second-factor-throttled"), has_passkey: false },
        )?;
        r.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, None));
        return Ok(r);
    }
    let checked = check_second_factor(&state, p.user.id, &f.code).await?;
    if matches!(checked, Checked::Totp | Checked::RecoveryCode) {
        let id = finish_signin(&state, &ctx, &p, checked.detail()).await?;
        return Ok(with_cookie(&state, Redirect::to(&next).into_response(), &id));
    }
    state.store.record_signin_failure(&code_key(p.user.id)).await?;
    let ev = audit_event(p.user.id, "signin.second_factor", Outcome::Refused, &p.user.email, checked.detail());
    state.store.audit(&ev, &ctx.audit()).await?;
    let key = if matches!(checked, Checked::Replayed) { "second-factor-replayed" } else { "second-factor-wrong" };
    let has_passkey = !state.store.passkeys(p.user.id).await?.is_empty();
    render(
        StatusCode::UNAUTHORIZED,
        &CodePage { chrome: pending_chrome(&state, &ctx, &p.csrf), next, error: tr.t(key), has_passkey },
    )
}

/// The secret being set up in this session, made on first sight.
async fn setup_secret(state: &AppState, session_hash: &str) -> AppResult<Vec<u8>> {
    if let Some(s) = state.store.enrol_secret(session_hash).await? {
        return Ok(s);
    }
    let s = sf::new_secret()?;
    state.store.set_enrol_secret(session_hash, &s).await?;
    Ok(s)
}

/// Where a setup page posts to, where it leads afterwards, and whether it replaces an
/// authenticator.
pub struct SetupFor {
    pub action: &'static str,
    pub next: String,
    pub replacing: bool,
}

pub fn setup_page(
    state: &AppState,
    chrome: Chrome,
    to: SetupFor,
    secret: &[u8],
    email: &str,
    error: String,
) -> AppResult<SetupPage> {
    let SetupFor { action, next, replacing } = to;
    let offer_passkey = action == "/signin/enrol";
    let uri = sf::otpauth_uri(secret, &state.config.totp_issuer, email);
    let qr_svg = sf::qr_svg(&uri).ok_or_else(|| AppError::Internal("QR code".into()))?;
    Ok(SetupPage {
        chrome,
        action: action.into(),
        next,
        qr_svg: strip_xml_declaration(&qr_svg),
        secret: sf::base32_grouped(secret),
        error,
        replacing,
        offer_passkey,
    })
}

/// Inline SVG in HTML takes no XML declaration.
fn strip_xml_declaration(svg: &str) -> String {
    match (svg.starts_with("<?xml"), svg.find("?>")) {
        (true, Some(end)) => svg.get(end + 2..).unwrap_or(svg).trim_start().to_string(),
        _ => svg.to_string(),
    }
}

/// Confirm the secret being set up with its first code: on success the authenticator
/// is the person's (replacing any old one) and new recovery codes are returned, to be
/// shown once.
pub async fn confirm_setup(
    state: &AppState,
    ctx: &RequestCtx,
    user: UserId,
    session_hash: &str,
    typed: &str,
) -> AppResult<Option<Vec<String>>> {
    let Some(secret) = state.store.enrol_secret(session_hash).await? else {
        return Ok(None);
    };
    let Some(step) = sf::verify(&secret, typed, state.store.now().unix_timestamp(), i64::MIN) else {
        state.store.record_signin_failure(&code_key(user)).await?;
        return Ok(None);
    };
    let codes = sf::new_recovery_codes()?;
    let hashes: Vec<String> = codes.iter().map(|c| recovery_code_hash(c)).collect();
    state.store.enrol_totp(user, &secret, step, &hashes, &ctx.audit()).await?;
    Ok(Some(codes))
}

/// `GET /signin/enrol`: a person without an authenticator, where one is required,
/// sets one up before going any further.
pub async fn enrol_form(
    State(state): State<AppState>,
    ctx: RequestCtx,
    p: Pending,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    let next = safe_next(q.next.as_deref());
    if let Some(elsewhere) = at_other_step(&p, SessionStage::Enrol, &next) {
        return Ok(elsewhere);
    }
    let secret = setup_secret(&state, &p.session_hash).await?;
    let chrome = pending_chrome(&state, &ctx, &p.csrf);
    let to = SetupFor { action: "/signin/enrol", next, replacing: false };
    page(&setup_page(&state, chrome, to, &secret, &p.user.email, String::new())?)
}

/// `POST /signin/enrol`: the first code confirms the authenticator; the person is
/// signed in and sees their recovery codes once.
pub async fn enrol_submit(
    State(state): State<AppState>,
    ctx: RequestCtx,
    p: Pending,
    Form(f): Form<CodeForm>,
) -> AppResult<Response> {
    let next = safe_next(f.next.as_deref());
    if let Some(elsewhere) = at_other_step(&p, SessionStage::Enrol, &next) {
        return Ok(elsewhere);
    }
    if code_throttled(&state, p.user.id).await? {
        return Err(AppError::TooManyAttempts);
    }
    match confirm_setup(&state, &ctx, p.user.id, &p.session_hash, &f.code).await? {
        Some(codes) => {
            let id = finish_signin(&state, &ctx, &p, "totp_enrolled").await?;
            let chrome = pending_chrome(&state, &ctx, "");
            let r = page(&RecoveryCodesPage { chrome, codes, next })?;
            Ok(with_cookie(&state, r, &id))
        }
        None => {
            let secret = setup_secret(&state, &p.session_hash).await?;
            let chrome = pending_chrome(&state, &ctx, &p.csrf);
            let error = ctx.tr().t("second-factor-setup-wrong");
            let to = SetupFor { action: "/signin/enrol", next, replacing: false };
            let sp = setup_page(&state, chrome, to, &secret, &p.user.email, error)?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &sp)
        }
    }
}

/// `GET /reauth`: prove again who you are before a sensitive action.
pub async fn reauth_form(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    let has_factor = state.store.has_second_factor(me.user.id).await?;
    let has_passkey = !state.store.passkeys(me.user.id).await?.is_empty();
    page(&ReauthPage {
        chrome: me.chrome(&ctx, &state),
        next: safe_next(q.next.as_deref()),
        has_factor,
        has_passkey,
        error: String::new(),
    })
}

/// `POST /reauth`: the password, and the code where the person has an authenticator.
pub async fn reauth_submit(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Form(f): Form<ReauthForm>,
) -> AppResult<Response> {
    let next = safe_next(f.next.as_deref());
    // A person with only a passkey still owes a second factor here: a recovery code
    // (or the passkey itself, on its own form).
    let has_factor = state.store.has_second_factor(me.user.id).await?;
    let has_passkey = !state.store.passkeys(me.user.id).await?.is_empty();
    if code_throttled(&state, me.user.id).await? {
        return Err(AppError::TooManyAttempts);
    }
    let hash = me.user.password_hash.clone();
    let pw = f.password.clone();
    let password_ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash)).await.unwrap_or(false);
    let checked = match (password_ok, has_factor) {
        (false, _) => Checked::Wrong,
        (true, false) => Checked::Totp,
        (true, true) => check_second_factor(&state, me.user.id, &f.code).await?,
    };
    let mut ev = audit_event(me.user.id, "reauth", Outcome::Allowed, &me.user.email, "");
    ev.actor_org = Some(me.principal.org);
    if matches!(checked, Checked::Totp | Checked::RecoveryCode) {
        state.store.mark_reauthenticated(&me.session_hash).await?;
        ev.detail = if has_factor { format!("password+{}", checked.detail()) } else { "password".into() };
        state.store.audit(&ev, &ctx.audit()).await?;
        return Ok(Redirect::to(&next).into_response());
    }
    state.store.record_signin_failure(&code_key(me.user.id)).await?;
    ev.outcome = Outcome::Refused;
    ev.detail = if password_ok { checked.detail().into() } else { "bad_password".into() };
    state.store.audit(&ev, &ctx.audit()).await?;
    let error = ctx.tr().t(if password_ok { "second-factor-wrong" } else { "reauth-failed" });
    render(
        StatusCode::UNAUTHORIZED,
        &ReauthPage { chrome: me.chrome(&ctx, &state), next, has_factor, has_passkey, error },
    )
}

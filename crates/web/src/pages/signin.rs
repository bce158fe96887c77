//! Sign-in and sign-out. Failed attempts are throttled per account and per address and
//! recorded in the audit chain; a new session id is issued at every sign-in.

use crate::auth::{Signed, session_cookie, start_session};
use crate::error::{AppError, AppResult};
use crate::middleware::RequestCtx;
use crate::password::verify_password;
use crate::state::AppState;
use crate::view::{Chrome, page, render};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::Duration;
use tsunagu_domain::OrgId;
use tsunagu_domain::person::Email;
use tsunagu_store::{AuditEvent, Outcome, SessionStage};

#[derive(Template)]
#[template(path = "signin.html")]
pub struct SigninPage {
    pub chrome: Chrome,
    pub email: String,
    pub next: String,
    pub error: String,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

pub fn safe_next(n: Option<&str>) -> String {
    n.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/signin"))
        .unwrap_or("/patients")
        .to_string()
}

pub async fn form(State(state): State<AppState>, ctx: RequestCtx, Query(q): Query<NextQuery>) -> AppResult<Response> {
    let chrome =
        Chrome { tr: ctx.tr(), here: ctx.here.clone(), demo_banner: state.config.demo_banner, ..Default::default() };
    page(&SigninPage { chrome, email: String::new(), next: safe_next(q.next.as_deref()), error: String::new() })
}

#[derive(Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn submit(State(state): State<AppState>, ctx: RequestCtx, Form(f): Form<SigninForm>) -> AppResult<Response> {
    let tr = ctx.tr();
    let next = safe_next(f.next.as_deref());
    let fail = |key: &str, status: StatusCode| -> AppResult<Response> {
        let chrome = Chrome { tr, here: ctx.here.clone(), demo_banner: state.config.demo_banner, ..Default::default() };
        render(status, &SigninPage { chrome, email: f.email.clone(), next: next.clone(), error: tr.t(key) })
    };
    let email_key = format!("acct:{}", f.email.trim().to_lowercase());
    let ip_key = format!("ip:{}", ctx.ip.as_deref().unwrap_or("-"));
    let since = state.store.now() - Duration::seconds(state.config.failure_window.as_secs() as i64);
    let throttled = state.store.recent_signin_failures(&email_key, since).await?
        >= state.config.max_failures_per_account
        || state.store.recent_signin_failures(&ip_key, since).await? >= state.config.max_failures_per_ip;
    let audit = |outcome: Outcome, user: Option<tsunagu_domain::UserId>, detail: &str| AuditEvent {
        actor_user: user,
        actor_org: None,
        action: "signin".into(),
        outcome,
        patient: None,
        target: f.email.trim().to_lowercase(),
        detail: detail.into(),
    };
    if throttled {
        state.store.audit(&audit(Outcome::Refused, None, "throttled"), &ctx.audit()).await?;
        return fail("signin-throttled", StatusCode::TOO_MANY_REQUESTS);
    }
    let user = match Email::parse(&f.email) {
        Ok(e) => state.store.user_by_email(&e).await.ok(),
        Err(_) => None,
    };
    // Verify even for unknown accounts so that timing does not tell which exist.
    let hash =
        user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| crate::password::dummy_hash().to_string());
    let pw = f.password.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash)).await.unwrap_or(false);
    let user = match user {
        Some(u) if ok && u.is_active() => u,
        other => {
            state.store.record_signin_failure(&email_key).await?;
            state.store.record_signin_failure(&ip_key).await?;
            let detail = match &other {
                Some(u) if !u.is_active() => "suspended",
                Some(_) => "bad_password",
                None => "unknown_account",
            };
            state.store.audit(&audit(Outcome::Refused, other.map(|u| u.id), detail), &ctx.audit()).await?;
            return fail("signin-failed", StatusCode::UNAUTHORIZED);
        }
    };
    let memberships = state.store.memberships(user.id).await?;
    let Some(first) = memberships.iter().find(|m| m.org.is_approved()) else {
        state.store.audit(&audit(Outcome::Refused, Some(user.id), "no_approved_org"), &ctx.audit()).await?;
        return fail("signin-no-org", StatusCode::FORBIDDEN);
    };
    let principal = state.store.principal(user.id, first.org.id).await?;
    // The password is only the first factor: with an authenticator or a passkey set
    // up, the code (or the passkey) comes next; without one, where one is required, setting it up comes next.
    let stage = if state.store.has_second_factor(user.id).await? {
        SessionStage::Code
    } else if state.config.second_factor_required {
        SessionStage::Enrol
    } else {
        SessionStage::Full
    };
    let id = start_session(&state, &principal, ctx.ip.as_deref(), stage).await?;
    let to = if stage == SessionStage::Full {
        state.store.clear_signin_failures(&email_key).await?;
        state.store.mark_signed_in(user.id).await?;
        let mut ev = audit(Outcome::Allowed, Some(user.id), "password");
        ev.actor_org = Some(principal.org);
        state.store.audit(&ev, &ctx.audit()).await?;
        next
    } else {
        let mut ev = audit(Outcome::Allowed, Some(user.id), "second factor due");
        ev.action = "signin.password".into();
        ev.actor_org = Some(principal.org);
        state.store.audit(&ev, &ctx.audit()).await?;
        super::second_factor::second_step_url(stage, &next)
    };
    let mut r = Redirect::to(&to).into_response();
    r.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, Some(&id)));
    Ok(r)
}

pub async fn signout(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    state.store.delete_session(&me.session_hash).await?;
    let ev = AuditEvent {
        actor_user: Some(me.principal.user),
        actor_org: Some(me.principal.org),
        action: "signout".into(),
        outcome: Outcome::Allowed,
        patient: None,
        target: me.user.email.clone(),
        detail: String::new(),
    };
    state.store.audit(&ev, &ctx.audit()).await?;
    let mut r = Redirect::to("/signin").into_response();
    r.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, None));
    Ok(r)
}

/// End every session of the person (a lost tablet, a shared PC left signed in).
pub async fn signout_everywhere(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    let n = state.store.delete_user_sessions(me.principal.user).await?;
    let ev = AuditEvent {
        actor_user: Some(me.principal.user),
        actor_org: Some(me.principal.org),
        action: "signout.everywhere".into(),
        outcome: Outcome::Allowed,
        patient: None,
        target: me.user.email.clone(),
        detail: format!("{n} session(s)"),
    };
    state.store.audit(&ev, &ctx.audit()).await?;
    let mut r = Redirect::to("/signin").into_response();
    r.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, None));
    Ok(r)
}

#[derive(Deserialize)]
pub struct SwitchForm {
    org: String,
}

/// Act for another of one's organizations.
pub async fn switch_org(State(state): State<AppState>, me: Signed, Form(f): Form<SwitchForm>) -> AppResult<Response> {
    let org: OrgId = f.org.parse().map_err(|_| AppError::NotFound)?;
    state.store.principal(me.principal.user, org).await.map_err(|_| AppError::NotFound)?;
    state.store.switch_session_org(&me.session_hash, org).await?;
    Ok(Redirect::to("/patients").into_response())
}

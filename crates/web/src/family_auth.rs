//! Who is asking, on the family's pages. A family account has its own session table and
//! its own cookie, read only under `/family/`: a family session can never stand in for
//! a staff session (staff routes never look at it, and the staff session table cannot
//! name a family account), and a staff cookie means nothing under `/family/`.

use crate::error::AppError;
use crate::password::{random_token, sha256_hex};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use time::Duration;
use tsunagu_store::FamilyPrincipal;

/// A signed-in family member on a family page.
#[derive(Debug, Clone)]
pub struct FamilySigned {
    pub principal: FamilyPrincipal,
    pub session_hash: String,
    pub csrf: String,
}

/// Paths that belong to the family side: their session is the family session.
pub fn is_family_path(path: &str) -> bool {
    path == "/family" || path.starts_with("/family/") || path.starts_with("/f/")
}

pub fn family_cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies { "__Host-tsunagu-family" } else { "tsunagu-family" }
}

pub fn family_cookie(state: &AppState, value: Option<&str>) -> HeaderValue {
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    let name = family_cookie_name(state);
    let v = match value {
        Some(v) => format!("{name}={v}; Path=/; HttpOnly; SameSite=Lax{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A fresh family session (never an id the browser brought).
pub async fn start_family_session(state: &AppState, fp: &FamilyPrincipal) -> Result<String, AppError> {
    let id = random_token()?;
    let csrf = random_token()?;
    let expires = state.store.now() + Duration::seconds(state.config.session_absolute.as_secs() as i64);
    state.store.create_family_session(&sha256_hex(&id), fp, &csrf, expires).await?;
    Ok(id)
}

/// The family session named by the cookie, with the same idle and absolute timeouts as
/// staff sessions; an ended account has none.
pub async fn load_family_session(state: &AppState, headers: &HeaderMap) -> Option<FamilySigned> {
    let raw = crate::middleware::cookie_value(headers, family_cookie_name(state))?;
    let hash = sha256_hex(&raw);
    let s = state.store.family_session(&hash).await.ok()?;
    let now = state.store.now();
    let idle = Duration::seconds(state.config.session_idle.as_secs() as i64);
    if now - s.last_seen_at > idle {
        let _ = state.store.delete_family_session(&hash).await;
        return None;
    }
    if now - s.last_seen_at > Duration::seconds(60) {
        let _ = state.store.touch_family_session(&hash).await;
    }
    Some(FamilySigned { principal: s.principal, session_hash: hash, csrf: s.csrf_token })
}

impl FromRequestParts<AppState> for FamilySigned {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<FamilySigned>().cloned().ok_or(AppError::Unauthenticated)
    }
}

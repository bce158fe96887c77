//! Who is asking. Pages: a server-side session behind a cookie (HttpOnly, SameSite,
//! `__Host-` and Secure behind TLS), rotated at sign-in, with idle and absolute
//! timeouts, and a CSRF token checked on every state-changing form. The JSON API: a
//! bearer token from `tsunagu token create`, stored hashed.

use crate::error::AppError;
use crate::middleware::{RequestCtx, cookie_value};
use crate::password::{random_token, sha256_hex};
use crate::state::AppState;
use crate::view::Chrome;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use time::Duration;
use tsunagu_domain::policy::Principal;
use tsunagu_store::{Membership, NewSession, SessionStage, UserRow};

/// A signed-in person on a page request.
#[derive(Debug, Clone)]
pub struct Signed {
    pub principal: Principal,
    pub user: UserRow,
    pub memberships: Vec<Membership>,
    pub session_hash: String,
    pub csrf: String,
    /// When the person last gave their password (and code).
    pub authenticated_at: time::OffsetDateTime,
}

/// A person half-way in: the password was right, the second factor is still due (the
/// code, or setting up an authenticator first). Reaches only the pages that finish
/// signing in; never patient data.
#[derive(Debug, Clone)]
pub struct Pending {
    pub user: UserRow,
    pub org: tsunagu_domain::OrgId,
    pub stage: SessionStage,
    pub session_hash: String,
    pub csrf: String,
}

enum Loaded {
    Signed(Box<Signed>),
    Pending(Box<Pending>),
    Family(Box<crate::family_auth::FamilySigned>),
}

impl Loaded {
    fn csrf(&self) -> &str {
        match self {
            Loaded::Signed(s) => &s.csrf,
            Loaded::Pending(p) => &p.csrf,
            Loaded::Family(f) => &f.csrf,
        }
    }
}

/// How long a password alone keeps a half-finished sign-in open.
const PENDING_MINUTES: i64 = 10;

impl Signed {
    pub fn chrome(&self, ctx: &RequestCtx, state: &AppState) -> Chrome {
        let current = self.memberships.iter().find(|m| m.org.id == self.principal.org);
        Chrome {
            tr: ctx.tr(),
            here: ctx.here.clone(),
            signed_in: true,
            user_name: self.user.display_name.clone(),
            org_id: Some(self.principal.org),
            org_name: current.map(|m| m.org.name.clone()).unwrap_or_default(),
            other_orgs: self
                .memberships
                .iter()
                .filter(|m| m.org.id != self.principal.org && m.org.is_approved())
                .map(|m| (m.org.id, m.org.name.clone()))
                .collect(),
            csrf: self.csrf.clone(),
            org_admin: self.principal.org_admin,
            operator: self.principal.operator,
            demo_banner: state.config.demo_banner,
            request_id: ctx.request_id.clone(),
        }
    }
}

pub fn cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies { "__Host-tsunagu" } else { "tsunagu" }
}

/// The Set-Cookie value for a new session id (or an expired one to clear it).
pub fn session_cookie(state: &AppState, value: Option<&str>) -> HeaderValue {
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    let v = match value {
        Some(v) => format!("{}={v}; Path=/; HttpOnly; SameSite=Lax{secure}", cookie_name(state)),
        None => format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}", cookie_name(state)),
    };
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Start a session for `principal` at `stage`: a fresh id (never the one the browser
/// brought), its hash stored with a CSRF token and the absolute expiry. A session
/// waiting for the second factor lives only a few minutes.
pub async fn start_session(
    state: &AppState,
    principal: &Principal,
    ip: Option<&str>,
    stage: SessionStage,
) -> Result<String, AppError> {
    let id = random_token()?;
    let csrf = random_token()?;
    let life = match stage {
        SessionStage::Full => Duration::seconds(state.config.session_absolute.as_secs() as i64),
        SessionStage::Code | SessionStage::Enrol => Duration::minutes(PENDING_MINUTES),
    };
    let expires = state.store.now() + life;
    let id_hash = sha256_hex(&id);
    state
        .store
        .create_session(&NewSession {
            id_hash: &id_hash,
            user: principal.user,
            org: principal.org,
            csrf: &csrf,
            expires_at: expires,
            ip,
            stage,
        })
        .await?;
    Ok(id)
}

/// Before a sensitive action (changing one's factors, break-the-glass, exports): the
/// person must have proved who they are within the re-authentication window, else they
/// are sent to do so and brought back to `back`.
pub fn require_recent_auth(state: &AppState, me: &Signed, back: &str) -> Result<(), AppError> {
    let window = Duration::seconds(state.config.reauth_window.as_secs() as i64);
    if state.store.now() - me.authenticated_at <= window {
        Ok(())
    } else {
        Err(AppError::Reauthenticate(back.to_string()))
    }
}

/// Load the session named by the cookie, enforcing the idle and absolute timeouts and
/// the account and organization still being active.
async fn load_session(state: &AppState, headers: &HeaderMap) -> Option<Loaded> {
    let raw = cookie_value(headers, cookie_name(state))?;
    let hash = sha256_hex(&raw);
    let s = state.store.session(&hash).await.ok()?;
    let now = state.store.now();
    let idle = Duration::seconds(state.config.session_idle.as_secs() as i64);
    if now >= s.expires_at || now - s.last_seen_at > idle {
        let _ = state.store.delete_session(&hash).await;
        return None;
    }
    let user = state.store.user_by_id(s.user_id).await.ok()?;
    if s.stage != SessionStage::Full {
        if !user.is_active() {
            return None;
        }
        return Some(Loaded::Pending(Box::new(Pending {
            user,
            org: s.org_id,
            stage: s.stage,
            session_hash: hash,
            csrf: s.csrf_token,
        })));
    }
    let principal = state.store.principal(s.user_id, s.org_id).await.ok()?;
    let memberships = state.store.memberships(s.user_id).await.ok()?;
    // Touch at most once a minute: the idle clock needs no finer grain.
    if now - s.last_seen_at > Duration::seconds(60) {
        let _ = state.store.touch_session(&hash).await;
    }
    Some(Loaded::Signed(Box::new(Signed {
        principal,
        user,
        memberships,
        session_hash: hash,
        csrf: s.csrf_token,
        authenticated_at: s.authenticated_at,
    })))
}

fn same_origin(headers: &HeaderMap) -> bool {
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return false;
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some("null"), _) => false,
        (Some(origin), Some(host)) => origin.split("://").nth(1) == Some(host),
        _ => true,
    }
}

/// Session and CSRF for pages. Puts [`Signed`] in the request when a valid session
/// cookie came with it; refuses a state-changing form without the session's token or
/// from another origin. The JSON API authenticates by bearer token instead.
pub async fn session_layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with("/static/")
        || path.starts_with("/api/")
        || path.starts_with("/fhir/")
        || path == "/healthz"
        || path == "/metrics"
    {
        return next.run(req).await;
    }
    // The sign-in form and a survey link's form belong to no session (a family member
    // has none; a half-finished sign-in may linger): the origin check is their guard.
    let signin_form =
        path == "/signin" || path.starts_with("/s/") || path == "/family/signin" || path.starts_with("/f/");
    // Under /family/ only the family session counts; everywhere else only staff ones.
    let signed = if crate::family_auth::is_family_path(path) {
        crate::family_auth::load_family_session(&state, req.headers()).await.map(|f| Loaded::Family(Box::new(f)))
    } else {
        load_session(&state, req.headers()).await
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        if !same_origin(req.headers()) {
            return AppError::CsrfFailed.into_response();
        }
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if signin_form {
            // Nothing more to check.
        } else if let (Some(s), true) = (&signed, multipart) {
            // File uploads carry the token in the action URL, so the (large) body is
            // streamed to the handler instead of being buffered here.
            let token = req.uri().query().and_then(|q| form_field(q.as_bytes(), "csrf"));
            let ok = token.is_some_and(|t| subtle::ConstantTimeEq::ct_eq(t.as_bytes(), s.csrf().as_bytes()).into());
            if !ok {
                return AppError::CsrfFailed.into_response();
            }
        } else if let Some(s) = &signed {
            // Read the form to find its token; the body limit layer bounds the size.
            let (parts, body) = req.into_parts();
            let bytes = match to_bytes(body, state.config.max_body_bytes).await {
                Ok(b) => b,
                Err(_) => return (axum::http::StatusCode::PAYLOAD_TOO_LARGE).into_response(),
            };
            let token = form_field(&bytes, "csrf");
            let ok = token.is_some_and(|t| subtle::ConstantTimeEq::ct_eq(t.as_bytes(), s.csrf().as_bytes()).into());
            if !ok {
                return AppError::CsrfFailed.into_response();
            }
            req = Request::from_parts(parts, Body::from(bytes));
        }
    }
    match signed {
        Some(Loaded::Signed(s)) => {
            req.extensions_mut().insert(*s);
        }
        Some(Loaded::Pending(p)) => {
            req.extensions_mut().insert(*p);
        }
        Some(Loaded::Family(f)) => {
            req.extensions_mut().insert(*f);
        }
        None => {}
    }
    next.run(req).await
}

/// One field of an urlencoded form body.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded_pairs(body).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

pub fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded_pairs(std::str::from_utf8(body).unwrap_or(""))
}

fn serde_urlencoded_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Signed>().cloned().ok_or(AppError::Unauthenticated)
    }
}

impl FromRequestParts<AppState> for Pending {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Pending>().cloned().ok_or(AppError::Unauthenticated)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestCtx>()
            .cloned()
            .ok_or_else(|| AppError::Internal("request context missing".into()))
    }
}

/// A caller of the JSON API, authenticated by `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub principal: Principal,
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AppError::Unauthenticated)?;
        let principal = state.store.token_principal(&sha256_hex(token)).await.map_err(|_| AppError::Unauthenticated)?;
        Ok(ApiCaller { principal })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_decoded() {
        assert_eq!(form_field(b"a=1&csrf=ab%2Bc+d&x=", "csrf").as_deref(), Some("ab+c d"));
        assert_eq!(form_field(b"a=1", "csrf"), None);
        assert_eq!(form_field("q=%E5%B1%B1".as_bytes(), "q").as_deref(), Some("山"));
    }

    #[test]
    fn cross_origin_posts_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&h));
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h));
    }
}

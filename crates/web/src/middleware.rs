//! The frame around every request: request id and client address, the locale, a
//! tracing span, security headers, metrics, and the rendering of every error into a
//! localized page or a JSON problem body with nothing internal in it.

use crate::error::ErrorInfo;
use crate::i18n::{Locale, Tr};
use crate::state::AppState;
use crate::view::{Chrome, ErrorPage, Rendered, field_messages, render};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;
use std::time::Instant;
use tracing::Instrument;
use tsunagu_store::AuditCtx;

/// Per-request facts every handler may need.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    pub request_id: String,
    pub ip: Option<String>,
    pub locale: Locale,
    pub is_api: bool,
    /// Path and query as requested.
    pub here: String,
}

impl RequestCtx {
    pub fn audit(&self) -> AuditCtx {
        AuditCtx { ip: self.ip.clone(), request_id: Some(self.request_id.clone()) }
    }
    pub fn tr(&self) -> Tr {
        Tr::new(self.locale)
    }
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn locale_of(headers: &HeaderMap, is_api: bool) -> Locale {
    if let Some(l) = cookie_value(headers, "lang").as_deref().and_then(Locale::parse) {
        return l;
    }
    // The API follows Accept-Language; pages are Japanese until the user switches.
    if is_api {
        let first = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        if first.is_some_and(|f| f.starts_with("en")) {
            return Locale::En;
        }
    }
    Locale::Ja
}

fn valid_request_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn frame(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| state.ids.uuid().simple().to_string());
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let forwarded = state
        .config
        .trust_forwarded_for
        .then(|| req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()))
        .flatten()
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
    let path = req.uri().path().to_string();
    let is_api = path.starts_with("/api/") || path.starts_with("/fhir/");
    let ctx = RequestCtx {
        request_id: request_id.clone(),
        ip: forwarded.or(peer),
        locale: locale_of(req.headers(), is_api),
        is_api,
        here: req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| path.clone()),
    };
    let method = req.method().clone();
    req.extensions_mut().insert(ctx.clone());
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %path);
    let mut res = next.run(req).instrument(span.clone()).await;

    let status = res.status();
    if (status.is_client_error() || status.is_server_error()) && res.extensions().get::<Rendered>().is_none() {
        let retry_after = res.headers().get(header::RETRY_AFTER).cloned();
        res = render_error(&ctx, status, res.extensions().get::<ErrorInfo>().cloned(), state.config.demo_banner);
        if let Some(v) = retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    // Every 503 (shed at admission, or timed out) tells the client when to try again.
    if status == StatusCode::SERVICE_UNAVAILABLE && !res.headers().contains_key(header::RETRY_AFTER) {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    set_security_headers(res.headers_mut(), &path);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert("x-request-id", v);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let route_label = route_label(&path);
    metrics::counter!("tsunagu_http_requests_total", "route" => route_label, "status" => status.as_u16().to_string())
        .increment(1);
    metrics::histogram!("tsunagu_http_request_seconds", "route" => route_label).record(elapsed);
    span.in_scope(|| tracing::info!(status = status.as_u16(), ms = (elapsed * 1000.0) as u64, "done"));
    res
}

/// Admission: a request runs only with a permit; without one it is answered at once
/// with 503 and `Retry-After` (rendered by the frame like any error). The health check
/// always answers, so a load balancer does not take a busy server for a dead one.
pub async fn admission(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    match state.admission.clone().try_acquire_owned() {
        Ok(permit) => {
            let res = next.run(req).await;
            drop(permit);
            res
        }
        Err(_) => {
            metrics::counter!("tsunagu_http_shed_total").increment(1);
            let mut r = StatusCode::SERVICE_UNAVAILABLE.into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
    }
}

/// A low-cardinality label for metrics: the first path segment only (no ids).
fn route_label(path: &str) -> &'static str {
    match path.split('/').nth(1).unwrap_or("") {
        "" => "root",
        "patients" => "patients",
        "api" => "api",
        "fhir" => "fhir",
        "signin" | "signout" => "signin",
        "admin" => "admin",
        "operator" => "operator",
        "family" | "f" => "family",
        "static" => "static",
        "healthz" => "healthz",
        "metrics" => "metrics",
        _ => "other",
    }
}

fn status_key(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "error-unauthenticated",
        403 => "error-forbidden",
        404 => "error-not-found",
        405 => "error-method",
        408 | 503 => "error-unavailable",
        413 => "error-too-large",
        415 | 400 | 422 => "error-bad-request",
        429 => "error-too-many",
        _ if status.is_server_error() => "error-internal",
        _ => "error-bad-request",
    }
}

fn render_error(ctx: &RequestCtx, status: StatusCode, info: Option<ErrorInfo>, demo_banner: bool) -> Response {
    let tr = ctx.tr();
    let key = info.as_ref().map(|i| i.key).unwrap_or_else(|| status_key(status));
    let fields = info.map(|i| i.fields).unwrap_or_default();
    let errors = field_messages(&tr, &fields);
    // A page that needs a session sends the browser to sign in and back.
    if status == StatusCode::UNAUTHORIZED && !ctx.is_api {
        let to = if crate::family_auth::is_family_path(&ctx.here) {
            "/family/signin".to_string()
        } else {
            format!("/signin?next={}", crate::view::urlencode(&ctx.here))
        };
        let mut r = Redirect::to(&to).into_response();
        r.extensions_mut().insert(Rendered);
        return r;
    }
    // The FHIR API answers every error with an OperationOutcome.
    if ctx.here.starts_with("/fhir/") {
        let mut r = crate::fhir::frame_outcome(status);
        r.extensions_mut().insert(Rendered);
        return r;
    }
    if ctx.is_api {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": tr.t(key),
            "status": status.as_u16(),
            "request_id": ctx.request_id,
            "errors": errors.iter().map(|e| serde_json::json!({"field": e.field, "message": e.message})).collect::<Vec<_>>(),
        });
        let mut r = (status, body.to_string()).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r.extensions_mut().insert(Rendered);
        return r;
    }
    let page = ErrorPage {
        chrome: Chrome {
            tr,
            here: ctx.here.clone(),
            demo_banner,
            request_id: ctx.request_id.clone(),
            ..Default::default()
        },
        status: status.as_u16(),
        title: tr.t(key),
        message: tr.t(&format!("{key}-help")),
        errors,
    };
    match render(status, &page) {
        Ok(r) => r,
        Err(_) => {
            let mut r = (status, Body::from(tr.t(key))).into_response();
            r.extensions_mut().insert(Rendered);
            r
        }
    }
}

/// Headers on every response. Patient pages must not be cached anywhere; static assets
/// (no patient data) may be.
pub fn set_security_headers(h: &mut HeaderMap, path: &str) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // same-origin, not no-referrer: under no-referrer browsers send `Origin: null` on
    // form posts, which the CSRF check must refuse. No address leaves for other sites.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    if path.starts_with("/static/") {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    } else {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

//! Health, metrics, embedded assets, the language switch and the not-found fallback.

use crate::error::AppError;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// `GET /healthz`: 200 when the database answers and the schema is current.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let db_ok = state.store.ping().await.is_ok();
    let schema = state.store.schema_version().await.unwrap_or(-1);
    let ok = db_ok && schema == tsunagu_store::LATEST_VERSION;
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "unavailable" },
        "database": if db_ok { "ok" } else { "unreachable" },
        "backend": state.store.backend().as_str(),
        "schema_version": schema,
        "version": env!("CARGO_PKG_VERSION"),
    });
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.extensions_mut().insert(crate::view::Rendered);
    r
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    let mut r = text.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    r
}

const HTMX: &[u8] = include_bytes!("../../static/htmx.min.js");
const APP_CSS: &[u8] = include_bytes!("../../static/app.css");
const APP_JS: &[u8] = include_bytes!("../../static/app.js");
const PASSKEY_JS: &[u8] = include_bytes!("../../static/passkey.js");

/// Embedded static files: the binary carries everything the pages need (no CDN).
pub async fn asset(Path(file): Path<String>) -> Result<Response, AppError> {
    let (bytes, ctype) = match file.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "passkey.js" => (PASSKEY_JS, "text/javascript; charset=utf-8"),
        _ => return Err(AppError::NotFound),
    };
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    Ok(r)
}

#[derive(Deserialize)]
pub struct LangQuery {
    to: String,
    back: Option<String>,
}

/// `GET /lang?to=en&back=/patients`: remember the language in a cookie and go back.
pub async fn switch_language(Query(q): Query<LangQuery>) -> Result<Response, AppError> {
    let locale = crate::i18n::Locale::parse(&q.to)
        .ok_or(AppError::Invalid(tsunagu_domain::Invalid::one("to", "err-required")))?;
    // Only local paths: never an open redirect.
    let back = q.back.filter(|b| b.starts_with('/') && !b.starts_with("//")).unwrap_or_else(|| "/".into());
    let mut r = Redirect::to(&back).into_response();
    let cookie = format!("lang={}; Path=/; Max-Age=31536000; SameSite=Lax", locale.code());
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

pub async fn not_found(_ctx: RequestCtx) -> AppError {
    AppError::NotFound
}

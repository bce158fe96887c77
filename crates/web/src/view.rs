//! What every page shares: the translator, the signed-in person's header, the CSRF
//! token for forms, and the helper that renders a template to a response.

use crate::error::AppError;
use crate::i18n::Tr;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use tsunagu_domain::OrgId;

/// The page frame: who is signed in, for which organization, and the form token.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub tr: Tr,
    /// Current path and query, for the language switch to come back to.
    pub here: String,
    pub signed_in: bool,
    pub user_name: String,
    pub org_id: Option<OrgId>,
    pub org_name: String,
    /// Other organizations the person can act for.
    pub other_orgs: Vec<(OrgId, String)>,
    pub csrf: String,
    pub org_admin: bool,
    pub operator: bool,
    pub demo_banner: bool,
    pub request_id: String,
}

impl Chrome {
    pub fn lang_switch_href(&self) -> String {
        let to = if self.tr.is_ja() { "en" } else { "ja" };
        format!("/lang?to={to}&back={}", urlencode(&self.here))
    }
}

/// Percent-encode a value for a query string.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Escape text for HTML built outside a template (small fragments).
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Render a template as an HTML response with the given status.
pub fn render<T: Template>(status: StatusCode, t: &T) -> Result<Response, AppError> {
    let body = t.render().map_err(|e| AppError::Internal(format!("template: {e}")))?;
    let mut r = (status, Html(body)).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r.extensions_mut().insert(Rendered);
    Ok(r)
}

pub fn page<T: Template>(t: &T) -> Result<Response, AppError> {
    render(StatusCode::OK, t)
}

/// Marks a response whose body we produced, so the error renderer leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

/// A localized message for one field error.
#[derive(Debug, Clone)]
pub struct FieldMessage {
    pub field: String,
    pub label: String,
    pub message: String,
}

pub fn field_messages(tr: &Tr, fields: &[tsunagu_domain::FieldError]) -> Vec<FieldMessage> {
    fields
        .iter()
        .map(|f| FieldMessage {
            field: f.field.to_string(),
            label: tr.t(&format!("field-{}", f.field.replace('_', "-"))),
            message: tr.t(f.key),
        })
        .collect()
}

/// Look up the message of a field, for showing it beside the input.
pub fn message_for(errors: &[FieldMessage], field: &str) -> String {
    errors.iter().filter(|e| e.field == field).map(|e| e.message.clone()).collect::<Vec<_>>().join(" ")
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    pub status: u16,
    pub title: String,
    pub message: String,
    pub errors: Vec<FieldMessage>,
}

//! The FHIR R4 REST API at `/fhir/r4`: JSON only (`application/fhir+json`), bearer
//! tokens from `tsunagu token create`, the same access policy and audit chain as the
//! pages and the JSON API. Every error is an OperationOutcome; a patient outside the
//! caller's reach answers exactly as one that does not exist.
//!
//! Parsing (search parameters, incoming Patients, ETags) and the JSON of what is sent
//! back live in `tsunagu-fhir`; this module fetches through the store and answers.

pub mod capability;
pub mod chart;
pub mod directory;
pub mod document;
pub mod entries;
pub mod export;
pub mod letters;
pub mod medication;
pub mod observation;
pub mod patient;
pub mod symptoms;
pub mod task;
pub mod team;
pub mod transaction;
pub mod vitals;

use crate::auth::ApiCaller;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::Rendered;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::BTreeSet;
use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::{OffsetDateTime, UtcOffset};
use tsunagu_domain::Invalid;
use tsunagu_domain::PatientId;
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::policy::Principal;
use tsunagu_fhir::outcome::{Issue, IssueType, operation_outcome};
use tsunagu_fhir::rest::{Entry, EntryResponse, JSON_MIME, Link, searchset};
use tsunagu_fhir::search::{
    Handling, ParamDef, ParamType, Reference, SearchOptions, SearchRequest, SearchValue, Summary, parse_prefer_handling,
};
use tsunagu_store::{ChartGrant, StoreError};

/// `patient=`: names the patient whose chart a search reads (see [`named_charts`]).
pub const PATIENT_PARAM: ParamDef =
    ParamDef::new("patient", ParamType::Reference).with_modifiers(&[]).with_targets(&["Patient"]);
/// `subject=`: the same, by the resource's subject.
pub const SUBJECT_PARAM: ParamDef =
    ParamDef::new("subject", ParamType::Reference).with_modifiers(&[]).with_targets(&["Patient"]);

/// The path every FHIR route starts with.
pub const BASE_PATH: &str = "/fhir/r4";
/// `_count` above this is lowered to it; without `_count`, pages are this long.
pub const MAX_COUNT: u32 = 200;
pub const DEFAULT_COUNT: u32 = 50;

/// An error answered as an OperationOutcome with its HTTP status.
#[derive(Debug)]
pub struct FhirError {
    pub status: StatusCode,
    pub issues: Vec<Issue>,
}

pub type FhirResult<T> = Result<T, FhirError>;

impl FhirError {
    pub fn new(status: StatusCode, issue: Issue) -> Self {
        Self { status, issues: vec![issue] }
    }
    pub fn bad_request(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Issue::error(IssueType::Invalid, diagnostics))
    }
    /// A resource missing or out of reach: the two are worded the same.
    pub fn not_found(resource_type: &str, id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, tsunagu_fhir::outcome::not_found(resource_type, id))
    }
    /// A domain rule refused the values: one issue per field, in the caller's language.
    pub fn invalid(ctx: &RequestCtx, inv: &Invalid) -> Self {
        let tr = ctx.tr();
        let issues = inv
            .0
            .iter()
            .map(|f| {
                let label = tr.t(&format!("field-{}", f.field.replace('_', "-")));
                let mut issue = Issue::error(IssueType::Invariant, format!("{label}: {}", tr.t(f.key)));
                if let Some(expr) = tsunagu_fhir::patient_in::expression_for_form_field(f.field) {
                    issue = issue.at(expr);
                }
                issue
            })
            .collect();
        Self { status: StatusCode::UNPROCESSABLE_ENTITY, issues }
    }
    /// A store error on a request about `resource_type/id`.
    pub fn from_store(ctx: &RequestCtx, e: StoreError, resource_type: &str, id: &str) -> Self {
        match e {
            StoreError::NotFound => Self::not_found(resource_type, id),
            StoreError::Forbidden => {
                Self::new(StatusCode::FORBIDDEN, Issue::error(IssueType::Forbidden, ctx.tr().t("error-forbidden")))
            }
            StoreError::Invalid(inv) => Self::invalid(ctx, &inv),
            StoreError::Conflict { field, key } => Self::new(
                StatusCode::CONFLICT,
                Issue::error(IssueType::Duplicate, format!("{}: {}", field, ctx.tr().t(key))),
            ),
            other => Self::internal(other),
        }
    }
    /// Something went wrong inside: logged, and answered without detail.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error (FHIR API)");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Issue::error(
                IssueType::Exception,
                "internal error; the request id in the x-request-id header finds it in the log",
            ),
        )
    }
}

impl From<StoreError> for FhirError {
    /// Store errors without a resource to name (search, export).
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::new(StatusCode::NOT_FOUND, Issue::error(IssueType::NotFound, "not found")),
            StoreError::Forbidden => Self::new(StatusCode::FORBIDDEN, Issue::error(IssueType::Forbidden, "forbidden")),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let mut r = json_response(self.status, &operation_outcome(&self.issues));
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// A FHIR JSON body with its status, marked so the error frame leaves it alone.
pub fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, axum::Extension(Rendered), v.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+json; charset=utf-8"));
    r
}

/// A resource with its version headers (`ETag`, `Last-Modified`) and, for a create,
/// its `Location`.
pub fn resource_response(
    status: StatusCode,
    v: &Value,
    version: i64,
    recorded_at: &str,
    location: Option<&str>,
) -> Response {
    let mut r = json_response(status, v);
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&tsunagu_fhir::etag::format_etag(u64::try_from(version).unwrap_or(0))) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = http_date(recorded_at).and_then(|d| HeaderValue::from_str(&d).ok()) {
        h.insert(header::LAST_MODIFIED, v);
    }
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        h.insert(header::LOCATION, v);
    }
    r
}

/// An RFC 3339 instant as an HTTP date (`Mon, 30 Nov 2026 10:00:00 GMT`).
fn http_date(rfc3339: &str) -> Option<String> {
    let t = OffsetDateTime::parse(rfc3339, &Rfc3339).ok()?.to_offset(UtcOffset::UTC);
    let s = t.format(&Rfc2822).ok()?;
    // RFC 2822 writes "+0000"; HTTP wants "GMT".
    Some(s.strip_suffix("+0000").map(|d| format!("{d}GMT")).unwrap_or(s))
}

/// An authenticated caller of the FHIR API: the JSON API's bearer token, refused with
/// an OperationOutcome.
#[derive(Debug, Clone)]
pub struct FhirCaller {
    pub principal: Principal,
}

impl FromRequestParts<AppState> for FhirCaller {
    type Rejection = FhirError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match ApiCaller::from_request_parts(parts, state).await {
            Ok(c) => Ok(FhirCaller { principal: c.principal }),
            Err(_) => Err(FhirError::new(
                StatusCode::UNAUTHORIZED,
                Issue::error(IssueType::Login, "a valid bearer token is required (Authorization: Bearer <token>)"),
            )),
        }
    }
}

/// The base URL of the API as the client reached it (`http://host/fhir/r4`).
pub fn base(state: &AppState, headers: &HeaderMap) -> String {
    format!("{}{BASE_PATH}", crate::letters::base_url(state, headers))
}

/// How searches are parsed for this request: `Prefer: handling=strict|lenient`.
pub fn search_options(state: &AppState, headers: &HeaderMap) -> SearchOptions {
    let prefer = headers.get("prefer").and_then(|v| v.to_str().ok());
    let handling: Handling = parse_prefer_handling(prefer);
    SearchOptions::new(handling, MAX_COUNT, state.store.now())
}

/// The body of a create or update must be FHIR JSON.
pub fn require_json(headers: &HeaderMap) -> FhirResult<()> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime == JSON_MIME || mime == "application/json" {
        Ok(())
    } else {
        Err(FhirError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Issue::error(IssueType::NotSupported, format!("send the resource as {JSON_MIME}")),
        ))
    }
}

/// A search of `spec` from the query string, parsed under the request's
/// `Prefer: handling`; a `_format` other than JSON is refused.
pub fn parse_request(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    spec: &tsunagu_fhir::search::SearchSpec<'_>,
) -> FhirResult<SearchRequest> {
    let req = tsunagu_fhir::search::parse_search(query.unwrap_or(""), spec, &search_options(state, headers))
        .map_err(|e| FhirError { status: StatusCode::BAD_REQUEST, issues: vec![e.to_issue()] })?;
    check_format(req.format.as_deref())?;
    Ok(req)
}

/// A search match: the resource under `base/<type>/<id>`.
pub fn match_entry(base: &str, resource: Value) -> Entry {
    let kind = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    let id = resource.get("id").and_then(Value::as_str).unwrap_or_default();
    Entry {
        full_url: format!("{base}/{kind}/{id}"),
        resource,
        search_mode: Some("match"),
        request: None,
        response: None,
    }
}

/// One version of a resource in a history Bundle: the first was created (`POST`),
/// every later one an update (`PUT`); R4 requires both the request and its answer.
pub fn history_entry(base: &str, resource: Value, version: i64, recorded_at: &str) -> Entry {
    let kind = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default().to_string();
    let id = resource.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    Entry {
        full_url: format!("{base}/{kind}/{id}"),
        resource,
        search_mode: None,
        request: Some(if version == 1 { ("POST", kind) } else { ("PUT", format!("{kind}/{id}")) }),
        response: Some(EntryResponse {
            status: if version == 1 { "201 Created".into() } else { "200 OK".into() },
            location: None,
            etag: Some(tsunagu_fhir::etag::format_etag(u64::try_from(version).unwrap_or(0))),
            last_modified: Some(recorded_at.to_string()),
            resource: None,
        }),
    }
}

/// The history Bundle of one resource, its versions newest first.
pub fn history_response(state: &AppState, self_url: &str, entries: &[Entry]) -> Response {
    let b = tsunagu_fhir::rest::history(&bundle_id(state), &now_instant(state), self_url, entries);
    json_response(StatusCode::OK, &b)
}

/// `GET [type]/_history` and `GET /_history`: the history of a whole type, or of the
/// server, is not served. Every version would have to be filtered through the access
/// policy patient by patient; a client that keeps a copy reads each resource's own
/// `_history`, or runs `$export`. Answered plainly rather than as "no such patient".
pub async fn history_not_served(_caller: FhirCaller) -> FhirResult<Response> {
    Err(FhirError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        Issue::error(
            IssueType::NotSupported,
            "the history of a whole resource type or of the server is not served; read one resource's \
             [type]/[id]/_history, or export with [base]/Patient/$export (see [base]/metadata)",
        ),
    ))
}

/// The answer to a search whose matches are all found: one page of them, as a searchset.
pub fn respond_matches(
    state: &AppState,
    headers: &HeaderMap,
    req: &SearchRequest,
    resource_type: &str,
    found: Vec<Value>,
) -> Response {
    let base = base(state, headers);
    let page = Page::of(req, found.len());
    let list = page.matches(&base, found);
    json_response(StatusCode::OK, &page.bundle(state, &format!("{base}/{resource_type}"), req, &list))
}

/// The chart a resource (a lab result, a prescription) belongs to, opened to read it:
/// a missing resource and one on a chart out of reach answer alike.
pub async fn open_owning_chart(
    state: &AppState,
    ctx: &RequestCtx,
    who: &Principal,
    patient: Option<PatientId>,
    what: &str,
    missing: impl Fn() -> FhirError,
) -> FhirResult<ChartGrant> {
    let pid = patient.ok_or_else(&missing)?;
    state.store.open_chart(who, pid, ChartAction::Read, what, &ctx.audit()).await.map_err(|_| missing())
}

/// `_format` other than JSON is refused (this server speaks JSON only).
pub fn check_format(format: Option<&str>) -> FhirResult<()> {
    match format {
        None => Ok(()),
        Some(f) if ["json", JSON_MIME, "application/json"].contains(&f) => Ok(()),
        Some(f) => Err(FhirError::new(
            StatusCode::NOT_ACCEPTABLE,
            Issue::error(
                IssueType::NotSupported,
                format!("_format {} is not served; this server speaks JSON only", tsunagu_fhir::outcome::excerpt(f)),
            ),
        )),
    }
}

/// The current time as FHIR `instant`.
pub fn now_instant(state: &AppState) -> String {
    tsunagu_store::ts(state.store.now())
}

/// An id for a Bundle this server makes (searchset, history, transaction-response).
pub fn bundle_id(state: &AppState) -> String {
    state.ids.uuid().hyphenated().to_string()
}

/// The OperationOutcome for a request the frame answers (no route, too large, busy):
/// `/fhir/` paths get one instead of a problem body.
pub fn frame_outcome(status: StatusCode) -> Response {
    let (code, text) = match status.as_u16() {
        404 => (IssueType::NotSupported, "no such resource type or interaction on this server; see [base]/metadata"),
        405 => (IssueType::NotSupported, "this interaction is not supported on this resource; see [base]/metadata"),
        413 => (IssueType::TooCostly, "the request body is too large"),
        415 => (IssueType::NotSupported, "unsupported media type; send application/fhir+json"),
        400 | 422 => (IssueType::Invalid, "the request could not be read"),
        401 => (IssueType::Login, "a valid bearer token is required (Authorization: Bearer <token>)"),
        403 => (IssueType::Forbidden, "forbidden"),
        429 | 503 => (IssueType::Transient, "the server is busy; retry after the time in Retry-After"),
        _ if status.is_server_error() => (IssueType::Exception, "internal error"),
        _ => (IssueType::Invalid, "the request could not be served"),
    };
    FhirError::new(status, Issue::error(code, text)).into_response()
}

// ---------------------------------------------------------------------------------
// What the searches share

/// One page of a search's matches: where it starts, how long it is, of how many.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub offset: usize,
    pub count: usize,
    pub total: usize,
}

impl Page {
    /// `_offset` and `_count` (`_summary=count`: an empty page with the total).
    pub fn of(req: &SearchRequest, total: usize) -> Self {
        let count = if req.summary == Some(Summary::Count) { 0 } else { req.count.unwrap_or(DEFAULT_COUNT) as usize };
        Self { offset: req.offset.unwrap_or(0) as usize, count, total }
    }

    /// This page of all the matches, as entries.
    pub fn matches(&self, base: &str, found: Vec<Value>) -> Vec<Entry> {
        found.into_iter().skip(self.offset).take(self.count).map(|r| match_entry(base, r)).collect()
    }

    /// The searchset Bundle of this page: paging links, the entries, and a warning
    /// entry naming what was ignored.
    pub fn bundle(&self, state: &AppState, url: &str, req: &SearchRequest, entries: &[Entry]) -> Value {
        let links = paging_links(url, req, self.total, self.offset, self.count);
        let warnings = req.warnings();
        let outcome = (!warnings.is_empty()).then(|| operation_outcome(&warnings));
        searchset(&bundle_id(state), &now_instant(state), Some(self.total), &links, entries, outcome)
    }
}

/// `self`, `first`, and `previous`/`next` where there are such pages.
pub fn paging_links(url: &str, req: &SearchRequest, total: usize, offset: usize, count: usize) -> Vec<Link> {
    let at = |off: usize| {
        let mut r = req.clone();
        r.count = Some(u32::try_from(count).unwrap_or(u32::MAX));
        r.offset = (off > 0).then(|| u32::try_from(off).unwrap_or(u32::MAX));
        let q = r.to_query();
        if q.is_empty() { url.to_string() } else { format!("{url}?{q}") }
    };
    let mut links = vec![Link { relation: "self", url: at(offset) }, Link { relation: "first", url: at(0) }];
    if count > 0 && offset > 0 {
        links.push(Link { relation: "previous", url: at(offset.saturating_sub(count)) });
    }
    if count > 0 && offset + count < total {
        links.push(Link { relation: "next", url: at(offset + count) });
    }
    links
}

/// The charts a search of a patient's resources names (`patient=` / `subject=`; each
/// such parameter narrows, its values ORed). Each is opened through the access policy
/// and recorded; one outside the caller's reach is left out exactly like one that does
/// not exist. A search that names no patient is refused: it would read every chart.
pub async fn named_charts(
    state: &AppState,
    ctx: &RequestCtx,
    who: &Principal,
    req: &SearchRequest,
    what: &str,
) -> FhirResult<Vec<ChartGrant>> {
    named_charts_for(state, ctx, who, req, ChartAction::Read, what).await
}

/// [`named_charts`] for another chart action (the access log needs its own).
pub async fn named_charts_for(
    state: &AppState,
    ctx: &RequestCtx,
    who: &Principal,
    req: &SearchRequest,
    action: ChartAction,
    what: &str,
) -> FhirResult<Vec<ChartGrant>> {
    let mut named: Option<BTreeSet<String>> = None;
    for p in req.params.iter().filter(|p| p.name == "patient" || p.name == "subject") {
        let ids: BTreeSet<String> = p.values.iter().filter_map(patient_ref).collect();
        named = Some(match named {
            Some(prev) => prev.intersection(&ids).cloned().collect(),
            None => ids,
        });
    }
    let Some(named) = named else {
        return Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(IssueType::TooCostly, "this search must name its patient (patient= or subject=)"),
        ));
    };
    let mut grants = Vec::new();
    for id in &named {
        let Ok(pid) = id.parse::<PatientId>() else { continue };
        if let Ok(g) = state.store.open_chart(who, pid, action, what, &ctx.audit()).await {
            grants.push(g);
        }
    }
    Ok(grants)
}

/// The patient id a reference names (`Patient/x`, `x`, or our own absolute URL).
fn patient_ref(v: &SearchValue) -> Option<String> {
    match v {
        SearchValue::Reference(Reference::Local { resource_type, id, .. })
            if resource_type.as_deref().is_none_or(|t| t == "Patient") =>
        {
            Some(id.clone())
        }
        SearchValue::Reference(Reference::Absolute(url)) => {
            let tail = url.rsplit_once("/Patient/").map(|(_, t)| t)?;
            Some(tail.split('/').next().unwrap_or(tail).to_string())
        }
        _ => None,
    }
}

/// `_include=<source>:patient` (or `:subject`): the patients of the page's resources,
/// only among the charts the search opened.
pub async fn included_patients(
    state: &AppState,
    base: &str,
    req: &SearchRequest,
    grants: &[ChartGrant],
    shown: &[PatientId],
    source: &str,
) -> FhirResult<Vec<Entry>> {
    let wanted = req.include.iter().any(|i| i.source == source && (i.param == "patient" || i.param == "subject"));
    if !wanted {
        return Ok(Vec::new());
    }
    let included: Vec<&ChartGrant> = grants.iter().filter(|g| shown.contains(&g.patient())).collect();
    let ids: Vec<PatientId> = included.iter().map(|g| g.patient()).collect();
    let local = state.store.local_identifiers(&ids).await?;
    let mut out = Vec::new();
    for g in included {
        let r = state.store.patient_record(g).await?;
        out.push(Entry {
            full_url: format!("{base}/Patient/{}", r.id),
            resource: patient::to_resource(&r, &local),
            search_mode: Some("include"),
            request: None,
            response: None,
        });
    }
    Ok(out)
}

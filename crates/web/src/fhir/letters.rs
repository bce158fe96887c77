//! Letters as FHIR: a referral (診療情報提供書) as the `ServiceRequest` it makes, and
//! every letter (referral, visiting-nurse instruction, reply) as a `Composition` with
//! its document at `Composition/[id]/$document`. The letter's id is the id of both.
//!
//! The letters a caller finds are those the chart's letter page shows the caller: sent
//! letters, and the caller's own organization's drafts (another organization's draft
//! does not exist for it); a discarded draft is never shown. Reads and searches open
//! the chart through the policy, so the chart's access log records them; a letter on a
//! chart out of reach answers exactly like one that does not exist.

use super::{FhirCaller, FhirError, FhirResult, json_response};
use crate::error::AppError;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tsunagu_domain::letter::{LetterBody, LetterKind, LetterState};
use tsunagu_fhir::composition::{LetterStatus, rest_composition};
use tsunagu_fhir::outcome::{Issue, IssueType};
use tsunagu_fhir::search::{DateRange, ParamDef, ParamType as T, SearchParam, SearchSpec, SearchValue};
use tsunagu_store::{ChartGrant, LetterView, StoreError};

pub const SERVICE_REQUEST_PARAMS: &[ParamDef] = &[
    super::PATIENT_PARAM,
    super::SUBJECT_PARAM,
    ParamDef::new("status", T::Token).with_modifiers(&[]),
    ParamDef::new("authored", T::Date).with_modifiers(&[]),
];
pub const SERVICE_REQUEST_SPEC: SearchSpec<'static> =
    SearchSpec { resource_type: "ServiceRequest", params: SERVICE_REQUEST_PARAMS, revinclude: &[] };
pub const COMPOSITION_PARAMS: &[ParamDef] = &[super::PATIENT_PARAM, super::SUBJECT_PARAM];
pub const COMPOSITION_SPEC: SearchSpec<'static> =
    SearchSpec { resource_type: "Composition", params: COMPOSITION_PARAMS, revinclude: &[] };
pub const DOCUMENT_DEFINITION: &str = "http://hl7.org/fhir/OperationDefinition/Composition-document";

const SNOMED: &str = "http://snomed.info/sct";
const REQUEST_STATUS_SYSTEM: &str = "http://hl7.org/fhir/request-status";

/// A referral's state as a request's status. Received is still `active` (acknowledged,
/// not yet answered); a reply completes it; a decline ends it unfulfilled (`revoked`,
/// the closest R4 has: the request no longer stands). A discarded draft is never
/// served, so it has no status here.
pub fn request_status(s: LetterState) -> Option<&'static str> {
    match s {
        LetterState::Draft => Some("draft"),
        LetterState::Sent | LetterState::Received => Some("active"),
        LetterState::Replied => Some("completed"),
        LetterState::Declined => Some("revoked"),
        LetterState::Discarded => None,
    }
}

/// A referral letter as the ServiceRequest it makes: who asks (the writer, at the
/// writing organization), of whom (the recipient organization), why (the letter's
/// purpose), and the letter itself as supporting information.
pub fn service_request(v: &LetterView) -> Option<Value> {
    let s = &v.summary;
    let LetterBody::Referral(r) = &v.content.body else { return None };
    let status = request_status(s.state)?;
    let mut out = json!({
        "resourceType": "ServiceRequest",
        "id": s.id,
        "status": status,
        "intent": "order",
        "category": [ {
            "coding": [ { "system": SNOMED, "code": "3457005", "display": "Patient referral" } ],
            "text": "診療情報提供書",
        } ],
        "subject": { "reference": format!("Patient/{}", s.patient_id) },
        "requester": {
            "reference": format!("Practitioner/{}", s.from_user_id),
            "display": format!("{} ({})", s.from_user_name, s.from_org_name),
        },
        "performer": [ { "reference": format!("Organization/{}", s.to_org_id), "display": s.to_org_name } ],
        "supportingInfo": [ { "reference": format!("Composition/{}", s.id), "display": "診療情報提供書" } ],
    });
    let obj = out.as_object_mut()?;
    if let Some(at) = &s.sent_at {
        obj.insert("authoredOn".into(), json!(at));
    }
    if !r.purpose.trim().is_empty() {
        obj.insert("reasonCode".into(), json!([ { "text": r.purpose.trim() } ]));
    }
    let mut notes = Vec::new();
    if let Some(p) = s.to_person.as_deref().filter(|p| !p.trim().is_empty()) {
        notes.push(json!({ "text": format!("宛先: {p}") }));
    }
    // Why the recipient declined, as the letter page shows it.
    for e in v.events.iter().filter(|e| e.state_after == LetterState::Declined) {
        if let Some(n) = e.note.as_deref().filter(|n| !n.trim().is_empty()) {
            notes.push(json!({ "text": format!("辞退の理由: {n}"), "time": e.at, "authorString": format!("{} ({})", e.by_user_name, e.by_org_name) }));
        }
    }
    if !notes.is_empty() {
        obj.insert("note".into(), Value::Array(notes));
    }
    Some(out)
}

/// The letter as its Composition, cut from its document Bundle.
pub async fn composition(state: &AppState, g: &ChartGrant, v: &LetterView, base: &str) -> FhirResult<Value> {
    let doc = crate::letters::letter_document(state, g, v, base).await.map_err(from_app)?;
    let bundle = tsunagu_fhir::letter_bundle(&doc);
    let (status, date) = match &v.summary.sent_at {
        Some(at) if v.summary.state != LetterState::Draft => (LetterStatus::Sent, at.as_str()),
        _ => (LetterStatus::Draft, v.saved_at.as_str()),
    };
    rest_composition(&bundle, &v.summary.id, status, date)
        .ok_or_else(|| FhirError::internal("a letter's document Bundle holds no Composition"))
}

fn from_app(e: AppError) -> FhirError {
    match e {
        AppError::NotFound => FhirError::from(StoreError::NotFound),
        other => FhirError::internal(format!("{other:?}")),
    }
}

/// A letter of the chart the caller may see, or `missing()`: another organization's
/// draft and any discarded draft do not exist here.
async fn visible_letter(
    state: &AppState,
    g: &ChartGrant,
    id: &str,
    missing: impl Fn() -> FhirError,
) -> FhirResult<LetterView> {
    match state.store.letter(g, id).await {
        Ok(v) if v.summary.state != LetterState::Discarded => Ok(v),
        Ok(_) | Err(StoreError::NotFound) => Err(missing()),
        Err(e) => Err(FhirError::internal(e)),
    }
}

/// Open the chart that holds letter `raw` and read the letter, as `what` in the
/// chart's access log; a letter out of reach and a missing one answer alike.
async fn read_letter(
    state: &AppState,
    ctx: &RequestCtx,
    caller: &FhirCaller,
    raw: &str,
    resource_type: &str,
    what: &str,
) -> FhirResult<(ChartGrant, LetterView)> {
    let missing = || FhirError::not_found(resource_type, raw);
    let owner = state.store.patient_owning(tsunagu_store::Owned::Letter, raw).await?;
    let g = super::open_owning_chart(state, ctx, &caller.principal, owner, what, missing).await?;
    let v = visible_letter(state, &g, raw, missing).await?;
    Ok((g, v))
}

/// Every letter of each chart the search opened that the caller may see (as the
/// chart's letter page lists them), newest first, with its chart.
pub async fn letters_of<'g>(
    state: &AppState,
    grants: &'g [ChartGrant],
) -> FhirResult<Vec<(&'g ChartGrant, LetterView)>> {
    let mut out = Vec::new();
    for g in grants {
        for s in state.store.letters(g).await? {
            out.push((g, state.store.letter(g, &s.id).await?));
        }
    }
    Ok(out)
}

pub async fn read_service_request(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let (_, v) = read_letter(&state, &ctx, &caller, &raw, "ServiceRequest", "fhir.servicerequest.read").await?;
    let r = service_request(&v).ok_or_else(|| FhirError::not_found("ServiceRequest", &raw))?;
    Ok(json_response(StatusCode::OK, &r))
}

pub async fn search_service_request(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &SERVICE_REQUEST_SPEC)?;
    let grants = super::named_charts(&state, &ctx, &caller.principal, &req, "fhir.servicerequest.search").await?;
    let found: Vec<Value> = letters_of(&state, &grants)
        .await?
        .iter()
        .filter(|(_, v)| v.summary.kind == LetterKind::Referral)
        .filter(|(_, v)| {
            req.params.iter().filter(|p| p.name != "patient" && p.name != "subject").all(|p| request_matches(p, v))
        })
        .filter_map(|(_, v)| service_request(v))
        .collect();
    Ok(super::respond_matches(&state, &headers, &req, "ServiceRequest", found))
}

fn request_matches(p: &SearchParam, v: &LetterView) -> bool {
    p.values.iter().any(|value| match (p.name.as_str(), value) {
        ("status", SearchValue::Token(t)) => {
            let system_ok = t.system.admits(REQUEST_STATUS_SYSTEM);
            system_ok && t.code.is_some() && t.code.as_deref() == request_status(v.summary.state)
        }
        // A draft was never authored (sent), so a date search does not find it.
        ("authored", SearchValue::Date(d)) => v
            .summary
            .sent_at
            .as_deref()
            .and_then(|at| OffsetDateTime::parse(at, &Rfc3339).ok())
            .and_then(DateRange::second)
            .is_some_and(|at| d.matches(&at)),
        _ => false,
    })
}

pub async fn read_composition(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let (g, v) = read_letter(&state, &ctx, &caller, &raw, "Composition", "fhir.composition.read").await?;
    let base = crate::letters::base_url(&state, &headers);
    Ok(json_response(StatusCode::OK, &composition(&state, &g, &v, &base).await?))
}

/// `Composition/[id]/$document`: the letter's document Bundle, exactly as the JSON
/// API's `/letters/{letter}/fhir` gives it. A draft has no document yet.
pub async fn document(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let (g, v) = read_letter(&state, &ctx, &caller, &raw, "Composition", "fhir.composition.document").await?;
    if v.summary.state == LetterState::Draft {
        return Err(FhirError::new(
            StatusCode::CONFLICT,
            Issue::error(IssueType::BusinessRule, "a draft letter has no document until it is sent"),
        ));
    }
    let base = crate::letters::base_url(&state, &headers);
    let bundle = crate::letters::fhir_bundle(&state, &g, &v, &base).await.map_err(from_app)?;
    Ok(json_response(StatusCode::OK, &bundle))
}

pub async fn search_composition(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &COMPOSITION_SPEC)?;
    let grants = super::named_charts(&state, &ctx, &caller.principal, &req, "fhir.composition.search").await?;
    let site = crate::letters::base_url(&state, &headers);
    let mut found = Vec::new();
    for (g, v) in letters_of(&state, &grants).await? {
        found.push(composition(&state, g, &v, &site).await?);
    }
    Ok(super::respond_matches(&state, &headers, &req, "Composition", found))
}

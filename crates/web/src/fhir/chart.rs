//! The chart's timeline as FHIR: thread messages as `Communication` (current versions;
//! one marked entered in error keeps its place with that status). Found through the
//! chart door like every patient resource.

use super::entries::{self, EntryType, Render};
use super::{FhirCaller, FhirError, FhirResult};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tsunagu_domain::PatientId;
use tsunagu_domain::chart::Message;
use tsunagu_domain::chart::{EntryBody, EntryKind};
use tsunagu_domain::policy::ChartAction;
use tsunagu_fhir::communication_in::parse_communication_json;
use tsunagu_fhir::outcome::{Issue, IssueType, operation_outcome};
use tsunagu_fhir::search::{DateRange, ParamDef, ParamType as T, SearchSpec, SearchValue};
use tsunagu_store::{ChartGrant, EntryView, TimelineFilter};

pub const COMMUNICATION_PARAMS: &[ParamDef] =
    &[super::PATIENT_PARAM, super::SUBJECT_PARAM, ParamDef::new("sent", T::Date).with_modifiers(&[])];
pub const COMMUNICATION_SPEC: SearchSpec<'static> =
    SearchSpec { resource_type: "Communication", params: COMMUNICATION_PARAMS, revinclude: &[] };

/// Every current entry of one kind, newest first (the timeline's pages, walked by its
/// keyset cursor).
pub async fn all_entries(state: &AppState, g: &ChartGrant, kind: EntryKind) -> FhirResult<Vec<EntryView>> {
    const PAGE: i64 = 500;
    let mut out: Vec<EntryView> = Vec::new();
    loop {
        let before = out.last().map(|e| (e.entry_recorded_at.clone(), e.entry_id.clone()));
        let filter = TimelineFilter { kind: Some(kind), before, limit: PAGE, ..TimelineFilter::default() };
        let page = state.store.timeline(g, &filter).await?;
        let done = (page.len() as i64) < PAGE;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Communication is served from thread messages.
pub const COMMUNICATION: EntryType = EntryType {
    resource_type: "Communication",
    kind: EntryKind::Message,
    audit: "fhir.communication",
    split_id: entries::whole_entry,
    render: communication,
};

/// The marker of Communication for the shared entry handlers.
pub struct Communication;

impl entries::Served for Communication {
    const TYPE: EntryType = COMMUNICATION;
}

/// One version of a thread message as a Communication.
pub fn communication(r: &Render<'_>, e: &EntryView, _part: &str) -> Option<Value> {
    let EntryBody::Message(m) = &e.body else { return None };
    let status = entries::status(e, "completed", "completed");
    let mut payload = vec![json!({ "contentString": m.text })];
    payload.extend(
        m.attachments.iter().map(
            |a| json!({ "contentAttachment": { "contentType": a.media_type, "title": a.filename, "size": a.size } }),
        ),
    );
    Some(json!({
        "resourceType": "Communication",
        "id": e.entry_id,
        "meta": entries::meta(e),
        "status": status,
        "category": [ { "text": "多職種連携スレッド" } ],
        "subject": { "reference": format!("Patient/{}", r.grant.patient()) },
        "sent": e.entry_recorded_at,
        "sender": { "display": format!("{} ({})", e.author_name, e.author_org_name) },
        "payload": payload,
    }))
}

pub async fn search_communication(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &COMMUNICATION_SPEC)?;
    let grants = super::named_charts(&state, &ctx, &caller.principal, &req, "fhir.communication.search").await?;
    let base = super::base(&state, &headers);
    let mut found: Vec<Value> = Vec::new();
    for g in &grants {
        let r = Render { grant: g, base: &base };
        for e in all_entries(&state, g, EntryKind::Message).await? {
            let Some(v) = communication(&r, &e, "") else { continue };
            let sent_ok = req.params.iter().filter(|p| p.name == "sent").all(|p| {
                p.values.iter().any(|value| match value {
                    SearchValue::Date(d) => OffsetDateTime::parse(&e.entry_recorded_at, &Rfc3339)
                        .ok()
                        .and_then(DateRange::second)
                        .is_some_and(|at| d.matches(&at)),
                    _ => false,
                })
            });
            if sent_ok {
                found.push(v);
            }
        }
    }
    Ok(super::respond_matches(&state, &headers, &req, "Communication", found))
}

/// `POST Communication`: a message to the patient's team, written on the chart's thread
/// as if typed there (the caller is the sender, now the time; it is indexed for search).
/// A patient the caller may not write to is refused exactly like one that does not
/// exist. With `Prefer: return=OperationOutcome` the answer is the OperationOutcome
/// naming what was accepted and not kept, instead of the resource.
pub async fn create_communication(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    body: Bytes,
) -> FhirResult<Response> {
    super::require_json(&headers)?;
    let m =
        parse_communication_json(&body).map_err(|e| FhirError { status: StatusCode::BAD_REQUEST, issues: e.issues })?;
    let unknown = || {
        FhirError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Issue::error(IssueType::NotFound, "Communication.subject: no such patient")
                .at("Communication.subject.reference"),
        )
    };
    let pid: PatientId = m.patient_id.parse().map_err(|_| unknown())?;
    let g = state
        .store
        .open_chart(&caller.principal, pid, ChartAction::Write, "fhir.communication.create", &ctx.audit())
        .await
        .map_err(|_| unknown())?;
    let message = EntryBody::Message(Message { text: m.text, attachments: vec![] });
    let e = state
        .store
        .add_entry(&g, message, &[], &ctx.audit())
        .await
        .map_err(|e| FhirError::from_store(&ctx, e, "Communication", "new"))?;
    crate::pages::search::index_version(&state, pid, &e);
    let base = super::base(&state, &headers);
    let v = communication(&Render { grant: &g, base: &base }, &e, "")
        .ok_or_else(|| FhirError::internal("a message entry made no Communication"))?;
    let location = format!("{base}/Communication/{}/_history/{}", e.entry_id, e.version);
    let wants_outcome = headers
        .get("prefer")
        .and_then(|p| p.to_str().ok())
        .is_some_and(|p| p.split(',').any(|x| x.trim().eq_ignore_ascii_case("return=OperationOutcome")));
    if wants_outcome {
        let mut issues = vec![Issue::information(IssueType::Informational, "created")];
        issues.extend(m.warnings);
        let mut r = super::json_response(StatusCode::CREATED, &operation_outcome(&issues));
        if let Ok(l) = axum::http::HeaderValue::from_str(&location) {
            r.headers_mut().insert(axum::http::header::LOCATION, l);
        }
        return Ok(r);
    }
    Ok(super::resource_response(StatusCode::CREATED, &v, e.version, &e.recorded_at, Some(&location)))
}

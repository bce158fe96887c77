//! Documents on the chart as FHIR: each document entry is a `DocumentReference` (its
//! versions are the entry's corrections) whose attachments are `Binary` resources,
//! served through the same chart door as the chart's download link.

use super::entries::{self, EntryType, Render};
use super::{FhirCaller, FhirError, FhirResult, json_response};
use crate::i18n::{Locale, Tr};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tsunagu_domain::chart::{DocumentType, EntryBody, EntryKind};
use tsunagu_fhir::search::{DateRange, ParamDef, ParamType as T, SearchSpec, SearchValue, TokenSystem};
use tsunagu_store::{EntryView, Owned};

pub const PARAMS: &[ParamDef] = &[
    super::PATIENT_PARAM,
    super::SUBJECT_PARAM,
    ParamDef::new("type", T::Token).with_modifiers(&[]),
    ParamDef::new("date", T::Date).with_modifiers(&[]),
];
pub const SPEC: SearchSpec<'static> =
    SearchSpec { resource_type: "DocumentReference", params: PARAMS, revinclude: &[] };

/// Our document types (the chart's own list).
pub const DOCUMENT_TYPE_SYSTEM: &str = "urn:tsunagu:document-type";
const LOINC: &str = "http://loinc.org";

pub const DOCUMENT_REFERENCE: EntryType = EntryType {
    resource_type: "DocumentReference",
    kind: EntryKind::Document,
    audit: "fhir.documentreference",
    split_id: entries::whole_entry,
    render: document_reference,
};

/// The marker of DocumentReference for the shared entry handlers.
pub struct DocumentReference;

impl entries::Served for DocumentReference {
    const TYPE: EntryType = DOCUMENT_REFERENCE;
}

/// The LOINC document code of a type, where one says the same thing.
fn loinc(t: DocumentType) -> Option<(&'static str, &'static str)> {
    match t {
        DocumentType::DischargeSummary => Some(("18842-5", "Discharge summary")),
        DocumentType::ReferralLetter => Some(("57133-1", "Referral note")),
        DocumentType::Photo => Some(("72170-4", "Photographic image")),
        DocumentType::LabReport => Some(("11502-2", "Laboratory report")),
        DocumentType::ConferenceSheet
        | DocumentType::NursingInstruction
        | DocumentType::ScannedPaper
        | DocumentType::Other => None,
    }
}

fn type_concept(t: DocumentType) -> Value {
    let label = Tr::new(Locale::Ja).label("doc-type", t.as_str());
    let mut coding = vec![json!({ "system": DOCUMENT_TYPE_SYSTEM, "code": t.as_str(), "display": label })];
    if let Some((code, display)) = loinc(t) {
        coding.push(json!({ "system": LOINC, "code": code, "display": display }));
    }
    json!({ "coding": coding, "text": label })
}

/// One version of a document entry as a DocumentReference.
pub fn document_reference(r: &Render<'_>, e: &EntryView, _part: &str) -> Option<Value> {
    let EntryBody::Document(d) = &e.body else { return None };
    // A corrected document's earlier version is superseded; the current one is current
    // unless marked entered in error.
    let status = if e.in_error.is_some() { "entered-in-error" } else { "current" };
    let content: Vec<Value> = d
        .attachments
        .iter()
        .map(|a| {
            json!({ "attachment": {
                "contentType": a.media_type,
                "url": format!("{}/Binary/{}", r.base, a.id),
                "size": a.size,
                "title": a.filename,
                "creation": e.entry_recorded_at,
            } })
        })
        .collect();
    let mut v = json!({
        "resourceType": "DocumentReference",
        "id": e.entry_id,
        "meta": entries::meta(e),
        "status": status,
        "docStatus": if e.version > 1 { "amended" } else { "final" },
        "type": type_concept(d.doc_type),
        "subject": { "reference": format!("Patient/{}", r.grant.patient()) },
        "date": e.recorded_at,
        "author": [
            { "reference": format!("Organization/{}", e.author_org_id), "display": e.author_org_name },
        ],
        "description": d.title,
        "content": content,
    });
    if let (Some(note), Some(o)) = (d.note.as_deref().filter(|n| !n.trim().is_empty()), v.as_object_mut()) {
        o.insert("context".into(), json!({ "related": [ { "display": note } ] }));
    }
    // R4 requires at least one content; a document is never saved without a file, but
    // an entry without one must not make an invalid resource.
    if d.attachments.is_empty() { None } else { Some(v) }
}

pub async fn search(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &SPEC)?;
    let grants = super::named_charts(&state, &ctx, &caller.principal, &req, "fhir.documentreference.search").await?;
    let base = super::base(&state, &headers);
    let mut found: Vec<Value> = Vec::new();
    for g in &grants {
        let r = Render { grant: g, base: &base };
        for e in super::chart::all_entries(&state, g, EntryKind::Document).await? {
            let EntryBody::Document(d) = &e.body else { continue };
            let wanted = req.params.iter().filter(|p| p.name == "type" || p.name == "date").all(|p| {
                p.values.iter().any(|value| match value {
                    SearchValue::Token(t) => {
                        let system_ok = match &t.system {
                            TokenSystem::Any => true,
                            TokenSystem::Is(s) if s == DOCUMENT_TYPE_SYSTEM => true,
                            TokenSystem::Is(s) if s == LOINC => t.code.is_some(),
                            _ => false,
                        };
                        let code_ok = t
                            .code
                            .as_deref()
                            .is_none_or(|c| c == d.doc_type.as_str() || loinc(d.doc_type).is_some_and(|(l, _)| l == c));
                        system_ok && code_ok
                    }
                    SearchValue::Date(range) => OffsetDateTime::parse(&e.recorded_at, &Rfc3339)
                        .ok()
                        .and_then(DateRange::second)
                        .is_some_and(|at| range.matches(&at)),
                    _ => false,
                })
            });
            if let Some(v) = wanted.then(|| document_reference(&r, &e, "")).flatten() {
                found.push(v);
            }
        }
    }
    Ok(super::respond_matches(&state, &headers, &req, "DocumentReference", found))
}

/// `GET Binary/[id]`: an attachment's bytes as they were uploaded (their own media
/// type), or as a FHIR Binary resource when the client asks for FHIR JSON. Opened
/// through the chart that holds it and recorded like the chart's download link.
pub async fn read_binary(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let missing = || FhirError::not_found("Binary", &raw);
    let owner = state.store.patient_owning(Owned::Attachment, &raw).await?;
    let g = super::open_owning_chart(&state, &ctx, &caller.principal, owner, "fhir.binary.read", missing).await?;
    let a = state.store.attachment(&g, &raw).await.map_err(|_| missing())?;
    let bytes = state.blobs.get(&a.sha256).await.map_err(|e| FhirError::internal(format!("binary {}: {e}", a.id)))?;
    if wants_fhir_json(&headers) {
        let v = json!({
            "resourceType": "Binary",
            "id": a.id,
            "contentType": a.media_type,
            "securityContext": { "reference": format!("Patient/{}", g.patient()) },
            "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
        });
        return Ok(json_response(StatusCode::OK, &v));
    }
    let mut r = (StatusCode::OK, axum::Extension(crate::view::Rendered), bytes).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&a.media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{}", crate::view::urlencode(&a.filename)))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// Whether the request's `Accept` (or `_format`) asks for the Binary resource itself.
fn wants_fhir_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains(tsunagu_fhir::rest::JSON_MIME) || a.contains("application/json"))
}

//! Bulk export (FHIR Bulk Data Access, patient level): `GET [base]/Patient/$export`
//! with `Prefer: respond-async` answers 202 and a status URL; the status answers the
//! manifest; each file is NDJSON (`application/fhir+ndjson`).
//!
//! The export holds every patient the caller may read, and nothing else: each chart is
//! opened through the access policy (an audit record per patient, as for any read), so
//! a patient outside the caller's reach is absent exactly like one that does not exist.
//! It is built at once, before the 202 (a regional server's export is minutes at
//! most), and its files are kept in the object store like attachments. Only the person
//! who asked may poll it or fetch its files.

use super::entries::Render;
use super::{FhirCaller, FhirError, FhirResult, base, json_response, now_instant};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tsunagu_domain::chart::EntryKind;
use tsunagu_domain::letter::{LetterKind, LetterState};
use tsunagu_domain::policy::ChartAction;
use tsunagu_fhir::outcome::{Issue, IssueType, excerpt};
use tsunagu_fhir::search::percent_decode;
use tsunagu_store::{ChartGrant, FhirExportRow};

/// The resource types an export can hold: everything of a patient's chart the API
/// serves per patient.
pub const TYPES: &[&str] = &[
    "Patient",
    "Observation",
    "MedicationRequest",
    "DocumentReference",
    "QuestionnaireResponse",
    "Communication",
    "ServiceRequest",
    "Composition",
    "Task",
];
pub const NDJSON: &str = "application/fhir+ndjson";
pub const DEFINITION: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export";

/// The kick-off request's parameters: `_type` (a subset of [`TYPES`]) and
/// `_outputFormat` (NDJSON only). Anything else is refused, as Bulk Data asks.
fn requested_types(query: Option<&str>) -> FhirResult<Vec<&'static str>> {
    let mut types: Vec<&'static str> = TYPES.to_vec();
    for piece in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let v =
            percent_decode(v).ok_or_else(|| FhirError::bad_request("the query is not valid percent-encoded UTF-8"))?;
        match k {
            "_type" => {
                let mut chosen = Vec::new();
                for t in v.split(',').map(str::trim) {
                    match TYPES.iter().find(|x| **x == t) {
                        Some(x) => chosen.push(*x),
                        None => {
                            return Err(FhirError::new(
                                StatusCode::BAD_REQUEST,
                                Issue::error(
                                    IssueType::NotSupported,
                                    format!(
                                        "_type {} is not exported; this server exports {}",
                                        excerpt(t),
                                        TYPES.join(", ")
                                    ),
                                ),
                            ));
                        }
                    }
                }
                types = chosen;
            }
            "_outputFormat" => {
                if !matches!(v.as_str(), "application/fhir+ndjson" | "application/ndjson" | "ndjson") {
                    return Err(FhirError::new(
                        StatusCode::BAD_REQUEST,
                        Issue::error(IssueType::NotSupported, "_outputFormat: only application/fhir+ndjson"),
                    ));
                }
            }
            other => {
                return Err(FhirError::new(
                    StatusCode::BAD_REQUEST,
                    Issue::error(
                        IssueType::NotSupported,
                        format!("export parameter {} is not supported", excerpt(other)),
                    ),
                ));
            }
        }
    }
    Ok(types)
}

pub async fn kick_off(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let async_asked = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.split(',').any(|x| x.trim().eq_ignore_ascii_case("respond-async")));
    if !async_asked {
        return Err(FhirError::bad_request("a bulk export needs the header Prefer: respond-async"));
    }
    let types = requested_types(q.as_deref())?;
    let who = &caller.principal;
    let transaction_time = now_instant(&state);
    let base_url = base(&state, &headers);
    // One NDJSON file per type, in the order of TYPES.
    let mut files: Vec<(&str, String, i64)> = types.iter().map(|t| (*t, String::new(), 0)).collect();
    let mut readable: Vec<_> = state.store.readable_patient_ids(who).await?.into_iter().collect();
    readable.sort_by_key(|p| p.to_string());
    for pid in &readable {
        // The door for each chart: recorded in the chart's access log like any read.
        let Ok(g) = state.store.open_chart(who, *pid, ChartAction::Read, "fhir.export", &ctx.audit()).await else {
            continue;
        };
        for (t, body, n) in &mut files {
            for v in chart_resources(&state, &base_url, &g, t).await? {
                body.push_str(&v.to_string());
                body.push('\n');
                *n += 1;
            }
        }
    }
    let mut outputs = Vec::new();
    for (t, body, n) in files {
        if n > 0 {
            let stored = state.blobs.put(body.as_bytes()).await.map_err(FhirError::internal)?;
            outputs.push((t.to_string(), stored.sha256, n));
        }
    }
    let id = state.ids.uuid().hyphenated().to_string();
    let row = FhirExportRow {
        id: id.clone(),
        request: format!(
            "{}/Patient/$export{}",
            base(&state, &headers),
            q.map(|q| format!("?{q}")).unwrap_or_default()
        ),
        transaction_time,
        outputs,
        patients: i64::try_from(readable.len()).unwrap_or(i64::MAX),
    };
    state.store.record_fhir_export(who, &row, &ctx.audit()).await?;
    let mut r = StatusCode::ACCEPTED.into_response();
    r.extensions_mut().insert(crate::view::Rendered);
    if let Ok(v) = HeaderValue::from_str(&format!("{}/$export-status/{id}", base(&state, &headers))) {
        r.headers_mut().insert(header::CONTENT_LOCATION, v);
    }
    Ok(r)
}

/// The resources of one type on a chart opened for the export (current versions).
async fn chart_resources(state: &AppState, base: &str, g: &ChartGrant, resource_type: &str) -> FhirResult<Vec<Value>> {
    let render = Render { grant: g, base };
    Ok(match resource_type {
        "Patient" => {
            let r = state.store.patient_record(g).await?;
            let ids = state.store.local_identifiers(&[g.patient()]).await?;
            vec![super::patient::to_resource(&r, &ids)]
        }
        "Observation" => super::observation::all_of_chart(state, base, g).await?,
        "MedicationRequest" => super::medication::resources_of(state, g).await?,
        "DocumentReference" => super::chart::all_entries(state, g, EntryKind::Document)
            .await?
            .iter()
            .filter_map(|e| super::document::document_reference(&render, e, ""))
            .collect(),
        "Communication" => super::chart::all_entries(state, g, EntryKind::Message)
            .await?
            .iter()
            .filter_map(|e| super::chart::communication(&render, e, ""))
            .collect(),
        "QuestionnaireResponse" => {
            super::symptoms::assessed(state, g).await?.iter().map(super::symptoms::questionnaire_response).collect()
        }
        "ServiceRequest" => super::letters::letters_of(state, std::slice::from_ref(g))
            .await?
            .iter()
            .filter(|(_, v)| v.summary.kind == LetterKind::Referral && v.summary.state != LetterState::Discarded)
            .filter_map(|(_, v)| super::letters::service_request(v))
            .collect(),
        "Composition" => {
            // Letters reference the site's pages (the document Bundle's own addresses).
            let site = base.strip_suffix(super::BASE_PATH).unwrap_or(base);
            let mut out = Vec::new();
            for (g, v) in super::letters::letters_of(state, std::slice::from_ref(g)).await? {
                if v.summary.state != LetterState::Discarded {
                    out.push(super::letters::composition(state, g, &v, site).await?);
                }
            }
            out
        }
        "Task" => match state.store.case_for(g).await? {
            Some(case) => case.tasks.iter().map(|t| super::task::task(g.patient(), &case, t)).collect(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    })
}

fn unknown_export(id: &str) -> FhirError {
    FhirError::new(
        StatusCode::NOT_FOUND,
        Issue::error(IssueType::NotFound, format!("export {} is not known", excerpt(id))),
    )
}

pub async fn status(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> FhirResult<Response> {
    let e = state.store.fhir_export(&caller.principal, &id).await?.ok_or_else(|| unknown_export(&id))?;
    let base = base(&state, &headers);
    let manifest = json!({
        "transactionTime": e.transaction_time,
        "request": e.request,
        "requiresAccessToken": true,
        "output": e.outputs.iter().enumerate().map(|(n, (t, _, count))| json!({
            "type": t,
            "url": format!("{base}/$export-file/{}/{n}", e.id),
            "count": count,
        })).collect::<Vec<_>>(),
        "error": [],
    });
    let mut r = json_response(StatusCode::OK, &manifest);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

pub async fn file(
    State(state): State<AppState>,
    caller: FhirCaller,
    Path((id, n)): Path<(String, String)>,
) -> FhirResult<Response> {
    let e = state.store.fhir_export(&caller.principal, &id).await?.ok_or_else(|| unknown_export(&id))?;
    let (_, sha, _) = n.parse::<usize>().ok().and_then(|n| e.outputs.get(n)).ok_or_else(|| unknown_export(&id))?;
    let bytes = state.blobs.get(sha).await.map_err(FhirError::internal)?;
    let mut r = (StatusCode::OK, bytes).into_response();
    r.extensions_mut().insert(crate::view::Rendered);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    Ok(r)
}

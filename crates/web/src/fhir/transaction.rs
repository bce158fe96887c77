//! Transactions (`POST [base]` with a `transaction` Bundle): every entry is checked
//! first (structure, the domain's rules, access, conditions, possible duplicates), then
//! all writes happen in one database transaction. One bad entry, a stale `ifMatch`, a
//! possible duplicate or a refused chart changes nothing, and the OperationOutcome names
//! the entry.
//!
//! Served entries: `POST Patient` (with `ifNoneExist`) and `PUT Patient/[id]` (with
//! `ifMatch`), as the CapabilityStatement says.

use super::{FhirCaller, FhirError, FhirResult, bundle_id, json_response, now_instant, require_json};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use std::collections::HashMap;
use time::Date;
use tsunagu_domain::PatientId;
use tsunagu_domain::patient::NewPatient;
use tsunagu_domain::policy::ChartAction;
use tsunagu_fhir::outcome::{Issue, IssueType};
use tsunagu_fhir::rest::{EntryResponse, transaction_response};
use tsunagu_store::{BatchError, PatientRecord, PatientWrite};

/// Entries in one transaction at most.
pub const MAX_ENTRIES: usize = 1000;

/// An entry checked and ready: a write, or a conditional create that found its match.
enum Planned {
    Write(usize),
    Exists(Box<PatientRecord>),
}

fn at(i: usize, mut e: FhirError) -> FhirError {
    let place = format!("Bundle.entry[{i}]");
    for issue in &mut e.issues {
        if issue.expression.is_empty() {
            issue.expression.push(place.clone());
        } else {
            for x in &mut issue.expression {
                *x = format!("{place}.resource.{}", x.strip_prefix("Patient.").unwrap_or(x));
            }
        }
    }
    e
}

fn entry_error(i: usize, diagnostics: impl Into<String>) -> FhirError {
    at(i, FhirError::bad_request(diagnostics))
}

pub async fn transaction(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    body: Bytes,
) -> FhirResult<Response> {
    require_json(&headers)?;
    let bundle: Value = serde_json::from_slice(&body).map_err(|e| {
        FhirError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(
                IssueType::Structure,
                format!("the body is not valid JSON (line {}, column {})", e.line(), e.column()),
            ),
        )
    })?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(FhirError::bad_request("POST [base] takes a Bundle"));
    }
    match bundle.get("type").and_then(Value::as_str) {
        Some("transaction") => {}
        Some("batch") => {
            return Err(FhirError::new(
                StatusCode::BAD_REQUEST,
                Issue::error(IssueType::NotSupported, "batch Bundles are not supported; send a transaction"),
            ));
        }
        _ => return Err(FhirError::bad_request("Bundle.type must be transaction")),
    }
    let entries = bundle.get("entry").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if entries.len() > MAX_ENTRIES {
        return Err(FhirError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Issue::error(IssueType::TooCostly, format!("more than {MAX_ENTRIES} entries; split the transaction")),
        ));
    }
    let who = &caller.principal;
    // The institution whose identifiers become the creates' local ids: read once.
    let institution = super::patient::org_code(&state, who).await?;
    let mut writes: Vec<PatientWrite> = Vec::new();
    let mut plan: Vec<Planned> = Vec::new();
    let mut updated_ids: Vec<PatientId> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let request = e.get("request").ok_or_else(|| entry_error(i, "entry.request is required in a transaction"))?;
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        let url = request.get("url").and_then(Value::as_str).unwrap_or("");
        let resource =
            e.get("resource").ok_or_else(|| entry_error(i, "entry.resource is required for POST and PUT"))?;
        let raw = serde_json::to_vec(resource).map_err(FhirError::internal)?;
        let pin = super::patient::parse_body(&raw).map_err(|err| at(i, err))?;
        match (method, url.split('/').collect::<Vec<_>>().as_slice()) {
            ("POST", ["Patient"]) => {
                if let Some(cond) = request.get("ifNoneExist").and_then(Value::as_str) {
                    let found = super::patient::conditional_matches(&state, &headers, who, cond)
                        .await
                        .map_err(|err| at(i, err))?;
                    match found.len() {
                        0 => {}
                        1 => {
                            if let Some(one) = found.into_iter().next() {
                                plan.push(Planned::Exists(Box::new(one)));
                            }
                            continue;
                        }
                        _ => {
                            return Err(at(
                                i,
                                FhirError::new(
                                    StatusCode::PRECONDITION_FAILED,
                                    Issue::error(
                                        IssueType::MultipleMatches,
                                        "ifNoneExist matches more than one patient",
                                    ),
                                ),
                            ));
                        }
                    }
                }
                let p = super::patient::new_patient(&state, &ctx, &pin, institution.as_deref())
                    .map_err(|err| at(i, err))?;
                plan.push(Planned::Write(writes.len()));
                writes.push(PatientWrite::Create(p));
            }
            ("PUT", ["Patient", id]) => {
                let pid: PatientId = id.parse().map_err(|_| at(i, FhirError::not_found("Patient", id)))?;
                let grant = state
                    .store
                    .open_chart(who, pid, ChartAction::Write, "fhir.transaction.update", &ctx.audit())
                    .await
                    .map_err(|err| at(i, FhirError::from_store(&ctx, err, "Patient", id)))?;
                if pin.id.as_deref() != Some(*id) {
                    return Err(entry_error(i, "Patient.id must be present and equal the id in request.url"));
                }
                if updated_ids.contains(&pid) {
                    return Err(entry_error(i, "the same patient is updated twice in one transaction"));
                }
                updated_ids.push(pid);
                let expected = match request.get("ifMatch").and_then(Value::as_str) {
                    None => None,
                    Some(t) => Some(
                        tsunagu_fhir::etag::parse_if_match(t).map(|n| i64::try_from(n).unwrap_or(i64::MAX)).map_err(
                            |err| at(i, FhirError { status: StatusCode::BAD_REQUEST, issues: vec![err.to_issue()] }),
                        )?,
                    ),
                };
                let p = super::patient::new_patient(&state, &ctx, &pin, None).map_err(|err| at(i, err))?;
                plan.push(Planned::Write(writes.len()));
                writes.push(PatientWrite::Update { grant, expected, patient: p });
            }
            _ => {
                return Err(at(
                    i,
                    FhirError::new(
                        StatusCode::BAD_REQUEST,
                        Issue::error(
                            IssueType::NotSupported,
                            "only POST Patient and PUT Patient/[id] are served in a transaction",
                        ),
                    ),
                ));
            }
        }
    }
    // Which Bundle entry each write came from (writes were planned in entry order).
    let write_entries: Vec<usize> =
        plan.iter().enumerate().filter_map(|(e, p)| matches!(p, Planned::Write(_)).then_some(e)).collect();
    let entry_of = |write: usize| write_entries.get(write).copied().unwrap_or(0);
    refuse_duplicates(&state, who, &writes, entry_of).await?;
    let done = match state.store.write_patients(who, &writes, &ctx.audit()).await {
        Ok(d) => d,
        Err(f) => {
            return Err(at(
                entry_of(f.index),
                match f.error {
                    BatchError::Stale { current } => {
                        let expected = match writes.get(f.index) {
                            Some(PatientWrite::Update { expected, .. }) => expected.unwrap_or(0),
                            _ => 0,
                        };
                        FhirError::new(
                            StatusCode::PRECONDITION_FAILED,
                            tsunagu_fhir::outcome::conflict_version(
                                u64::try_from(expected).unwrap_or(0),
                                u64::try_from(current).unwrap_or(0),
                            ),
                        )
                    }
                    BatchError::Store(e) => FhirError::from_store(&ctx, e, "Patient", "entry"),
                },
            ));
        }
    };
    // The responses say what was written: no read of the patients back.
    let mut responses = Vec::with_capacity(plan.len());
    for p in &plan {
        let (status, id, version, recorded_at) = match p {
            Planned::Exists(r) => ("200 OK", r.id, r.version, r.recorded_at.clone()),
            Planned::Write(w) => match done.get(*w) {
                Some(d) => (if d.created { "201 Created" } else { "200 OK" }, d.id, d.version, d.recorded_at.clone()),
                None => return Err(FhirError::internal("a planned write has no result")),
            },
        };
        responses.push(EntryResponse {
            status: status.to_string(),
            location: Some(format!("Patient/{id}/_history/{version}")),
            etag: Some(tsunagu_fhir::etag::format_etag(u64::try_from(version).unwrap_or(0))),
            last_modified: Some(recorded_at),
            resource: None,
        });
    }
    let b = transaction_response(&bundle_id(&state), &now_instant(&state), &responses);
    Ok(json_response(StatusCode::OK, &b))
}

/// Possible duplicates stop a transaction's create, as they stop a single create: a
/// patient the caller may see born the same day with the same kana or kanji name, or an
/// earlier create of the same Bundle that is (otherwise two copies of one person sent
/// together would both be registered). Looked up for all the creates at once.
async fn refuse_duplicates(
    state: &AppState,
    who: &tsunagu_domain::policy::Principal,
    writes: &[PatientWrite],
    entry_of: impl Fn(usize) -> usize,
) -> FhirResult<()> {
    let creates: Vec<(usize, &NewPatient)> = writes
        .iter()
        .enumerate()
        .filter_map(|(w, write)| match write {
            PatientWrite::Create(p) => Some((entry_of(w), p)),
            PatientWrite::Update { .. } => None,
        })
        .collect();
    // (birth date, which name, its search key) → the first entry with it.
    let mut earlier: HashMap<(Date, &str, String), usize> = HashMap::new();
    for (entry, p) in &creates {
        let same = [(p.birth_date, "kana", p.kana_key()), (p.birth_date, "kanji", p.name_key())];
        if let Some(first) = same.iter().find_map(|k| earlier.get(k)) {
            return Err(at(
                *entry,
                FhirError::new(
                    StatusCode::CONFLICT,
                    Issue::error(
                        IssueType::Duplicate,
                        format!("possible duplicate of Bundle.entry[{first}] (same birth date and name)"),
                    ),
                ),
            ));
        }
        for k in same {
            earlier.entry(k).or_insert(*entry);
        }
    }
    let patients: Vec<&NewPatient> = creates.iter().map(|(_, p)| *p).collect();
    let found = state.store.possible_duplicates_of(who, &patients).await?;
    for ((entry, _), dups) in creates.iter().zip(&found) {
        if !dups.is_empty() {
            return Err(at(*entry, super::patient::duplicates_found(dups)));
        }
    }
    Ok(())
}

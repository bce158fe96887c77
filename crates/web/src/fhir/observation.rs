//! `Observation`: the lab results on a chart (imported from the facilities' SS-MIX2
//! storage), read by id and searched per patient. A search names its patient
//! (`patient` or `subject`); each named patient is opened through the access policy,
//! and one outside the caller's reach contributes nothing, exactly like one that does
//! not exist. `_include=Observation:patient` adds only patients so opened.

use super::{
    DEFAULT_COUNT, FhirCaller, FhirError, FhirResult, base, bundle_id, check_format, json_response, now_instant,
    search_options,
};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use std::collections::BTreeSet;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tsunagu_domain::PatientId;
use tsunagu_domain::policy::ChartAction;
use tsunagu_fhir::outcome::{Issue, IssueType, operation_outcome};
use tsunagu_fhir::rest::{Entry, LabObservation, OBSERVATION_CATEGORY, lab_code_system, lab_observation, searchset};
use tsunagu_fhir::search::{
    DateRange, Modifier as M, ParamDef, ParamType as T, Reference, SearchParam, SearchSpec, SearchValue, Summary,
    TokenSystem, parse_search,
};
use tsunagu_store::LabResultRow;

pub const PARAMS: &[ParamDef] = &[
    ParamDef::new("patient", T::Reference).with_modifiers(&[]).with_targets(&["Patient"]),
    ParamDef::new("subject", T::Reference).with_modifiers(&[]).with_targets(&["Patient"]),
    ParamDef::new("category", T::Token).with_modifiers(&[]),
    ParamDef::new("code", T::Token).with_modifiers(&[]),
    ParamDef::new("date", T::Date).with_modifiers(&[]),
];

pub const SPEC: SearchSpec<'static> = SearchSpec { resource_type: "Observation", params: PARAMS, revinclude: &[] };
pub const INCLUDES: &[&str] = &["Observation:patient", "Observation:subject"];
pub const PROFILE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Observation_LabResult";

pub fn to_resource(r: &LabResultRow) -> Value {
    let pid = r.patient_id.to_string();
    let org = r.org_id.to_string();
    lab_observation(&LabObservation {
        id: &r.id,
        patient_id: &pid,
        org_id: &org,
        org_name: &r.org_name,
        code: &r.code,
        code_system: &r.code_system,
        name: &r.name,
        value_num: r.value_num,
        value_text: &r.value_text,
        unit: &r.unit,
        reference_range: &r.reference_range,
        abnormal: &r.abnormal,
        observed_at: &r.observed_at,
        issued: &r.imported_at,
    })
}

pub async fn read(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let missing = || FhirError::not_found("Observation", &raw);
    let pid = state.store.lab_result_patient(&raw).await?.ok_or_else(missing)?;
    let g = state
        .store
        .open_chart(&caller.principal, pid, ChartAction::Read, "fhir.observation.read", &ctx.audit())
        .await
        .map_err(|_| missing())?;
    let row = state.store.lab_results(&g).await?.into_iter().find(|r| r.id == raw).ok_or_else(missing)?;
    Ok(json_response(StatusCode::OK, &to_resource(&row)))
}

pub async fn search(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let opts = search_options(&state, &headers);
    let req = parse_search(q.as_deref().unwrap_or(""), &SPEC, &opts)
        .map_err(|e| FhirError { status: StatusCode::BAD_REQUEST, issues: vec![e.to_issue()] })?;
    check_format(req.format.as_deref())?;
    // The patients named: each reference parameter narrows (ANDed), its values ORed.
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
            Issue::error(IssueType::TooCostly, "an Observation search must name its patient (patient= or subject=)"),
        ));
    };
    let mut rows: Vec<LabResultRow> = Vec::new();
    let mut opened: Vec<PatientId> = Vec::new();
    for id in &named {
        let Ok(pid) = id.parse::<PatientId>() else { continue };
        // Out of reach: recorded as a refusal, and absent from the result like a
        // patient that does not exist.
        let Ok(g) = state
            .store
            .open_chart(&caller.principal, pid, ChartAction::Read, "fhir.observation.search", &ctx.audit())
            .await
        else {
            continue;
        };
        opened.push(pid);
        rows.extend(state.store.lab_results(&g).await?.into_iter().filter(|r| {
            req.params.iter().filter(|p| p.name != "patient" && p.name != "subject").all(|p| matches_param(p, r))
        }));
    }
    // Newest first unless asked otherwise (`_sort=date` oldest first).
    let oldest_first = req.sort.iter().find(|k| k.name == "date").is_some_and(|k| !k.descending);
    rows.sort_by(|a, b| {
        let o = a.observed_at.cmp(&b.observed_at).then_with(|| a.id.cmp(&b.id));
        if oldest_first { o } else { o.reverse() }
    });
    let total = rows.len();
    let count = if req.summary == Some(Summary::Count) { 0 } else { req.count.unwrap_or(DEFAULT_COUNT) as usize };
    let offset = req.offset.unwrap_or(0) as usize;
    let base = base(&state, &headers);
    let mut entries: Vec<Entry> = rows
        .iter()
        .skip(offset)
        .take(count)
        .map(|r| Entry {
            full_url: format!("{base}/Observation/{}", r.id),
            resource: to_resource(r),
            search_mode: Some("match"),
            request: None,
            response: None,
        })
        .collect();
    let wants_patient =
        req.include.iter().any(|i| i.source == "Observation" && (i.param == "patient" || i.param == "subject"));
    if wants_patient {
        let shown: BTreeSet<PatientId> = rows.iter().skip(offset).take(count).map(|r| r.patient_id).collect();
        // Only charts opened above can be included.
        let ids: Vec<PatientId> = opened.iter().copied().filter(|p| shown.contains(p)).collect();
        let local = state.store.local_identifiers(&ids).await?;
        for pid in ids {
            let g = state
                .store
                .open_chart(&caller.principal, pid, ChartAction::Read, "fhir.observation.include", &ctx.audit())
                .await?;
            let r = state.store.patient_record(&g).await?;
            entries.push(Entry {
                full_url: format!("{base}/Patient/{pid}"),
                resource: super::patient::to_resource(&r, &local),
                search_mode: Some("include"),
                request: None,
                response: None,
            });
        }
    }
    let links = super::patient::paging_links(&format!("{base}/Observation"), &req, total, offset, count);
    let warnings = req.warnings();
    let outcome = (!warnings.is_empty()).then(|| operation_outcome(&warnings));
    let b = searchset(&bundle_id(&state), &now_instant(&state), Some(total), &links, &entries, outcome);
    Ok(json_response(StatusCode::OK, &b))
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

fn matches_param(p: &SearchParam, r: &LabResultRow) -> bool {
    p.values.iter().any(|v| match (p.name.as_str(), v) {
        ("category", SearchValue::Token(t)) => {
            let system_ok = match &t.system {
                TokenSystem::Any => true,
                TokenSystem::Is(s) => s == OBSERVATION_CATEGORY,
                TokenSystem::NoSystem => false,
            };
            system_ok && t.code.as_deref().is_none_or(|c| c == "laboratory")
        }
        ("code", SearchValue::Token(t)) => {
            let system_ok = match &t.system {
                TokenSystem::Any => true,
                TokenSystem::Is(s) => *s == lab_code_system(&r.code_system, &r.org_id.to_string()),
                TokenSystem::NoSystem => false,
            };
            system_ok && t.code.as_deref().is_none_or(|c| c == r.code)
        }
        ("date", SearchValue::Date(d)) => OffsetDateTime::parse(&r.observed_at, &Rfc3339)
            .ok()
            .and_then(DateRange::second)
            .is_some_and(|at| d.matches(&at)),
        _ => false,
    }) && p.modifier.is_none_or(|m| m != M::Missing)
}

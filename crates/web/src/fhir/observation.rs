//! `Observation`: the lab results on a chart (imported from the facilities' SS-MIX2
//! storage), read by id and searched per patient. A search names its patient
//! (`patient` or `subject`); each named patient is opened through the access policy,
//! and one outside the caller's reach contributes nothing, exactly like one that does
//! not exist. `_include=Observation:patient` adds only patients so opened.

use super::{FhirCaller, FhirError, FhirResult, base, json_response};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tsunagu_domain::PatientId;
use tsunagu_fhir::rest::{Entry, LabObservation, OBSERVATION_CATEGORY, lab_code_system, lab_observation};
use tsunagu_fhir::search::{
    DateRange, Modifier as M, ParamDef, ParamType as T, SearchParam, SearchSpec, SearchValue, TokenSystem,
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
    let owner = state.store.lab_result_patient(&raw).await?;
    let g = super::open_owning_chart(&state, &ctx, &caller.principal, owner, "fhir.observation.read", missing).await?;
    let row = state.store.lab_result(&g, &raw).await?.ok_or_else(missing)?;
    Ok(json_response(StatusCode::OK, &to_resource(&row)))
}

pub async fn search(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &SPEC)?;
    let grants = super::named_charts(&state, &ctx, &caller.principal, &req, "fhir.observation.search").await?;
    let mut rows: Vec<LabResultRow> = Vec::new();
    for g in &grants {
        rows.extend(state.store.lab_results(g).await?.into_iter().filter(|r| {
            req.params.iter().filter(|p| p.name != "patient" && p.name != "subject").all(|p| matches_param(p, r))
        }));
    }
    // Newest first unless asked otherwise (`_sort=date` oldest first).
    let oldest_first = req.sort.iter().find(|k| k.name == "date").is_some_and(|k| !k.descending);
    rows.sort_by(|a, b| {
        let o = a.observed_at.cmp(&b.observed_at).then_with(|| a.id.cmp(&b.id));
        if oldest_first { o } else { o.reverse() }
    });
    let base = base(&state, &headers);
    let page = super::Page::of(&req, rows.len());
    let shown: Vec<&LabResultRow> = rows.iter().skip(page.offset).take(page.count).collect();
    let mut entries: Vec<Entry> = shown.iter().map(|r| super::match_entry(&base, to_resource(r))).collect();
    let patients: Vec<PatientId> = shown.iter().map(|r| r.patient_id).collect();
    entries.extend(super::included_patients(&state, &base, &req, &grants, &patients, "Observation").await?);
    Ok(json_response(StatusCode::OK, &page.bundle(&state, &format!("{base}/Observation"), &req, &entries)))
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

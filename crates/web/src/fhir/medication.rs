//! `MedicationRequest`: the prescriptions on a chart (imported from the facilities'
//! SS-MIX2 storage), read by id and searched per patient, under the same rules as the
//! lab Observations: the search names its patients, each opened through the policy.

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
use tsunagu_fhir::rest::{Entry, Prescription, medication_request};
use tsunagu_fhir::search::{DateRange, ParamDef, ParamType as T, SearchParam, SearchSpec, SearchValue, TokenSystem};
use tsunagu_store::{ChartGrant, PrescriptionRow};

pub const PARAMS: &[ParamDef] = &[
    super::PATIENT_PARAM,
    super::SUBJECT_PARAM,
    ParamDef::new("code", T::Token).with_modifiers(&[]),
    ParamDef::new("status", T::Token).with_modifiers(&[]),
    ParamDef::new("authoredon", T::Date).with_modifiers(&[]),
];

pub const SPEC: SearchSpec<'static> =
    SearchSpec { resource_type: "MedicationRequest", params: PARAMS, revinclude: &[] };
pub const INCLUDES: &[&str] = &["MedicationRequest:patient", "MedicationRequest:subject"];
pub const PROFILE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_MedicationRequest";

pub fn to_resource(patient: PatientId, r: &PrescriptionRow, today: time::Date) -> Value {
    let pid = patient.to_string();
    // Still to be taken: no end date, or one not yet passed (dates are YYYY-MM-DD).
    let current = r.end_date.as_deref().is_none_or(|end| end >= today.to_string().as_str());
    medication_request(&Prescription {
        id: &r.id,
        patient_id: &pid,
        org_id: &r.org_id,
        org_name: &r.org_name,
        order_control: &r.order_control,
        order_number: &r.order_number,
        drug_code: &r.drug_code,
        drug_code_system: &r.drug_code_system,
        drug_name: &r.drug_name,
        dose: &r.dose,
        dose_unit: &r.dose_unit,
        route: &r.route,
        timing_text: &r.timing_text,
        instructions: &r.instructions,
        days: r.days,
        dispense_amount: &r.dispense_amount,
        dispense_unit: &r.dispense_unit,
        prescribed_at: &r.prescribed_at,
        prescriber_name: &r.prescriber_name,
        current,
    })
}

/// Every prescription on a chart, as resources.
pub async fn resources_of(state: &AppState, g: &ChartGrant) -> FhirResult<Vec<Value>> {
    let today = state.store.clock().today_jst();
    Ok(state.store.prescriptions(g).await?.iter().map(|r| to_resource(g.patient(), r, today)).collect())
}

pub async fn read(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let missing = || FhirError::not_found("MedicationRequest", &raw);
    let owner = state.store.patient_owning(tsunagu_store::Owned::Prescription, &raw).await?;
    let g = super::open_owning_chart(&state, &ctx, &caller.principal, owner, "fhir.medication.read", missing).await?;
    let pid = g.patient();
    let today = state.store.clock().today_jst();
    let row = state.store.prescription(&g, &raw).await?.ok_or_else(missing)?;
    Ok(json_response(StatusCode::OK, &to_resource(pid, &row, today)))
}

pub async fn search(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &SPEC)?;
    let grants = super::named_charts(&state, &ctx, &caller.principal, &req, "fhir.medication.search").await?;
    let mut found: Vec<(PatientId, Value, String)> = Vec::new();
    for g in &grants {
        for v in resources_of(&state, g).await? {
            let others = req.params.iter().filter(|p| p.name != "patient" && p.name != "subject");
            if others.clone().all(|p| matches_param(p, &v)) {
                let authored = v.pointer("/authoredOn").and_then(Value::as_str).unwrap_or_default().to_string();
                found.push((g.patient(), v, authored));
            }
        }
    }
    // Newest first (the chart's order), oldest first with `_sort=authoredon`.
    let oldest_first = req.sort.iter().find(|k| k.name == "authoredon").is_some_and(|k| !k.descending);
    found.sort_by(|a, b| if oldest_first { a.2.cmp(&b.2) } else { b.2.cmp(&a.2) });
    let base = base(&state, &headers);
    let page = super::Page::of(&req, found.len());
    let shown: Vec<&(PatientId, Value, String)> = found.iter().skip(page.offset).take(page.count).collect();
    let mut entries: Vec<Entry> = shown.iter().map(|(_, v, _)| super::match_entry(&base, v.clone())).collect();
    let patients: Vec<PatientId> = shown.iter().map(|(p, _, _)| *p).collect();
    entries.extend(super::included_patients(&state, &base, &req, &grants, &patients, "MedicationRequest").await?);
    Ok(json_response(StatusCode::OK, &page.bundle(&state, &format!("{base}/MedicationRequest"), &req, &entries)))
}

/// Matching on the resource as sent, so what is matched is what the client sees.
fn matches_param(p: &SearchParam, v: &Value) -> bool {
    p.values.iter().any(|value| match (p.name.as_str(), value) {
        ("code", SearchValue::Token(t)) => {
            v.pointer("/medicationCodeableConcept/coding").and_then(Value::as_array).is_some_and(|codings| {
                codings.iter().any(|c| {
                    let system_ok =
                        t.system == TokenSystem::Any || c["system"].as_str().is_some_and(|s| t.system.admits(s));
                    system_ok && t.code.as_deref().is_none_or(|code| c["code"].as_str() == Some(code))
                })
            })
        }
        ("status", SearchValue::Token(t)) => t.code.as_deref().is_some_and(|c| v["status"].as_str() == Some(c)),
        ("authoredon", SearchValue::Date(d)) => v["authoredOn"]
            .as_str()
            .and_then(|a| OffsetDateTime::parse(a, &Rfc3339).ok())
            .and_then(DateRange::second)
            .is_some_and(|at| d.matches(&at)),
        _ => false,
    })
}

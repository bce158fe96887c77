//! `Observation`: what is measured on a chart, from three sources: the lab results
//! imported from the facilities' SS-MIX2 storage (`laboratory`), the vital signs the
//! team records (`vital-signs`, pain in `survey`; see [`super::vitals`]) and the totals
//! of symptom assessments (`survey`; see [`super::symptoms`]). Read by id (with vread
//! and `_history`) and searched per patient. A search names its patient
//! (`patient` or `subject`); each named patient is opened through the access policy,
//! and one outside the caller's reach contributes nothing, exactly like one that does
//! not exist. `_include=Observation:patient` adds only patients so opened.

use super::entries::Render;
use super::vitals::{LOINC as VITALS_LOINC, VITAL_OBSERVATION};
use super::{FhirCaller, FhirError, FhirResult, base, json_response, resource_response};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tsunagu_domain::PatientId;
use tsunagu_domain::chart::EntryKind;
use tsunagu_fhir::rest::{Entry, LabObservation, OBSERVATION_CATEGORY, lab_code_system, lab_observation};
use tsunagu_fhir::search::{
    DateRange, Modifier as M, ParamDef, ParamType as T, SearchParam, SearchRequest, SearchSpec, SearchValue,
};
use tsunagu_store::{ChartGrant, LabResultRow, Owned};

pub const PARAMS: &[ParamDef] = &[
    super::PATIENT_PARAM,
    super::SUBJECT_PARAM,
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

/// Where an Observation id comes from.
enum Source {
    /// `<entry id>-<measurement>`: a vital-signs entry, versioned with the entry.
    Vitals,
    /// A lab result or an assessment's total: one version each.
    Single(Value, String),
}

/// Find what an Observation id names, through the chart that holds it (recorded as
/// `fhir.observation.<action>`). Vital signs are left to [`super::entries`].
async fn source(
    state: &AppState,
    ctx: &RequestCtx,
    caller: &FhirCaller,
    raw: &str,
    action: &str,
) -> FhirResult<Source> {
    let missing = || FhirError::not_found("Observation", raw);
    if super::vitals::split_id(raw).is_some() {
        return Ok(Source::Vitals);
    }
    let what = format!("fhir.observation.{action}");
    if let Some(owner) = state.store.patient_owning(Owned::LabResult, raw).await? {
        let g = super::open_owning_chart(state, ctx, &caller.principal, Some(owner), &what, missing).await?;
        let row = state.store.lab_result(&g, raw).await?.ok_or_else(missing)?;
        return Ok(Source::Single(to_resource(&row), row.imported_at.clone()));
    }
    let a = super::symptoms::find(state, ctx, caller, raw, &what, missing).await?;
    let v = super::symptoms::score_observation(&a).ok_or_else(missing)?;
    Ok(Source::Single(v, a.at()))
}

pub async fn read(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    match source(&state, &ctx, &caller, &raw, "read").await? {
        Source::Vitals => super::entries::read(&state, &ctx, &caller, &headers, &VITAL_OBSERVATION, &raw).await,
        Source::Single(v, at) => Ok(resource_response(StatusCode::OK, &v, 1, &at, None)),
    }
}

pub async fn vread(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    Path((raw, version)): Path<(String, String)>,
) -> FhirResult<Response> {
    match source(&state, &ctx, &caller, &raw, "vread").await? {
        Source::Vitals => {
            super::entries::vread(&state, &ctx, &caller, &headers, &VITAL_OBSERVATION, &raw, &version).await
        }
        Source::Single(v, at) if version == "1" => Ok(resource_response(StatusCode::OK, &v, 1, &at, None)),
        Source::Single(..) => Err(FhirError::not_found(
            "Observation",
            &format!("{raw}/_history/{}", tsunagu_fhir::outcome::excerpt(&version)),
        )),
    }
}

pub async fn history(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    match source(&state, &ctx, &caller, &raw, "history").await? {
        Source::Vitals => super::entries::history(&state, &ctx, &caller, &headers, &VITAL_OBSERVATION, &raw).await,
        Source::Single(v, at) => {
            let base = base(&state, &headers);
            let entries = [super::history_entry(&base, v, 1, &at)];
            Ok(super::history_response(&state, &format!("{base}/Observation/{raw}/_history"), &entries))
        }
    }
}

/// An Observation found by a search, with what its parameters match on.
struct Found {
    resource: Value,
    patient: PatientId,
    category: &'static str,
    /// (system, code) of `Observation.code`.
    codes: Vec<(String, String)>,
    at: Option<OffsetDateTime>,
}

impl Found {
    fn matches(&self, p: &SearchParam) -> bool {
        p.values.iter().any(|v| match (p.name.as_str(), v) {
            ("category", SearchValue::Token(t)) => {
                let system_ok = t.system.admits(OBSERVATION_CATEGORY);
                system_ok && t.code.as_deref().is_none_or(|c| c == self.category)
            }
            ("code", SearchValue::Token(t)) => self.codes.iter().any(|(system, code)| {
                let system_ok = t.system.admits(system);
                system_ok && t.code.as_deref().is_none_or(|c| c == code)
            }),
            ("date", SearchValue::Date(d)) => self.at.and_then(DateRange::second).is_some_and(|at| d.matches(&at)),
            _ => false,
        }) && p.modifier.is_none_or(|m| m != M::Missing)
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The categories a search asks for (every one when it names none), so that a search
/// of lab results does not read the vital signs.
fn wanted_categories(req: &SearchRequest) -> Vec<&'static str> {
    let all = ["laboratory", "vital-signs", "survey"];
    let named: Vec<&str> = req
        .params
        .iter()
        .filter(|p| p.name == "category")
        .flat_map(|p| p.values.iter())
        .filter_map(|v| match v {
            SearchValue::Token(t) => Some(t.code.as_deref()),
            _ => None,
        })
        .collect::<Option<Vec<&str>>>()
        .unwrap_or_default();
    if named.is_empty() { all.to_vec() } else { all.into_iter().filter(|c| named.contains(c)).collect() }
}

/// Every Observation of one chart in the wanted categories.
async fn chart_observations(
    state: &AppState,
    base: &str,
    g: &ChartGrant,
    categories: &[&str],
) -> FhirResult<Vec<Found>> {
    let mut out = Vec::new();
    if categories.contains(&"laboratory") {
        for r in state.store.lab_results(g).await? {
            out.push(Found {
                codes: vec![(lab_code_system(&r.code_system, &r.org_id.to_string()), r.code.clone())],
                at: parse_time(&r.observed_at),
                patient: r.patient_id,
                category: "laboratory",
                resource: to_resource(&r),
            });
        }
    }
    if categories.contains(&"vital-signs") || categories.contains(&"survey") {
        let render = Render { grant: g, base };
        for e in super::chart::all_entries(state, g, EntryKind::VitalSigns).await? {
            for (m, v) in super::vitals::observations(&render, &e) {
                if categories.contains(&m.category) {
                    out.push(Found {
                        codes: m.codes.iter().map(|(c, _)| (VITALS_LOINC.to_string(), (*c).to_string())).collect(),
                        at: parse_time(&e.entry_recorded_at),
                        patient: g.patient(),
                        category: m.category,
                        resource: v,
                    });
                }
            }
        }
    }
    if categories.contains(&"survey") {
        for a in super::symptoms::assessed(state, g).await? {
            let Some(v) = super::symptoms::score_observation(&a) else { continue };
            out.push(Found {
                codes: vec![(super::symptoms::INSTRUMENT_SYSTEM.to_string(), a.instrument.id.clone())],
                at: a.at_time(),
                patient: g.patient(),
                category: "survey",
                resource: v,
            });
        }
    }
    Ok(out)
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
    let base = base(&state, &headers);
    let categories = wanted_categories(&req);
    let mut found: Vec<Found> = Vec::new();
    for g in &grants {
        found.extend(chart_observations(&state, &base, g, &categories).await?.into_iter().filter(|f| {
            req.params.iter().filter(|p| p.name != "patient" && p.name != "subject").all(|p| f.matches(p))
        }));
    }
    // Newest first unless asked otherwise (`_sort=date` oldest first).
    let oldest_first = req.sort.iter().find(|k| k.name == "date").is_some_and(|k| !k.descending);
    found.sort_by(|a, b| {
        let o = a.at.cmp(&b.at).then_with(|| id_of(&a.resource).cmp(id_of(&b.resource)));
        if oldest_first { o } else { o.reverse() }
    });
    let page = super::Page::of(&req, found.len());
    let shown: Vec<Found> = found.into_iter().skip(page.offset).take(page.count).collect();
    let patients: Vec<PatientId> = shown.iter().map(|f| f.patient).collect();
    let mut entries: Vec<Entry> = shown.into_iter().map(|f| super::match_entry(&base, f.resource)).collect();
    entries.extend(super::included_patients(&state, &base, &req, &grants, &patients, "Observation").await?);
    Ok(json_response(StatusCode::OK, &page.bundle(&state, &format!("{base}/Observation"), &req, &entries)))
}

/// Every Observation of one chart, of every category (for the bulk export).
pub async fn all_of_chart(state: &AppState, base: &str, g: &ChartGrant) -> FhirResult<Vec<Value>> {
    let all = ["laboratory", "vital-signs", "survey"];
    Ok(chart_observations(state, base, g, &all).await?.into_iter().map(|f| f.resource).collect())
}

fn id_of(v: &Value) -> &str {
    v.get("id").and_then(Value::as_str).unwrap_or_default()
}

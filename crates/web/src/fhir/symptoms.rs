//! Symptom assessments on the chart as FHIR: each assessment is a
//! `QuestionnaireResponse` (every answer, against the instrument version it answered),
//! and, for an instrument with a total, an `Observation` of that score in the `survey`
//! category (same id), so a trend client finds it beside the vital signs. Assessments
//! are append-only: each has one version; one marked entered in error keeps its place
//! with that status.

use super::{FhirCaller, FhirError, FhirResult, resource_response};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tsunagu_domain::PatientId;
use tsunagu_domain::questionnaire::{Answer, Instrument};
use tsunagu_fhir::rest::OBSERVATION_CATEGORY;
use tsunagu_fhir::search::{DateRange, ParamDef, ParamType as T, SearchSpec, SearchValue, TokenSystem};
use tsunagu_store::{AssessmentRow, ChartGrant, Owned};

pub const INSTRUMENT_SYSTEM: &str = "urn:tsunagu:instrument";

pub const PARAMS: &[ParamDef] = &[
    super::PATIENT_PARAM,
    super::SUBJECT_PARAM,
    ParamDef::new("authored", T::Date).with_modifiers(&[]),
    ParamDef::new("status", T::Token).with_modifiers(&[]),
];
pub const SPEC: SearchSpec<'static> =
    SearchSpec { resource_type: "QuestionnaireResponse", params: PARAMS, revinclude: &[] };

/// An assessment with the instrument version it answered.
pub struct Assessed {
    pub patient: PatientId,
    pub row: AssessmentRow,
    pub instrument: Instrument,
}

impl Assessed {
    /// When it was assessed, as FHIR `dateTime` (the chart keeps Japan time to the minute).
    pub fn at(&self) -> String {
        format!("{}:00+09:00", self.row.assessed_at)
    }

    pub fn at_time(&self) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(&self.at(), &Rfc3339).ok()
    }

    fn entered_in_error(&self) -> bool {
        self.row.in_error.is_some()
    }
}

/// The assessments of a chart, each with its instrument version (read once per version).
pub async fn assessed(state: &AppState, g: &ChartGrant) -> FhirResult<Vec<Assessed>> {
    let rows = state.store.assessments(g).await?;
    let mut instruments: HashMap<(String, i64), Instrument> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let key = (row.instrument_id.clone(), row.instrument_version);
        let instrument = match instruments.get(&key) {
            Some(i) => i.clone(),
            None => {
                let i = state.store.instrument(&key.0, key.1).await?;
                instruments.insert(key, i.clone());
                i
            }
        };
        out.push(Assessed { patient: g.patient(), row, instrument });
    }
    Ok(out)
}

/// The questionnaire an assessment answered, as a canonical URL with its version.
fn questionnaire_url(a: &Assessed) -> String {
    format!("{INSTRUMENT_SYSTEM}:{}|{}", a.instrument.id, a.instrument.version)
}

pub fn questionnaire_response(a: &Assessed) -> Value {
    let items: Vec<Value> = a
        .instrument
        .items
        .iter()
        .filter_map(|item| {
            let answer = match a.row.answers.get(&item.key)? {
                Answer::Rating(n) => json!({ "valueInteger": n }),
                Answer::Text(t) if t.trim().is_empty() => return None,
                Answer::Text(t) => json!({ "valueString": t }),
            };
            Some(json!({ "linkId": item.key, "text": item.ja, "answer": [answer] }))
        })
        .collect();
    let mut v = json!({
        "resourceType": "QuestionnaireResponse",
        "id": a.row.id,
        "meta": { "versionId": "1" },
        "questionnaire": questionnaire_url(a),
        "status": if a.entered_in_error() { "entered-in-error" } else { "completed" },
        "subject": { "reference": format!("Patient/{}", a.patient) },
        "authored": a.at(),
        "author": { "display": format!("{} ({})", a.row.recorded_by_name, a.row.recorded_org_name) },
    });
    if let (false, Some(o)) = (items.is_empty(), v.as_object_mut()) {
        o.insert("item".into(), Value::Array(items));
    }
    v
}

/// The total score of an assessment as an Observation, for instruments with a total.
pub fn score_observation(a: &Assessed) -> Option<Value> {
    let score = a.row.score?;
    Some(json!({
        "resourceType": "Observation",
        "id": a.row.id,
        "meta": { "versionId": "1" },
        "status": if a.entered_in_error() { "entered-in-error" } else { "final" },
        "category": [ { "coding": [ { "system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey" } ] } ],
        "code": {
            "coding": [ { "system": INSTRUMENT_SYSTEM, "code": a.instrument.id, "display": a.instrument.title_ja } ],
            "text": a.instrument.title_ja,
        },
        "subject": { "reference": format!("Patient/{}", a.patient) },
        "effectiveDateTime": a.at(),
        "performer": [ { "display": format!("{} ({})", a.row.recorded_by_name, a.row.recorded_org_name) } ],
        "valueInteger": score,
        "derivedFrom": [ { "reference": format!("QuestionnaireResponse/{}", a.row.id) } ],
    }))
}

/// One assessment found by its id through the chart that holds it (recorded as `what`).
pub async fn find(
    state: &AppState,
    ctx: &RequestCtx,
    caller: &FhirCaller,
    id: &str,
    what: &str,
    missing: impl Fn() -> FhirError,
) -> FhirResult<Assessed> {
    let owner = state.store.patient_owning(Owned::SymptomAssessment, id).await?;
    let g = super::open_owning_chart(state, ctx, &caller.principal, owner, what, &missing).await?;
    assessed(state, &g).await?.into_iter().find(|a| a.row.id == id).ok_or_else(missing)
}

pub async fn read(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let missing = || FhirError::not_found("QuestionnaireResponse", &raw);
    let a = find(&state, &ctx, &caller, &raw, "fhir.questionnaireresponse.read", missing).await?;
    Ok(resource_response(StatusCode::OK, &questionnaire_response(&a), 1, &a.at(), None))
}

pub async fn search(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &SPEC)?;
    let grants =
        super::named_charts(&state, &ctx, &caller.principal, &req, "fhir.questionnaireresponse.search").await?;
    let mut found: Vec<(OffsetDateTime, Value)> = Vec::new();
    for g in &grants {
        for a in assessed(&state, g).await? {
            let Some(at) = a.at_time() else { continue };
            let status = if a.entered_in_error() { "entered-in-error" } else { "completed" };
            let wanted = req.params.iter().filter(|p| p.name == "authored" || p.name == "status").all(|p| {
                p.values.iter().any(|v| match v {
                    SearchValue::Date(range) => DateRange::second(at).is_some_and(|t| range.matches(&t)),
                    SearchValue::Token(t) => {
                        matches!(t.system, TokenSystem::Any) && t.code.as_deref().is_none_or(|c| c == status)
                    }
                    _ => false,
                })
            });
            if wanted {
                found.push((at, questionnaire_response(&a)));
            }
        }
    }
    // Newest first, like the chart's symptom page.
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    let found = found.into_iter().map(|(_, v)| v).collect();
    Ok(super::respond_matches(&state, &headers, &req, "QuestionnaireResponse", found))
}

//! The hospital-to-home checklist as FHIR `Task`: each task of the patient's latest
//! transition case (the one the chart's transition page shows), with who owns it, when
//! it is due and whether it is done. Found through the chart door like every patient
//! resource; a task on a chart out of reach answers exactly like one that does not
//! exist.

use super::{FhirCaller, FhirError, FhirResult, json_response};
use crate::i18n::{Locale, Tr};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use tsunagu_domain::PatientId;
use tsunagu_fhir::search::{ParamDef, ParamType as T, Reference, SearchParam, SearchSpec, SearchValue};
use tsunagu_store::{CaseView, TaskRow};

pub const PARAMS: &[ParamDef] = &[
    super::PATIENT_PARAM,
    super::SUBJECT_PARAM,
    ParamDef::new("status", T::Token).with_modifiers(&[]),
    ParamDef::new("owner", T::Reference).with_modifiers(&[]).with_targets(&["Practitioner"]),
];
pub const SPEC: SearchSpec<'static> = SearchSpec { resource_type: "Task", params: PARAMS, revinclude: &[] };

/// The checklist's task keys (`task-home-physician`, ...).
const TASK_CODE_SYSTEM: &str = "urn:tsunagu:transition-task";
const TASK_STATUS_SYSTEM: &str = "http://hl7.org/fhir/task-status";

/// Done is `completed`; anything else is still asked of its owner (`requested`): the
/// checklist records done and reopened, not work under way.
pub fn status(t: &TaskRow) -> &'static str {
    if t.done.is_some() { "completed" } else { "requested" }
}

/// One checklist task. The description is the task's Japanese name in the catalogue,
/// as the transition page shows it.
pub fn task(patient: PatientId, case: &CaseView, t: &TaskRow) -> Value {
    let label = Tr::new(Locale::Ja).t(&t.key);
    let mut r = json!({
        "resourceType": "Task",
        "id": t.id,
        "status": status(t),
        "intent": "order",
        "code": { "coding": [ { "system": TASK_CODE_SYSTEM, "code": t.key, "display": label } ], "text": label },
        "description": label,
        "for": { "reference": format!("Patient/{patient}") },
        "authoredOn": case.created_at,
        "requester": { "reference": format!("Organization/{}", case.hospital_org_id), "display": case.hospital_name },
        "owner": { "reference": format!("Practitioner/{}", t.owner_user_id), "display": t.owner_name },
        "restriction": { "period": { "end": t.due_date.to_string() } },
    });
    if let (Some((at, by)), Some(o)) = (&t.done, r.as_object_mut()) {
        o.insert("executionPeriod".into(), json!({ "end": at }));
        o.insert("note".into(), json!([ { "text": format!("完了: {by}"), "time": at } ]));
    }
    // Done, reopened or handed to someone else: the task last changed then.
    if let (Some(e), Some(o)) = (t.events.last(), r.as_object_mut()) {
        o.insert("lastModified".into(), json!(e.at));
    }
    r
}

pub async fn read(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let missing = || FhirError::not_found("Task", &raw);
    let owner = state.store.patient_owning(tsunagu_store::Owned::TransitionTask, &raw).await?;
    let g = super::open_owning_chart(&state, &ctx, &caller.principal, owner, "fhir.task.read", missing).await?;
    // Only the latest case's tasks are on the transition page; an older case's answer
    // as missing too.
    let case = state.store.case_for(&g).await?.ok_or_else(missing)?;
    let t = case.tasks.iter().find(|t| t.id == raw).ok_or_else(missing)?;
    Ok(json_response(StatusCode::OK, &task(g.patient(), &case, t)))
}

pub async fn search(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &SPEC)?;
    let grants = super::named_charts(&state, &ctx, &caller.principal, &req, "fhir.task.search").await?;
    let mut found = Vec::new();
    for g in &grants {
        let Some(case) = state.store.case_for(g).await? else { continue };
        found.extend(
            case.tasks
                .iter()
                .filter(|t| {
                    req.params.iter().filter(|p| p.name != "patient" && p.name != "subject").all(|p| matches(p, t))
                })
                .map(|t| task(g.patient(), &case, t)),
        );
    }
    Ok(super::respond_matches(&state, &headers, &req, "Task", found))
}

fn matches(p: &SearchParam, t: &TaskRow) -> bool {
    p.values.iter().any(|v| match (p.name.as_str(), v) {
        ("status", SearchValue::Token(tok)) => {
            let system_ok = tok.system.admits(TASK_STATUS_SYSTEM);
            system_ok && tok.code.as_deref() == Some(status(t))
        }
        ("owner", SearchValue::Reference(Reference::Local { resource_type, id, .. })) => {
            resource_type.as_deref().is_none_or(|k| k == "Practitioner") && *id == t.owner_user_id.to_string()
        }
        ("owner", SearchValue::Reference(Reference::Absolute(url))) => {
            url.ends_with(&format!("/Practitioner/{}", t.owner_user_id))
        }
        _ => false,
    })
}

//! The chart's governance as FHIR: `CareTeam` (the organizations on a patient's team,
//! past members with the end of their period), `Consent` (the history of consent to
//! regional sharing) and `Organization` (the regional directory, not patient data).
//!
//! A patient's CareTeam has the patient's id; both it and Consent are found through the
//! chart door like every patient resource.

use super::{FhirCaller, FhirError, FhirResult, json_response};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use tsunagu_domain::PatientId;
use tsunagu_domain::patient::ConsentStatus;
use tsunagu_domain::policy::ChartAction;
use tsunagu_fhir::search::{ParamDef, ParamType as T, SearchSpec, SearchValue};
use tsunagu_store::{AccessLogRow, ChartGrant, ConsentRow, OrgRow, TeamMemberRow};

pub const PATIENT_PARAMS: &[ParamDef] = &[super::PATIENT_PARAM, super::SUBJECT_PARAM];
pub const CARE_TEAM_SPEC: SearchSpec<'static> =
    SearchSpec { resource_type: "CareTeam", params: PATIENT_PARAMS, revinclude: &[] };
pub const CONSENT_PARAMS: &[ParamDef] = &[super::PATIENT_PARAM];
pub const CONSENT_SPEC: SearchSpec<'static> =
    SearchSpec { resource_type: "Consent", params: CONSENT_PARAMS, revinclude: &[] };
pub const AUDIT_PARAMS: &[ParamDef] = &[super::PATIENT_PARAM];
pub const AUDIT_SPEC: SearchSpec<'static> =
    SearchSpec { resource_type: "AuditEvent", params: AUDIT_PARAMS, revinclude: &[] };
/// The newest access-log records a search returns at most.
pub const AUDIT_LIMIT: i64 = 1000;
pub const ORGANIZATION_PARAMS: &[ParamDef] = &[
    ParamDef::new("_id", T::Token).with_modifiers(&[]),
    ParamDef::new("identifier", T::Token).with_modifiers(&[]),
    ParamDef::new("name", T::String).with_modifiers(&[]),
];
pub const ORGANIZATION_SPEC: SearchSpec<'static> =
    SearchSpec { resource_type: "Organization", params: ORGANIZATION_PARAMS, revinclude: &[] };

const TEAM_ROLE_SYSTEM: &str = "urn:tsunagu:team-role";
const INSTITUTION_SYSTEM: &str = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";

/// One CareTeam per patient: every organization that was or is on the team.
pub fn care_team(patient: PatientId, owner: &str, members: &[TeamMemberRow]) -> Value {
    let participants: Vec<Value> = members
        .iter()
        .map(|m| {
            let period = match &m.ended_at {
                Some(end) => json!({ "start": m.since, "end": end }),
                None => json!({ "start": m.since }),
            };
            json!({
                "role": [ { "coding": [ { "system": TEAM_ROLE_SYSTEM, "code": m.role.as_str() } ] } ],
                "member": { "reference": format!("Organization/{}", m.org_id), "display": m.org_name },
                "period": period,
            })
        })
        .collect();
    json!({
        "resourceType": "CareTeam",
        "id": patient.to_string(),
        "status": "active",
        "name": "在宅ケアチーム",
        "subject": { "reference": format!("Patient/{patient}") },
        "participant": participants,
        "managingOrganization": [ { "reference": format!("Organization/{owner}") } ],
    })
}

/// The consent history, newest first: only the newest is in force.
pub fn consents(patient: PatientId, rows: &[ConsentRow]) -> Vec<Value> {
    rows.iter()
        .enumerate()
        .map(|(i, c)| {
            let in_force = i == 0;
            let status = match (in_force, c.status) {
                (true, ConsentStatus::Given) => "active",
                (true, ConsentStatus::NotRecorded) => "proposed",
                _ => "inactive",
            };
            let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("urn:tsunagu:consent:{patient}:{}", c.recorded_at).as_bytes());
            let mut v = json!({
                "resourceType": "Consent",
                "id": id.to_string(),
                "status": status,
                "scope": { "coding": [ { "system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy" } ] },
                "category": [ { "coding": [ { "system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent" } ] } ],
                "patient": { "reference": format!("Patient/{patient}") },
                "dateTime": c.recorded_at,
                "policyRule": { "text": "地域医療連携ネットワークでの診療情報の共有" },
            });
            let provision = match c.status {
                ConsentStatus::Given => Some("permit"),
                ConsentStatus::Withdrawn => Some("deny"),
                ConsentStatus::NotRecorded => None,
            };
            if let (Some(kind), Some(o)) = (provision, v.as_object_mut()) {
                o.insert("provision".into(), json!({ "type": kind }));
            }
            v
        })
        .collect()
}

pub fn organization(o: &OrgRow) -> Value {
    tsunagu_fhir::rest::organization_resource(&tsunagu_fhir::OrgInfo {
        id: o.id.to_string(),
        name: o.name.clone(),
        institution_code: o.code.clone(),
        postal_code: o.postal_code.clone(),
        address: o.address.clone(),
        phone: o.phone.clone(),
    })
}

async fn care_team_of(state: &AppState, g: &ChartGrant) -> FhirResult<Value> {
    let owner = state.store.patient(g).await?.owner_org_id.to_string();
    Ok(care_team(g.patient(), &owner, &state.store.team(g).await?))
}

pub async fn read_care_team(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let missing = || FhirError::not_found("CareTeam", &raw);
    let pid: PatientId = raw.parse().map_err(|_| missing())?;
    let g = state
        .store
        .open_chart(&caller.principal, pid, ChartAction::Read, "fhir.careteam.read", &ctx.audit())
        .await
        .map_err(|_| missing())?;
    Ok(json_response(StatusCode::OK, &care_team_of(&state, &g).await?))
}

pub async fn search_care_team(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &CARE_TEAM_SPEC)?;
    let grants = super::named_charts(&state, &ctx, &caller.principal, &req, "fhir.careteam.search").await?;
    let mut found = Vec::new();
    for g in &grants {
        found.push(care_team_of(&state, g).await?);
    }
    Ok(super::respond_matches(&state, &headers, &req, "CareTeam", found))
}

pub async fn search_consent(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &CONSENT_SPEC)?;
    let grants = super::named_charts(&state, &ctx, &caller.principal, &req, "fhir.consent.search").await?;
    let mut found = Vec::new();
    for g in &grants {
        found.extend(consents(g.patient(), &state.store.consents(g).await?));
    }
    Ok(super::respond_matches(&state, &headers, &req, "Consent", found))
}

/// Organizations are the regional directory: any caller may read them (as the
/// directory page), and no patient is named.
pub async fn read_organization(
    State(state): State<AppState>,
    _caller: FhirCaller,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let missing = || FhirError::not_found("Organization", &raw);
    let id = raw.parse().map_err(|_| missing())?;
    let o = state.store.get_org(id).await.map_err(|_| missing())?;
    Ok(json_response(StatusCode::OK, &organization(&o)))
}

pub async fn search_organization(
    State(state): State<AppState>,
    _caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &ORGANIZATION_SPEC)?;
    let orgs = state.store.list_orgs().await?;
    let found: Vec<Value> = orgs
        .iter()
        .filter(|o| {
            req.params.iter().all(|p| {
                p.values.iter().any(|v| match (p.name.as_str(), v) {
                    ("_id", SearchValue::Token(t)) => t.code.as_deref() == Some(o.id.to_string().as_str()),
                    ("identifier", SearchValue::Token(t)) => {
                        let system_ok = t.system.admits(INSTITUTION_SYSTEM);
                        system_ok && o.code.is_some() && t.code.as_deref().is_none_or(|c| o.code.as_deref() == Some(c))
                    }
                    ("name", SearchValue::String(s)) => {
                        let k = tsunagu_domain::kana::search_key(s);
                        tsunagu_domain::kana::search_key(&o.name).contains(&k)
                            || tsunagu_domain::kana::search_key(&o.name_kana).starts_with(&k)
                    }
                    _ => false,
                })
            })
        })
        .map(organization)
        .collect();
    Ok(super::respond_matches(&state, &headers, &req, "Organization", found))
}

/// One line of a chart's access history as an AuditEvent (from the audit chain).
pub fn audit_event(patient: PatientId, n: usize, a: &AccessLogRow) -> Value {
    let who = match (&a.user_name, &a.org_name) {
        (Some(u), Some(o)) => format!("{u} ({o})"),
        (Some(u), None) => u.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => "tsunagu".to_string(),
    };
    // Reads are R, registrations C, everything else (writes, amendments) U... as far
    // as the action's name tells.
    let action = if a.action.contains("read") || a.action.contains("search") || a.action.contains("export") {
        "R"
    } else if a.action.contains("register") || a.action.contains("create") || a.action.contains("add") {
        "C"
    } else {
        "U"
    };
    let id =
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("urn:tsunagu:audit:{patient}:{}:{n}", a.at).as_bytes());
    json!({
        "resourceType": "AuditEvent",
        "id": id.to_string(),
        "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation" },
        "subtype": [ { "system": "urn:tsunagu:audit-action", "code": a.action } ],
        "action": action,
        "recorded": a.at,
        // 0 success; 4 minor failure: the policy refused.
        "outcome": if a.outcome == "refused" { "4" } else { "0" },
        "outcomeDesc": a.outcome,
        "agent": [ { "who": { "display": who }, "requestor": true } ],
        "source": { "observer": { "display": "tsunagu" } },
        "entity": [ { "what": { "reference": format!("Patient/{patient}") } } ],
    })
}

/// `AuditEvent?patient=`: the chart's access history, for those the policy lets read it
/// (as the chart's access-log page).
pub async fn search_audit_event(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &AUDIT_SPEC)?;
    let grants = super::named_charts_for(
        &state,
        &ctx,
        &caller.principal,
        &req,
        ChartAction::ReadAccessLog,
        "fhir.auditevent.search",
    )
    .await?;
    let mut found = Vec::new();
    for g in &grants {
        let log = state.store.access_log(g, AUDIT_LIMIT).await?;
        found.extend(log.iter().enumerate().map(|(n, a)| audit_event(g.patient(), n, a)));
    }
    Ok(super::respond_matches(&state, &headers, &req, "AuditEvent", found))
}

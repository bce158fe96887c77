//! The staff directory as FHIR: `Practitioner` (a person: name in kanji and kana,
//! profession) and `PractitionerRole` (a person's membership of an organization).
//!
//! Not patient data, but not public either: the pages show a person's colleagues
//! (the transition page's staff picker, the administrator's staff list) and nobody the
//! staff of other organizations, so a caller finds the active staff of the organization
//! its token acts for, and nobody else: another organization's person answers like one
//! who does not exist. Nothing about the account is shown (email, status, sign-ins,
//! administrator or operator flags). People named on a patient's letters and tasks
//! appear there by name (`display`), as on the pages.

use super::{FhirCaller, FhirError, FhirResult, json_response};
use crate::i18n::{Locale, Tr};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use tsunagu_domain::OrgId;
use tsunagu_fhir::search::{ParamDef, ParamType as T, Reference, SearchParam, SearchSpec, SearchValue};
use tsunagu_store::{ColleagueRow, OrgRow};

pub const PRACTITIONER_PARAMS: &[ParamDef] =
    &[ParamDef::new("_id", T::Token).with_modifiers(&[]), ParamDef::new("name", T::String).with_modifiers(&[])];
pub const PRACTITIONER_SPEC: SearchSpec<'static> =
    SearchSpec { resource_type: "Practitioner", params: PRACTITIONER_PARAMS, revinclude: &[] };
pub const ROLE_PARAMS: &[ParamDef] = &[
    ParamDef::new("_id", T::Token).with_modifiers(&[]),
    ParamDef::new("practitioner", T::Reference).with_modifiers(&[]).with_targets(&["Practitioner"]),
    ParamDef::new("organization", T::Reference).with_modifiers(&[]).with_targets(&["Organization"]),
];
pub const ROLE_SPEC: SearchSpec<'static> =
    SearchSpec { resource_type: "PractitionerRole", params: ROLE_PARAMS, revinclude: &[] };
pub const PRACTITIONER_PROFILE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Practitioner";

/// The profession's Japanese name from the catalogue (FHIR display text is Japanese,
/// whatever the caller's language).
fn profession_name(code: &str) -> String {
    Tr::new(Locale::Ja).label("profession", code)
}

pub fn practitioner(c: &ColleagueRow) -> Value {
    let code = c.profession.as_str();
    tsunagu_fhir::rest::practitioner_resource(
        &tsunagu_fhir::PersonInfo {
            id: c.user_id.to_string(),
            name: c.display_name.clone(),
            name_kana: c.name_kana.clone(),
            profession: code.to_string(),
        },
        &profession_name(code),
    )
}

/// A membership's id: stable, and naming neither the person nor the organization in
/// the clear (two UUIDs do not fit FHIR's 64-character id).
pub fn role_id(c: &ColleagueRow, org: OrgId) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("urn:tsunagu:membership:{}:{org}", c.user_id).as_bytes())
        .to_string()
}

pub fn practitioner_role(c: &ColleagueRow, org: &OrgRow) -> Value {
    let code = c.profession.as_str();
    let name = profession_name(code);
    json!({
        "resourceType": "PractitionerRole",
        "id": role_id(c, org.id),
        // Only active staff are listed: a suspended person is not in the directory.
        "active": true,
        "practitioner": { "reference": format!("Practitioner/{}", c.user_id), "display": c.display_name },
        "organization": { "reference": format!("Organization/{}", org.id), "display": org.name },
        "code": [ { "coding": [ { "system": tsunagu_fhir::rest::PROFESSION_SYSTEM, "code": code, "display": name } ], "text": name } ],
    })
}

/// The id a reference parameter names when it is of `kind` (`Practitioner/x`, `x`, or
/// an absolute URL ending so).
fn referenced_id(v: &SearchValue, kind: &str) -> Option<String> {
    match v {
        SearchValue::Reference(Reference::Local { resource_type, id, .. })
            if resource_type.as_deref().is_none_or(|t| t == kind) =>
        {
            Some(id.clone())
        }
        SearchValue::Reference(Reference::Absolute(url)) => {
            let tail = url.rsplit_once(&format!("/{kind}/")).map(|(_, t)| t)?;
            Some(tail.split('/').next().unwrap_or(tail).to_string())
        }
        _ => None,
    }
}

fn id_matches(p: &SearchParam, id: &str) -> bool {
    p.values.iter().any(|v| matches!(v, SearchValue::Token(t) if t.code.as_deref() == Some(id)))
}

/// Kana-aware as the Organization search: the kanji name contains the value, or the
/// kana name (in either script, at any width) starts with it, family or given.
fn name_matches(p: &SearchParam, c: &ColleagueRow) -> bool {
    use tsunagu_domain::kana::search_key;
    p.values.iter().any(|v| match v {
        SearchValue::String(s) => {
            let k = search_key(s);
            search_key(&c.display_name).contains(&k)
                || search_key(&c.name_kana).starts_with(&k)
                || c.name_kana.split_whitespace().any(|part| search_key(part).starts_with(&k))
        }
        _ => false,
    })
}

pub async fn read_practitioner(
    State(state): State<AppState>,
    caller: FhirCaller,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let staff = state.store.colleagues(caller.principal.org).await?;
    let c = staff
        .iter()
        .find(|c| c.user_id.to_string() == raw)
        .ok_or_else(|| FhirError::not_found("Practitioner", &raw))?;
    Ok(json_response(StatusCode::OK, &practitioner(c)))
}

pub async fn search_practitioner(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &PRACTITIONER_SPEC)?;
    let staff = state.store.colleagues(caller.principal.org).await?;
    let found: Vec<Value> = staff
        .iter()
        .filter(|c| {
            req.params.iter().all(|p| match p.name.as_str() {
                "_id" => id_matches(p, &c.user_id.to_string()),
                "name" => name_matches(p, c),
                _ => false,
            })
        })
        .map(practitioner)
        .collect();
    Ok(super::respond_matches(&state, &headers, &req, "Practitioner", found))
}

pub async fn read_practitioner_role(
    State(state): State<AppState>,
    caller: FhirCaller,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let org = state.store.get_org(caller.principal.org).await?;
    let staff = state.store.colleagues(org.id).await?;
    let c = staff
        .iter()
        .find(|c| role_id(c, org.id) == raw)
        .ok_or_else(|| FhirError::not_found("PractitionerRole", &raw))?;
    Ok(json_response(StatusCode::OK, &practitioner_role(c, &org)))
}

pub async fn search_practitioner_role(
    State(state): State<AppState>,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &ROLE_SPEC)?;
    let org = state.store.get_org(caller.principal.org).await?;
    let staff = state.store.colleagues(org.id).await?;
    let org_id = org.id.to_string();
    let found: Vec<Value> = staff
        .iter()
        .filter(|c| {
            let user = c.user_id.to_string();
            req.params.iter().all(|p| match p.name.as_str() {
                "_id" => id_matches(p, &role_id(c, org.id)),
                "practitioner" => p.values.iter().any(|v| referenced_id(v, "Practitioner").as_deref() == Some(&user)),
                "organization" => p.values.iter().any(|v| referenced_id(v, "Organization").as_deref() == Some(&org_id)),
                _ => false,
            })
        })
        .map(|c| practitioner_role(c, &org))
        .collect();
    Ok(super::respond_matches(&state, &headers, &req, "PractitionerRole", found))
}

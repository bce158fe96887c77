//! `GET [base]/metadata`: the CapabilityStatement, built from the same parameter
//! tables the handlers parse with, so it states exactly what is served.

use super::{base, json_response, now_instant};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tsunagu_fhir::rest::{ResourceCapability, capability_statement};

pub async fn metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let resources = [
        ResourceCapability {
            resource_type: "Patient",
            profile: Some(super::patient::PROFILE),
            interactions: &["read", "vread", "update", "history-instance", "create", "search-type"],
            versioning: "versioned",
            conditional_create: true,
            update_create: false,
            params: super::patient::PARAMS,
            include: &[],
            revinclude: &[],
            operations: &[("export", super::export::DEFINITION)],
        },
        ResourceCapability {
            resource_type: "Observation",
            // Lab results follow JP Core's lab profile; vital signs and scores do not.
            profile: None,
            interactions: &["read", "vread", "history-instance", "search-type"],
            versioning: "versioned",
            conditional_create: false,
            update_create: false,
            params: super::observation::PARAMS,
            include: super::observation::INCLUDES,
            revinclude: &[],
            operations: &[],
        },
        ResourceCapability {
            resource_type: "MedicationRequest",
            profile: Some(super::medication::PROFILE),
            interactions: &["read", "search-type"],
            versioning: "no-version",
            conditional_create: false,
            update_create: false,
            params: super::medication::PARAMS,
            include: super::medication::INCLUDES,
            revinclude: &[],
            operations: &[],
        },
        ResourceCapability {
            resource_type: "CareTeam",
            profile: None,
            interactions: &["read", "search-type"],
            versioning: "no-version",
            conditional_create: false,
            update_create: false,
            params: super::team::PATIENT_PARAMS,
            include: &[],
            revinclude: &[],
            operations: &[],
        },
        ResourceCapability {
            resource_type: "Consent",
            profile: None,
            interactions: &["search-type"],
            versioning: "no-version",
            conditional_create: false,
            update_create: false,
            params: super::team::CONSENT_PARAMS,
            include: &[],
            revinclude: &[],
            operations: &[],
        },
        ResourceCapability {
            resource_type: "Communication",
            profile: None,
            interactions: &["read", "vread", "history-instance", "create", "search-type"],
            versioning: "versioned",
            conditional_create: false,
            update_create: false,
            params: super::chart::COMMUNICATION_PARAMS,
            include: &[],
            revinclude: &[],
            operations: &[],
        },
        ResourceCapability {
            resource_type: "DocumentReference",
            profile: None,
            interactions: &["read", "vread", "history-instance", "search-type"],
            versioning: "versioned",
            conditional_create: false,
            update_create: false,
            params: super::document::PARAMS,
            include: &[],
            revinclude: &[],
            operations: &[],
        },
        ResourceCapability {
            resource_type: "Binary",
            profile: None,
            interactions: &["read"],
            versioning: "no-version",
            conditional_create: false,
            update_create: false,
            params: &[],
            include: &[],
            revinclude: &[],
            operations: &[],
        },
        ResourceCapability {
            resource_type: "QuestionnaireResponse",
            profile: None,
            interactions: &["read", "search-type"],
            versioning: "no-version",
            conditional_create: false,
            update_create: false,
            params: super::symptoms::PARAMS,
            include: &[],
            revinclude: &[],
            operations: &[],
        },
        ResourceCapability {
            resource_type: "AuditEvent",
            profile: None,
            interactions: &["search-type"],
            versioning: "no-version",
            conditional_create: false,
            update_create: false,
            params: super::team::AUDIT_PARAMS,
            include: &[],
            revinclude: &[],
            operations: &[],
        },
        ResourceCapability {
            resource_type: "Organization",
            profile: Some("http://jpfhir.jp/fhir/core/StructureDefinition/JP_Organization"),
            interactions: &["read", "search-type"],
            versioning: "no-version",
            conditional_create: false,
            update_create: false,
            params: super::team::ORGANIZATION_PARAMS,
            include: &[],
            revinclude: &[],
            operations: &[],
        },
    ];
    let now = now_instant(&state);
    let v =
        capability_statement(&base(&state, &headers), env!("CARGO_PKG_VERSION"), &now, &resources, &["transaction"]);
    json_response(StatusCode::OK, &v)
}

//! The JSON API (`/api/v1`), for other systems and scripts. Bearer tokens from
//! `tsunagu token create`; the same policy and audit as the pages; errors as
//! `application/problem+json`.

use crate::auth::ApiCaller;
use crate::error::AppResult;
use crate::middleware::RequestCtx;
use crate::pages::patients::{SearchParams, patient_id};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tsunagu_domain::patient::{NewPatient, PatientForm};
use tsunagu_domain::policy::ChartAction;
use tsunagu_store::Registered;

/// A JSON reply with its own status; marked so the error frame keeps the body.
pub(crate) fn reply(status: StatusCode, v: Value) -> Response {
    (status, axum::Extension(crate::view::Rendered), Json(v)).into_response()
}

pub async fn me(State(state): State<AppState>, caller: ApiCaller) -> AppResult<Json<Value>> {
    let user = state.store.user_by_id(caller.principal.user).await?;
    let org = state.store.get_org(caller.principal.org).await?;
    Ok(Json(json!({
        "user": { "id": user.id, "email": user.email, "name": user.display_name, "profession": user.profession },
        "organization": { "id": org.id, "name": org.name, "kind": org.kind, "code": org.code },
    })))
}

pub async fn search_patients(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Query(p): Query<SearchParams>,
) -> AppResult<Json<Value>> {
    let q = p.to_query()?;
    let found = state.store.search_patients(&caller.principal, &q, &ctx.audit()).await?;
    Ok(Json(json!({ "patients": found })))
}

#[derive(Deserialize)]
pub struct RegisterBody {
    #[serde(flatten)]
    pub patient: PatientForm,
    #[serde(default)]
    pub confirm_new: bool,
}

/// 201 with the new id, or 409 with the possible duplicates the caller may see.
pub async fn register_patient(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Json(b): Json<RegisterBody>,
) -> AppResult<Response> {
    let p = NewPatient::parse(&b.patient, state.store.clock().today_jst())?;
    match state.store.register_patient(&caller.principal, &p, b.confirm_new, &ctx.audit()).await? {
        Registered::Created(id) => Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response()),
        Registered::PossibleDuplicates(d) => Ok(reply(
            StatusCode::CONFLICT,
            json!({ "title": ctx.tr().t("patient-duplicates-title"), "possible_duplicates": d }),
        )),
    }
}

pub async fn patient(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path(raw): Path<String>,
) -> AppResult<Json<Value>> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Read, "chart.read", &ctx.audit()).await?;
    Ok(Json(json!({
        "patient": state.store.patient(&g).await?,
        "identifiers": state.store.identifiers(&g).await?,
        "key_persons": state.store.key_persons(&g).await?,
        "consents": state.store.consents(&g).await?,
        "team": state.store.team(&g).await?,
    })))
}

pub async fn team(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path(raw): Path<String>,
) -> AppResult<Json<Value>> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Read, "team.read", &ctx.audit()).await?;
    Ok(Json(json!({ "team": state.store.team(&g).await? })))
}

pub async fn access_log(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path(raw): Path<String>,
) -> AppResult<Json<Value>> {
    let pid = patient_id(&raw)?;
    let g = state
        .store
        .open_chart(&caller.principal, pid, ChartAction::ReadAccessLog, "chart.access_log", &ctx.audit())
        .await?;
    Ok(Json(json!({ "access_log": state.store.access_log(&g, 500).await? })))
}

/// `GET /api/openapi.json`: the API as OpenAPI 3.1.
pub async fn openapi() -> Json<Value> {
    let problem = json!({ "$ref": "#/components/schemas/Problem" });
    let err = |d: &str| json!({ "description": d, "content": { "application/problem+json": { "schema": problem } } });
    let pid =
        json!({ "name": "patient", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } });
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": { "title": "tsunagu API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Regional shared care record. A patient outside the caller's reach answers exactly like a missing one (404)." },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Problem": { "type": "object", "required": ["title", "status"], "properties": {
                    "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
                    "request_id": { "type": "string" },
                    "errors": { "type": "array", "items": { "type": "object", "properties": { "field": { "type": "string" }, "message": { "type": "string" } } } } } },
                "PatientForm": { "type": "object", "required": ["family_name", "given_name", "family_kana", "given_kana", "sex", "birth_date"], "properties": {
                    "family_name": { "type": "string" }, "given_name": { "type": "string" },
                    "family_kana": { "type": "string", "description": "kana in any script or width" }, "given_kana": { "type": "string" },
                    "sex": { "type": "string", "enum": ["male", "female", "other", "unknown"] },
                    "birth_date": { "type": "string", "format": "date" }, "postal_code": { "type": "string" },
                    "address": { "type": "string" }, "phone": { "type": "string" }, "local_id": { "type": "string" },
                    "confirm_new": { "type": "boolean" } } }
            }
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/api/v1/me": { "get": { "summary": "The caller", "responses": { "200": { "description": "user and organization" }, "401": err("no valid token") } } },
            "/api/v1/patients": {
                "get": { "summary": "Search patients within reach",
                         "parameters": [
                            { "name": "q", "in": "query", "schema": { "type": "string" }, "description": "kana (any script/width) or kanji, partial" },
                            { "name": "birth_date", "in": "query", "schema": { "type": "string", "format": "date" } },
                            { "name": "local_id", "in": "query", "schema": { "type": "string" } }],
                         "responses": { "200": { "description": "matching patients" }, "401": err("no valid token"), "422": err("invalid parameter") } },
                "post": { "summary": "Register a patient (the caller's organization owns the chart)",
                          "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PatientForm" } } } },
                          "responses": { "201": { "description": "created" }, "409": { "description": "possible duplicates; resend with confirm_new" },
                                         "401": err("no valid token"), "422": err("invalid fields") } } },
            "/api/v1/patients/{patient}": { "get": { "summary": "A patient's registry record, team and consent", "parameters": [pid],
                          "responses": { "200": { "description": "the record" }, "404": err("missing or outside reach") } } },
            "/api/v1/patients/{patient}/team": { "get": { "summary": "The care team", "parameters": [pid],
                          "responses": { "200": { "description": "team members" }, "404": err("missing or outside reach") } } },
            "/api/v1/patients/{patient}/access-log": { "get": { "summary": "Who accessed the chart", "parameters": [pid],
                          "responses": { "200": { "description": "access history" }, "404": err("missing or outside reach") } } },
            "/api/v1/inbox": { "get": { "summary": "The caller's patients with new entries and mentions since last viewed",
                          "responses": { "200": { "description": "patients with unread and mention counts" }, "401": err("no valid token") } } },
            "/api/v1/patients/{patient}/entries": {
                "get": { "summary": "The timeline: current versions, newest first, keyset paged",
                         "parameters": [pid,
                            { "name": "org", "in": "query", "schema": { "type": "string", "format": "uuid" } },
                            { "name": "profession", "in": "query", "schema": { "type": "string" } },
                            { "name": "kind", "in": "query", "schema": { "type": "string", "enum": ["progress_note", "nursing_record", "vital_signs", "medication_list", "document", "message"] } },
                            { "name": "before_at", "in": "query", "schema": { "type": "string" }, "description": "from the previous page's next" },
                            { "name": "before_id", "in": "query", "schema": { "type": "string" } },
                            { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 500 } }],
                         "responses": { "200": { "description": "entries and the next cursor" }, "404": err("missing or outside reach") } },
                "post": { "summary": "Write an entry (not documents: use /documents)", "parameters": [pid],
                          "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["body"],
                              "properties": { "body": { "type": "object", "required": ["kind"], "description": "tagged by kind; see the entry kinds" },
                                              "mentions": { "type": "array", "items": { "type": "object" } } } } } } },
                          "responses": { "201": { "description": "the new version" }, "404": err("missing or outside reach"), "422": err("invalid entry") } } },
            "/api/v1/patients/{patient}/messages": { "post": { "summary": "Post to the patient's thread", "parameters": [pid],
                          "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["text"],
                              "properties": { "text": { "type": "string" }, "mentions": { "type": "array", "items": { "type": "object" } } } } } } },
                          "responses": { "201": { "description": "the message" }, "404": err("missing or outside reach"), "422": err("invalid message") } } },
            "/api/v1/patients/{patient}/entries/{entry}": { "get": { "summary": "Every version of an entry, oldest first",
                          "parameters": [pid, { "name": "entry", "in": "path", "required": true, "schema": { "type": "string" } }],
                          "responses": { "200": { "description": "versions" }, "404": err("missing or outside reach") } } },
            "/api/v1/patients/{patient}/entries/{entry}/corrections": { "post": { "summary": "Correct an entry: a new version; the old one stays",
                          "parameters": [pid, { "name": "entry", "in": "path", "required": true, "schema": { "type": "string" } }],
                          "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["version_id", "reason", "body"],
                              "properties": { "version_id": { "type": "string" }, "reason": { "type": "string" }, "body": { "type": "object" } } } } } },
                          "responses": { "201": { "description": "the new version" }, "404": err("missing or outside reach"), "409": err("stale version"), "422": err("invalid") } } },
            "/api/v1/patients/{patient}/entries/{entry}/entered-in-error": { "post": { "summary": "Mark an entry entered in error (it stays readable)",
                          "parameters": [pid, { "name": "entry", "in": "path", "required": true, "schema": { "type": "string" } }],
                          "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["reason"], "properties": { "reason": { "type": "string" } } } } } },
                          "responses": { "200": { "description": "marked" }, "404": err("missing or outside reach"), "422": err("invalid") } } },
            "/api/v1/patients/{patient}/documents": { "post": { "summary": "Upload a PDF, JPEG or PNG as a document entry (type told from content)",
                          "parameters": [pid,
                            { "name": "doc_type", "in": "query", "required": true, "schema": { "type": "string" } },
                            { "name": "title", "in": "query", "schema": { "type": "string" } },
                            { "name": "filename", "in": "query", "schema": { "type": "string" } },
                            { "name": "note", "in": "query", "schema": { "type": "string" } }],
                          "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
                          "responses": { "201": { "description": "the document entry" }, "404": err("missing or outside reach"), "413": err("too large"), "422": err("refused file") } } },
            "/api/v1/patients/{patient}/attachments/{attachment}": { "get": { "summary": "Download a stored file (hash-checked)",
                          "parameters": [pid, { "name": "attachment", "in": "path", "required": true, "schema": { "type": "string" } }],
                          "responses": { "200": { "description": "the bytes" }, "404": err("missing or outside reach") } } }
        }
    });
    if let (Some(paths), Value::Object(more)) =
        (doc.get_mut("paths").and_then(Value::as_object_mut), crate::api_letters::openapi_paths(&pid, &err))
    {
        paths.extend(more);
    }
    Json(doc)
}

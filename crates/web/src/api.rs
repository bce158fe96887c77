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

/// Pieces the OpenAPI document is built from, shared by the API modules. The document
/// is checked against the running server by schemathesis (`scripts/lib/schemathesis.sh`):
/// every request the schemas call invalid must be refused, every status and body the
/// server sends must be documented.
pub(crate) mod doc {
    use serde_json::{Value, json};

    /// A string with something besides white space in it. Handlers trim with
    /// `str::trim`, which removes exactly the Unicode White_Space characters listed here,
    /// so the pattern says precisely which strings are blank.
    pub const NOT_BLANK: &str = "[^\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

    /// How a value is written in JSON (an enum's variant name).
    pub fn wire_name<T: serde::Serialize>(v: T) -> String {
        serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }

    pub fn schema(name: &str) -> Value {
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    pub fn text() -> Value {
        json!({ "type": "string" })
    }

    pub fn not_blank(description: &str) -> Value {
        json!({ "type": "string", "pattern": NOT_BLANK, "description": description })
    }

    pub fn nullable(ty: &str) -> Value {
        json!({ "type": [ty, "null"] })
    }

    pub fn uuid() -> Value {
        json!({ "type": "string", "format": "uuid" })
    }

    pub fn array_of(items: Value) -> Value {
        json!({ "type": "array", "items": items })
    }

    /// An object whose every listed property is always present.
    pub fn object(properties: Value) -> Value {
        let required: Vec<String> = properties.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        json!({ "type": "object", "required": required, "properties": properties })
    }

    /// An error response: `application/problem+json`.
    pub fn problem(description: &str) -> Value {
        json!({ "description": description, "content": { "application/problem+json": { "schema": schema("Problem") } } })
    }

    /// A JSON response.
    pub fn ok(description: &str, body: Value) -> Value {
        json!({ "description": description, "content": { "application/json": { "schema": body } } })
    }

    /// A required JSON request body.
    pub fn body(s: Value) -> Value {
        json!({ "required": true, "content": { "application/json": { "schema": s } } })
    }

    pub fn path(name: &str, s: Value) -> Value {
        json!({ "name": name, "in": "path", "required": true, "schema": s })
    }

    pub fn query(name: &str, s: Value) -> Value {
        json!({ "name": name, "in": "query", "schema": s })
    }

    /// The `{patient}` path parameter. An id that is not a UUID answers 404 like any
    /// patient out of reach.
    pub fn patient() -> Value {
        path("patient", uuid())
    }

    pub const OUT_OF_REACH: &str = "missing or outside the caller's reach (the two look the same)";
    pub const NOT_ALLOWED: &str =
        "on the care team, but not allowed to do this (e.g. amend another organization's entry)";
}

fn patient_schemas() -> Value {
    use doc::*;
    let sex = json!({ "type": "string", "enum": ["male", "female", "other", "unknown"] });
    let date = json!({ "type": "string", "format": "date" });
    json!({
        "Problem": {
            "type": "object", "required": ["type", "title", "status", "request_id", "errors"],
            "description": "An error (RFC 9457): a message in the caller's language (Accept-Language), the fields at fault, the request id for the log. Nothing internal.",
            "properties": {
                "type": text(), "title": text(), "status": { "type": "integer", "minimum": 400, "maximum": 599 },
                "request_id": text(),
                "errors": array_of(object(json!({ "field": text(), "message": text() }))) } },
        "PatientForm": {
            "type": "object", "required": ["family_name", "given_name", "family_kana", "given_kana", "sex", "birth_date"],
            "description": "Names up to 50 characters; kana in any script or width (stored as katakana); a birth date not in the future; optional fields may be empty.",
            "properties": {
                "family_name": not_blank("kanji or as written"), "given_name": not_blank("kanji or as written"),
                "family_kana": not_blank("kana in any script or width"), "given_kana": not_blank("kana in any script or width"),
                "sex": sex, "birth_date": date, "postal_code": text(), "address": text(), "phone": text(),
                "local_id": { "type": "string", "description": "the caller's organization's patient number: letters, digits, - and _, up to 40" },
                "confirm_new": { "type": "boolean", "description": "register although possible duplicates were shown" } } },
        "PatientSummary": object(json!({
            "id": uuid(), "family_name": text(), "given_name": text(), "family_kana": text(), "given_kana": text(),
            "sex": sex, "birth_date": date, "owner_org_name": text(), "local_id": nullable("string"), "is_owner": { "type": "boolean" } })),
        "Patient": object(json!({
            "id": uuid(), "owner_org_id": uuid(), "owner_org_name": text(), "family_name": text(), "given_name": text(),
            "family_kana": text(), "given_kana": text(), "sex": sex, "birth_date": date, "postal_code": nullable("string"),
            "address": nullable("string"), "phone": nullable("string"), "consent": text(), "created_at": text() })),
        "TeamMember": object(json!({
            "id": text(), "org_id": uuid(), "org_name": text(), "org_kind": text(), "org_phone": nullable("string"),
            "org_night_phone": nullable("string"), "role": text(), "since": text(), "added_by": text(),
            "ended_at": nullable("string"), "end_reason": nullable("string") })),
    })
}

fn patient_paths() -> Value {
    use doc::*;
    let pid = patient();
    json!({
        "/api/v1/me": { "get": { "summary": "The caller",
            "responses": { "200": ok("user and organization", object(json!({
                "user": object(json!({ "id": uuid(), "email": text(), "name": text(), "profession": text() })),
                "organization": object(json!({ "id": uuid(), "name": text(), "kind": text(), "code": nullable("string") })) }))) } } },
        "/api/v1/patients": {
            "get": { "summary": "Search patients within reach (at most 50)",
                     "parameters": [
                        query("q", json!({ "type": "string", "description": "kana (any script/width) or kanji, partial" })),
                        query("birth_date", json!({ "anyOf": [{ "type": "string", "format": "date" }, { "const": "" }], "description": "empty: any" })),
                        query("local_id", json!({ "type": "string", "description": "the caller's organization's patient number, exact" }))],
                     "responses": { "200": ok("matching patients", object(json!({ "patients": array_of(schema("PatientSummary")) }))) } },
            "post": { "summary": "Register a patient (the caller's organization owns the chart)",
                      "requestBody": body(schema("PatientForm")),
                      "responses": {
                          "201": ok("created", object(json!({ "id": uuid() }))),
                          "409": { "description": "possible duplicates (resend with confirm_new), or the local id is taken (a problem naming local_id)",
                                   "content": {
                                       "application/json": { "schema": object(json!({ "title": text(), "possible_duplicates": array_of(schema("PatientSummary")) })) },
                                       "application/problem+json": { "schema": schema("Problem") } } } } } },
        "/api/v1/patients/{patient}": { "get": { "summary": "A patient's registry record, team and consent", "parameters": [pid],
            "responses": { "200": ok("the record", object(json!({
                "patient": schema("Patient"),
                "identifiers": array_of(object(json!({ "org_id": uuid(), "org_name": text(), "local_id": text() }))),
                "key_persons": array_of(object(json!({ "name": text(), "relation": text(), "phone": nullable("string"), "note": nullable("string") }))),
                "consents": array_of(object(json!({ "status": text(), "obtained_by": nullable("string"), "note": nullable("string"), "recorded_by": text(), "recorded_at": text() }))),
                "team": array_of(schema("TeamMember")) }))) } } },
        "/api/v1/patients/{patient}/team": { "get": { "summary": "The care team", "parameters": [pid],
            "responses": { "200": ok("team members", object(json!({ "team": array_of(schema("TeamMember")) }))) } } },
        "/api/v1/patients/{patient}/access-log": { "get": { "summary": "Who accessed the chart (the latest 500)", "parameters": [pid],
            "responses": { "200": ok("access history", object(json!({ "access_log": array_of(object(json!({
                    "at": text(), "user_name": nullable("string"), "org_name": nullable("string"), "action": text(), "outcome": text() }))) }))),
                "403": problem(NOT_ALLOWED) } } },
    })
}

/// The error answers every operation can give, added where the operation does not
/// describe them itself.
fn add_common_errors(paths: &mut serde_json::Map<String, Value>) {
    for (path, ops) in paths.iter_mut() {
        let Some(ops) = ops.as_object_mut() else { continue };
        for op in ops.values_mut() {
            let body_types: Vec<String> = op
                .pointer("/requestBody/content")
                .and_then(Value::as_object)
                .map(|c| c.keys().cloned().collect())
                .unwrap_or_default();
            let has_query = op
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|ps| ps.iter().any(|p| p.get("in").and_then(Value::as_str) == Some("query")));
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else { continue };
            let mut add = |code: &str, what: &str| {
                responses.entry(code).or_insert_with(|| doc::problem(what));
            };
            add("401", "no valid bearer token");
            if path.contains("{patient}") {
                add("404", doc::OUT_OF_REACH);
            }
            if has_query || !body_types.is_empty() {
                add(
                    "400",
                    "malformed request: a query parameter repeated or not of its type, or a body that does not parse",
                );
                add("422", "invalid input; `errors` names the fields");
            }
            if !body_types.is_empty() {
                add("413", "the body is larger than the limit");
            }
            if body_types.iter().any(|t| t == "application/json") {
                add("415", "the body is not sent as application/json");
            }
            add("503", "overloaded or timed out; try again after Retry-After seconds");
        }
    }
}

/// `GET /api/openapi.json`: the API as OpenAPI 3.1.
pub async fn openapi() -> Json<Value> {
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for (p, s) in [
        (patient_paths(), patient_schemas()),
        (crate::api_chart::openapi_paths(), crate::api_chart::openapi_schemas()),
        (crate::api_letters::openapi_paths(), crate::api_letters::openapi_schemas()),
    ] {
        if let (Value::Object(p), Value::Object(s)) = (p, s) {
            paths.extend(p);
            schemas.extend(s);
        }
    }
    add_common_errors(&mut paths);
    Json(json!({
        "openapi": "3.1.0",
        "info": { "title": "tsunagu API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Regional shared care record. A patient outside the caller's reach answers exactly like a missing one (404). Errors are application/problem+json in the caller's language (Accept-Language: ja by default, en)." },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "a token from `tsunagu token create`" } },
            "schemas": schemas,
        },
        "security": [{ "bearer": [] }],
        "paths": paths,
    }))
}

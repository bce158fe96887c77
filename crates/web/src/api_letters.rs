//! Letters through the JSON API: write, save, send (which opens the chart to the
//! recipient), acknowledge, decline, reply, and fetch as PDF or FHIR document. Same
//! policy, audit and state rules as the pages; errors as problem+json.

use crate::api::reply;
use crate::auth::ApiCaller;
use crate::error::AppResult;
use crate::letters::{Draft, content_from_pairs};
use crate::middleware::RequestCtx;
use crate::pages::patients::patient_id;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tsunagu_domain::Invalid;
use tsunagu_domain::letter::{LetterBody, LetterKind};
use tsunagu_domain::policy::ChartAction;
use tsunagu_store::{ChartGrant, LetterContent};

/// A letter as the API takes it: the fields of its kind by name.
#[derive(Debug, Deserialize)]
pub struct LetterInput {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub to_org: String,
    #[serde(default)]
    pub to_person: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub attachments: Vec<String>,
    /// The version being replaced (PUT), so concurrent edits are refused, not lost.
    #[serde(default)]
    pub version: Option<i64>,
    /// Send at once after saving (POST).
    #[serde(default)]
    pub send: bool,
}

impl LetterInput {
    fn content(&self, kind: LetterKind) -> Result<LetterContent, Invalid> {
        let known: Vec<&str> = LetterBody::empty(kind).fields().iter().map(|f| f.name).collect();
        if let Some(_unknown) = self.fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(Invalid::one("fields", "err-letter-field-unknown"));
        }
        let mut pairs = vec![
            ("to_org".to_string(), self.to_org.clone()),
            ("to_person".to_string(), self.to_person.clone()),
            ("role".to_string(), self.role.clone()),
        ];
        pairs.extend(self.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        pairs.extend(self.attachments.iter().map(|a| ("attachment".to_string(), a.clone())));
        content_from_pairs(kind, &pairs)
    }
}

async fn letter_json(state: &AppState, g: &ChartGrant, id: &str) -> AppResult<Value> {
    let v = state.store.letter(g, id).await?;
    Ok(json!({ "letter": v }))
}

/// `GET /api/v1/letters`: the caller's organization's letter box.
pub async fn letter_box(State(state): State<AppState>, ctx: RequestCtx, caller: ApiCaller) -> AppResult<Json<Value>> {
    let (incoming, outgoing) = state.store.letter_box(&caller.principal, &ctx.audit()).await?;
    Ok(Json(json!({ "incoming": incoming, "outgoing": outgoing })))
}

/// `GET /api/v1/patients/{patient}/letters`
pub async fn list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path(raw): Path<String>,
) -> AppResult<Json<Value>> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Read, "letters.read", &ctx.audit()).await?;
    Ok(Json(json!({ "letters": state.store.letters(&g).await? })))
}

/// `POST /api/v1/patients/{patient}/letters`: a new draft (a referral or a
/// visiting-nurse instruction; replies start from the letter they answer), sent at
/// once with `"send": true`. A letter that cannot be sent is not saved either.
pub async fn create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path(raw): Path<String>,
    Json(input): Json<LetterInput>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Refer, "letter.create", &ctx.audit()).await?;
    let kind = LetterKind::parse(&input.kind)?;
    if kind == LetterKind::Reply {
        return Err(Invalid::one("kind", "err-letter-reply-to").into());
    }
    let content = input.content(kind)?;
    let id = crate::letters::write(&state, &ctx, &caller.principal, &g, Draft::New, content, input.send).await?;
    Ok(reply(StatusCode::CREATED, letter_json(&state, &g, &id).await?))
}

/// `GET /api/v1/patients/{patient}/letters/{letter}`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Read, "letter.read", &ctx.audit()).await?;
    Ok(Json(letter_json(&state, &g, &id).await?))
}

/// `PUT /api/v1/patients/{patient}/letters/{letter}`: save a new version of a draft.
pub async fn save(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path((raw, id)): Path<(String, String)>,
    Json(input): Json<LetterInput>,
) -> AppResult<Json<Value>> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Refer, "letter.save", &ctx.audit()).await?;
    let current = state.store.letter(&g, &id).await?;
    let content = input.content(current.summary.kind)?;
    let draft = Draft::Saved { id: &id, expected_version: input.version, current: &current.content };
    crate::letters::write(&state, &ctx, &caller.principal, &g, draft, content, false).await?;
    Ok(Json(letter_json(&state, &g, &id).await?))
}

/// `POST /api/v1/patients/{patient}/letters/{letter}/send`
pub async fn send(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let pid = patient_id(&raw)?;
    let sent = crate::letters::send(&state, &ctx, &caller.principal, pid, &id).await?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Read, "letter.read", &ctx.audit()).await?;
    let letter = state.store.letter(&g, &id).await?;
    Ok(Json(json!({ "letter": letter, "joined_team": sent.joined_team })))
}

/// `POST /api/v1/patients/{patient}/letters/{letter}/receive`
pub async fn receive(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Write, "letter.receive", &ctx.audit()).await?;
    state.store.receive_letter(&g, &id, &ctx.audit()).await?;
    Ok(Json(letter_json(&state, &g, &id).await?))
}

#[derive(Debug, Deserialize)]
pub struct DeclineInput {
    #[serde(default)]
    pub reason: String,
}

/// `POST /api/v1/patients/{patient}/letters/{letter}/decline`
pub async fn decline(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path((raw, id)): Path<(String, String)>,
    Json(input): Json<DeclineInput>,
) -> AppResult<Json<Value>> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Write, "letter.decline", &ctx.audit()).await?;
    state.store.decline_letter(&g, &id, &input.reason, &ctx.audit()).await?;
    Ok(Json(letter_json(&state, &g, &id).await?))
}

/// `POST /api/v1/patients/{patient}/letters/{letter}/discard`
pub async fn discard(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Refer, "letter.discard", &ctx.audit()).await?;
    state.store.discard_letter(&g, &id, &ctx.audit()).await?;
    Ok(Json(json!({ "discarded": id })))
}

/// `POST /api/v1/patients/{patient}/letters/{letter}/reply`: start the reply draft.
pub async fn start_reply(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Refer, "letter.create", &ctx.audit()).await?;
    let new_id = crate::pages::letters::start_reply_draft(&state, &ctx, &g, &id).await?;
    Ok(reply(StatusCode::CREATED, letter_json(&state, &g, &new_id).await?))
}

/// `GET /api/v1/patients/{patient}/letters/{letter}/pdf`
pub async fn pdf(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Read, "letter.pdf", &ctx.audit()).await?;
    crate::pages::letters::pdf_response(&state, &g, &id).await
}

/// `GET /api/v1/patients/{patient}/letters/{letter}/fhir`: a FHIR R4 document Bundle.
pub async fn fhir(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    headers: axum::http::HeaderMap,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Read, "letter.fhir", &ctx.audit()).await?;
    crate::pages::letters::fhir_response(&state, &g, &id, &crate::letters::base_url(&state, &headers)).await
}

/// The letter routes in the OpenAPI document (merged into `api::openapi`).
pub fn openapi_paths(pid: &Value, err: &dyn Fn(&str) -> Value) -> Value {
    let lid = json!({ "name": "letter", "in": "path", "required": true, "schema": { "type": "string" } });
    let input = json!({ "type": "object", "properties": {
        "kind": { "type": "string", "enum": ["referral", "nursing_instruction"] },
        "to_org": { "type": "string", "format": "uuid" }, "to_person": { "type": "string" },
        "role": { "type": "string", "description": "the team role the recipient takes when the letter is sent" },
        "fields": { "type": "object", "additionalProperties": { "type": "string" },
                    "description": "the fields of the kind: referral (purpose, diagnoses, present_illness required to send, ...), nursing_instruction (period_from, period_to, diagnoses, instructions, emergency_contact required), reply (body required)" },
        "attachments": { "type": "array", "items": { "type": "string" }, "description": "entry ids of documents on the chart" },
        "version": { "type": "integer", "description": "PUT: the version being replaced" },
        "send": { "type": "boolean", "description": "POST: send at once" } } });
    let body = |s: &Value| json!({ "required": true, "content": { "application/json": { "schema": s } } });
    let one = json!({ "description": "the letter" });
    json!({
        "/api/v1/letters": { "get": { "summary": "The organization's letter box: received and sent letters",
            "responses": { "200": { "description": "incoming and outgoing" }, "401": err("no valid token") } } },
        "/api/v1/patients/{patient}/letters": {
            "get": { "summary": "The chart's letters (sent ones and the caller's own drafts)", "parameters": [pid],
                     "responses": { "200": { "description": "letters" }, "404": err("missing or outside reach") } },
            "post": { "summary": "Write a referral letter or visiting-nurse instruction (a draft, or sent with send=true)",
                      "parameters": [pid], "requestBody": body(&input),
                      "responses": { "201": one, "404": err("missing or outside reach"), "422": err("invalid or incomplete letter") } } },
        "/api/v1/patients/{patient}/letters/{letter}": {
            "get": { "summary": "A letter with its content, attachments, history and replies", "parameters": [pid, lid],
                     "responses": { "200": one, "404": err("missing or outside reach") } },
            "put": { "summary": "Save a new version of a draft", "parameters": [pid, lid], "requestBody": body(&input),
                     "responses": { "200": one, "404": err("missing or outside reach"), "409": err("not a draft, or stale version"), "422": err("invalid") } } },
        "/api/v1/patients/{patient}/letters/{letter}/send": { "post": { "summary": "Send a draft: the recipient organization joins the care team",
            "parameters": [pid, lid], "responses": { "200": one, "404": err("missing or outside reach"), "409": err("not a draft"), "422": err("incomplete letter or no consent") } } },
        "/api/v1/patients/{patient}/letters/{letter}/receive": { "post": { "summary": "Acknowledge a letter addressed to the caller's organization",
            "parameters": [pid, lid], "responses": { "200": one, "404": err("missing or outside reach"), "409": err("not in a state to acknowledge") } } },
        "/api/v1/patients/{patient}/letters/{letter}/decline": { "post": { "summary": "Decline a letter, with a reason (the chart stays shared)",
            "parameters": [pid, lid], "requestBody": body(&json!({ "type": "object", "required": ["reason"], "properties": { "reason": { "type": "string" } } })),
            "responses": { "200": one, "404": err("missing or outside reach"), "409": err("not in a state to decline"), "422": err("no reason") } } },
        "/api/v1/patients/{patient}/letters/{letter}/discard": { "post": { "summary": "Discard the caller's draft (kept, not shown)",
            "parameters": [pid, lid], "responses": { "200": { "description": "discarded" }, "404": err("missing or outside reach"), "409": err("not a draft") } } },
        "/api/v1/patients/{patient}/letters/{letter}/reply": { "post": { "summary": "Start the reply letter (返書) to a received letter",
            "parameters": [pid, lid], "responses": { "201": one, "404": err("missing or outside reach"), "409": err("already answered") } } },
        "/api/v1/patients/{patient}/letters/{letter}/pdf": { "get": { "summary": "The letter as a PDF (A4, Japanese layout)",
            "parameters": [pid, lid], "responses": { "200": { "description": "application/pdf" }, "404": err("missing or outside reach") } } },
        "/api/v1/patients/{patient}/letters/{letter}/fhir": { "get": { "summary": "The letter as a FHIR R4 document Bundle (JP eReferral)",
            "parameters": [pid, lid], "responses": { "200": { "description": "application/fhir+json" }, "404": err("missing or outside reach"), "409": err("a draft has no document yet") } } }
    })
}

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
use tsunagu_domain::chart::DocumentType;
use tsunagu_domain::letter::{LetterBody, LetterKind, LetterState};
use tsunagu_domain::patient::TeamRole;
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

/// A letter kind by its exact name.
fn letter_kind(s: &str) -> Result<LetterKind, Invalid> {
    crate::api_chart::exact(&LetterKind::ALL, s, |k| vec![k.as_str().to_string()])
        .ok_or(Invalid::one("kind", "err-letter-kind"))
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
    let kind = letter_kind(&input.kind)?;
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
    // The kind cannot change; a client that names another one is told so, not ignored.
    if !input.kind.is_empty() && letter_kind(&input.kind)? != current.summary.kind {
        return Err(Invalid::one("kind", "err-letter-kind").into());
    }
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

/// The field names of every kind of letter, in order, without repeats.
fn all_field_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for kind in LetterKind::ALL {
        for f in LetterBody::empty(kind).fields() {
            if !names.contains(&f.name) {
                names.push(f.name);
            }
        }
    }
    names
}

/// The letter schemas in the OpenAPI document (merged into `api::openapi`).
pub fn openapi_schemas() -> Value {
    use crate::api::doc::*;
    let kinds =
        |ks: &[LetterKind]| json!({ "type": "string", "enum": ks.iter().map(|k| k.as_str()).collect::<Vec<_>>() });
    let fields: serde_json::Map<String, Value> =
        all_field_names().into_iter().map(|n| (n.to_string(), text())).collect();
    let role = json!({ "type": "string", "enum": TeamRole::ALL.map(TeamRole::as_str) });
    let state = json!({ "type": "string", "enum": LetterState::ALL.map(LetterState::as_str) });
    let input = |kind: Value, required: &[&str], more: &str| {
        json!({ "type": "object", "required": required,
            "description": format!("A letter to send must be complete: referral (purpose, diagnoses, present_illness), nursing_instruction (period_from, period_to up to 183 days later, diagnoses, instructions, emergency_contact), reply (body); the patient must have consented to sharing; the recipient must be an approved organization. {more}"),
            "properties": {
                "kind": kind,
                "to_org": uuid(),
                "to_person": text(),
                "role": { "anyOf": [role, { "const": "" }], "description": "the team role the recipient takes when the letter is sent (empty: the usual one for the kind)" },
                "fields": { "type": "object", "properties": fields, "additionalProperties": false,
                            "description": "the fields of the letter's kind by name" },
                "attachments": { "type": "array", "items": text(), "description": "entry ids of documents on the chart" },
                "version": { "type": ["integer", "null"], "description": "PUT: the version being replaced" },
                "send": { "type": "boolean", "description": "POST: send at once" } } })
    };
    let summary = json!({
        "id": text(), "patient_id": uuid(), "kind": kinds(&LetterKind::ALL), "state": state,
        "from_org_id": uuid(), "from_org_name": text(), "from_user_id": uuid(), "from_user_name": text(),
        "to_org_id": uuid(), "to_org_name": text(), "to_person": nullable("string"), "role": role,
        "in_reply_to": nullable("string"), "created_at": text(), "sent_at": nullable("string"),
        "version": { "type": "integer", "minimum": 1 }, "document_entry_id": nullable("string") });
    // The summary's properties and more (the letter box and the full letter flatten it).
    let with = |more: Value| {
        let mut props = summary.as_object().cloned().unwrap_or_default();
        props.extend(more.as_object().cloned().unwrap_or_default());
        object(Value::Object(props))
    };
    let mut body_props = serde_json::Map::new();
    body_props.insert("kind".into(), kinds(&LetterKind::ALL));
    body_props.extend(all_field_names().into_iter().map(|n| (n.to_string(), text())));
    let boxed =
        with(json!({ "family_name": text(), "given_name": text(), "family_kana": text(), "given_kana": text() }));
    let letter = with(json!({
        "content": object(json!({
            "to_org": uuid(), "to_person": nullable("string"), "role": role,
            "body": { "type": "object", "required": ["kind"], "properties": body_props },
            "attachments": array_of(text()) })),
        "saved_at": text(),
        "content_hash": text(),
        "attachments": array_of(object(json!({
            "entry_id": text(), "title": text(),
            "doc_type": { "type": "string", "enum": DocumentType::ALL.map(DocumentType::as_str) },
            "files": array_of(schema("AttachmentRef")), "recorded_at": text() }))),
        "events": array_of(object(json!({
            "event": text(), "state_after": state, "by_user_name": text(), "by_org_name": text(),
            "at": text(), "note": nullable("string") }))),
        "replies": array_of(text()) }));
    let summary = object(summary);
    json!({
        "LetterInput": input(kinds(&[LetterKind::Referral, LetterKind::NursingInstruction]), &["kind", "to_org"],
                             "Replies start from the letter they answer (POST .../reply)."),
        "LetterUpdate": input(json!({ "anyOf": [kinds(&LetterKind::ALL), { "const": "" }] }), &[],
                              "The kind cannot change: when given, it must be the letter's. A reply needs no to_org."),
        "LetterSummary": summary,
        "LetterBoxItem": boxed,
        "Letter": letter,
    })
}

/// The letter routes in the OpenAPI document (merged into `api::openapi`).
pub fn openapi_paths() -> Value {
    use crate::api::doc::*;
    let pid = patient();
    let lid = path("letter", text());
    let one = ok("the letter", object(json!({ "letter": schema("Letter") })));
    let not_allowed = problem(NOT_ALLOWED);
    json!({
        "/api/v1/letters": { "get": { "summary": "The organization's letter box: received and sent letters",
            "responses": { "200": ok("incoming and outgoing", object(json!({
                "incoming": array_of(schema("LetterBoxItem")), "outgoing": array_of(schema("LetterBoxItem")) }))) } } },
        "/api/v1/patients/{patient}/letters": {
            "get": { "summary": "The chart's letters (sent ones and the caller's own drafts)", "parameters": [pid],
                     "responses": { "200": ok("letters", object(json!({ "letters": array_of(schema("LetterSummary")) }))) } },
            "post": { "summary": "Write a referral letter or visiting-nurse instruction (a draft, or sent with send=true)",
                      "parameters": [pid], "requestBody": body(schema("LetterInput")),
                      "responses": { "201": one, "403": not_allowed, "409": problem("cannot be sent as it is") } } },
        "/api/v1/patients/{patient}/letters/{letter}": {
            "get": { "summary": "A letter with its content, attachments, history and replies", "parameters": [pid, lid],
                     "responses": { "200": one } },
            "put": { "summary": "Save a new version of a draft", "parameters": [pid, lid], "requestBody": body(schema("LetterUpdate")),
                     "responses": { "200": one, "403": not_allowed, "409": problem("not a draft, or stale version") } } },
        "/api/v1/patients/{patient}/letters/{letter}/send": { "post": { "summary": "Send a draft: the recipient organization joins the care team",
            "parameters": [pid, lid], "responses": {
                "200": ok("the letter sent", object(json!({ "letter": schema("Letter"), "joined_team": { "type": "boolean" } }))),
                "403": not_allowed, "409": problem("not a draft"), "422": problem("incomplete letter or no consent") } } },
        "/api/v1/patients/{patient}/letters/{letter}/receive": { "post": { "summary": "Acknowledge a letter addressed to the caller's organization",
            "parameters": [pid, lid], "responses": { "200": one, "403": not_allowed, "409": problem("not in a state to acknowledge") } } },
        "/api/v1/patients/{patient}/letters/{letter}/decline": { "post": { "summary": "Decline a letter, with a reason (the chart stays shared)",
            "parameters": [pid, lid],
            "requestBody": body(json!({ "type": "object", "required": ["reason"], "properties": { "reason": not_blank("up to 1,000 characters") } })),
            "responses": { "200": one, "403": not_allowed, "409": problem("not in a state to decline") } } },
        "/api/v1/patients/{patient}/letters/{letter}/discard": { "post": { "summary": "Discard the caller's draft (kept, not shown)",
            "parameters": [pid, lid], "responses": { "200": ok("discarded", object(json!({ "discarded": text() }))),
                "403": not_allowed, "409": problem("not a draft") } } },
        "/api/v1/patients/{patient}/letters/{letter}/reply": { "post": { "summary": "Start the reply letter (返書) to a received letter",
            "parameters": [pid, lid], "responses": { "201": one, "403": not_allowed, "409": problem("already answered, or not a letter to answer") } } },
        "/api/v1/patients/{patient}/letters/{letter}/pdf": { "get": { "summary": "The letter as a PDF (A4, Japanese layout)",
            "parameters": [pid, lid], "responses": { "200": { "description": "the PDF",
                "content": { "application/pdf": { "schema": { "type": "string", "format": "binary" } } } } } } },
        "/api/v1/patients/{patient}/letters/{letter}/fhir": { "get": { "summary": "The letter as a FHIR R4 document Bundle (JP eReferral)",
            "parameters": [pid, lid], "responses": {
                "200": { "description": "a Bundle of type document",
                         "content": { "application/fhir+json": { "schema": { "type": "object", "required": ["resourceType", "type"],
                             "properties": { "resourceType": { "const": "Bundle" }, "type": { "const": "document" } } } } } },
                "409": problem("a draft has no document yet") } } }
    })
}

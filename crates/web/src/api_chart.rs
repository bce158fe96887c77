//! The chart through the JSON API: timeline pages, writing and correcting entries,
//! marking them entered in error, documents up and down, thread posts, the inbox.
//! Same policy and audit as the pages; errors as problem+json.

use crate::api::reply;
use crate::auth::ApiCaller;
use crate::error::{AppError, AppResult};
use crate::middleware::RequestCtx;
use crate::pages::chart::TimelineQuery;
use crate::pages::patients::patient_id;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tsunagu_domain::chart::{Document, DocumentType, EntryBody};
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::{Invalid, OrgId, UserId};
use tsunagu_store::Mention;

#[derive(Debug, Deserialize)]
pub struct EntriesQuery {
    #[serde(flatten)]
    pub filter: TimelineQuery,
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `GET /api/v1/patients/{patient}/entries`: newest first, keyset paged with
/// `before_at` + `before_id` from the previous page's `next`.
pub async fn timeline(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path(raw): Path<String>,
    Query(q): Query<EntriesQuery>,
) -> AppResult<Json<Value>> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Read, "chart.read", &ctx.audit()).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let mut f = tsunagu_store::TimelineFilter { limit, ..Default::default() };
    f.org = q.filter.org.parse().ok();
    f.profession = tsunagu_domain::person::Profession::parse(&q.filter.profession).ok();
    f.kind = tsunagu_domain::chart::EntryKind::parse(&q.filter.kind).ok();
    if !q.filter.before_at.is_empty() && !q.filter.before_id.is_empty() {
        f.before = Some((q.filter.before_at.clone(), q.filter.before_id.clone()));
    }
    let entries = state.store.timeline(&g, &f).await?;
    let next = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|l| json!({ "before_at": l.entry_recorded_at, "before_id": l.entry_id })))
        .flatten();
    Ok(Json(json!({ "entries": entries, "next": next })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MentionRef {
    User(UserId),
    Org(OrgId),
}

#[derive(Debug, Deserialize)]
pub struct NewEntryBody {
    pub body: EntryBody,
    #[serde(default)]
    pub mentions: Vec<MentionRef>,
}

async fn checked_mentions(
    state: &AppState,
    g: &tsunagu_store::ChartGrant,
    refs: &[MentionRef],
) -> AppResult<Vec<Mention>> {
    if refs.is_empty() {
        return Ok(vec![]);
    }
    let people = state.store.team_people(g).await?;
    refs.iter()
        .map(|m| match m {
            MentionRef::User(u) if people.iter().any(|(p, _, _, _)| p == u) => Ok(Mention::User(*u)),
            MentionRef::Org(o) if people.iter().any(|(_, _, org, _)| org == o) => Ok(Mention::Org(*o)),
            _ => Err(AppError::Invalid(Invalid::one("mentions", "err-mention"))),
        })
        .collect()
}

/// Entries that carry files are made by the document upload, which checks the bytes;
/// a JSON body cannot point at files.
fn without_files(body: EntryBody) -> Result<EntryBody, AppError> {
    match body {
        EntryBody::Document(_) => Err(AppError::Invalid(Invalid::one("body", "err-use-document-upload"))),
        EntryBody::Message(mut m) => {
            m.attachments.clear();
            Ok(EntryBody::Message(m))
        }
        other => Ok(other),
    }
}

/// `POST /api/v1/patients/{patient}/entries`: `{"body": {"kind": "progress_note", ...}, "mentions": [...]}`.
pub async fn add_entry(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path(raw): Path<String>,
    Json(b): Json<NewEntryBody>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Write, "entry.create", &ctx.audit()).await?;
    let body = without_files(b.body)?;
    let mentions =
        if matches!(body, EntryBody::Message(_)) { checked_mentions(&state, &g, &b.mentions).await? } else { vec![] };
    let e = state.store.add_entry(&g, body, &mentions, &ctx.audit()).await?;
    crate::pages::search::index_version(&state, pid, &e).await;
    Ok(reply(StatusCode::CREATED, json!(e)))
}

#[derive(Debug, Deserialize)]
pub struct MessageBody {
    pub text: String,
    #[serde(default)]
    pub mentions: Vec<MentionRef>,
}

/// `POST /api/v1/patients/{patient}/messages`: a post to the patient's thread.
pub async fn post_message(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path(raw): Path<String>,
    Json(b): Json<MessageBody>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Write, "entry.create", &ctx.audit()).await?;
    let mentions = checked_mentions(&state, &g, &b.mentions).await?;
    let body = EntryBody::Message(tsunagu_domain::chart::Message { text: b.text, attachments: vec![] });
    let e = state.store.add_entry(&g, body, &mentions, &ctx.audit()).await?;
    crate::pages::search::index_version(&state, pid, &e).await;
    Ok(reply(StatusCode::CREATED, json!(e)))
}

/// `GET /api/v1/patients/{patient}/entries/{entry}`: every version, oldest first.
pub async fn history(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path((raw, entry)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Read, "entry.history", &ctx.audit()).await?;
    Ok(Json(json!({ "versions": state.store.entry_history(&g, &entry).await? })))
}

#[derive(Debug, Deserialize)]
pub struct CorrectionBody {
    /// The version being corrected; a stale one gets 409.
    pub version_id: String,
    pub reason: String,
    pub body: EntryBody,
}

/// `POST /api/v1/patients/{patient}/entries/{entry}/corrections`.
pub async fn correct(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path((raw, entry)): Path<(String, String)>,
    Json(b): Json<CorrectionBody>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Write, "entry.correct", &ctx.audit()).await?;
    let current = state.store.entry_history(&g, &entry).await?.pop().ok_or(AppError::NotFound)?;
    let body = match (&current.body, b.body) {
        // A document's file stays; only its title, type and note can be corrected.
        (EntryBody::Document(old), EntryBody::Document(new)) => {
            EntryBody::Document(Document { attachments: old.attachments.clone(), ..new })
        }
        (_, other) => without_files(other)?,
    };
    if current.version_id != b.version_id {
        // Correcting anything but the current version is stale by definition.
        return Err(AppError::Conflict(tsunagu_domain::FieldError::new("version", "err-entry-stale")));
    }
    let e = state.store.correct_entry(&g, &b.version_id, body, &b.reason, &ctx.audit()).await?;
    crate::pages::search::index_version(&state, pid, &e).await;
    Ok(reply(StatusCode::CREATED, json!(e)))
}

#[derive(Debug, Deserialize)]
pub struct ReasonBody {
    pub reason: String,
}

/// `POST /api/v1/patients/{patient}/entries/{entry}/entered-in-error`.
pub async fn mark_error(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path((raw, entry)): Path<(String, String)>,
    Json(b): Json<ReasonBody>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state
        .store
        .open_chart(&caller.principal, pid, ChartAction::Write, "entry.entered_in_error", &ctx.audit())
        .await?;
    state.store.mark_entered_in_error(&g, &entry, &b.reason, &ctx.audit()).await?;
    Ok(reply(StatusCode::OK, json!({ "entry_id": entry, "entered_in_error": true })))
}

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub doc_type: String,
    #[serde(default)]
    pub filename: String,
    #[serde(default)]
    pub note: String,
}

/// `POST /api/v1/patients/{patient}/documents?doc_type=..&title=..&filename=..`: the
/// raw file as the body; its type is told from its content.
pub async fn upload(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path(raw): Path<String>,
    Query(q): Query<UploadQuery>,
    body: Bytes,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Write, "entry.create", &ctx.audit()).await?;
    let doc_type = DocumentType::parse(&q.doc_type)?;
    let (title, note) = (Some(q.title.clone()), Some(q.note.clone()));
    let e = crate::pages::chart::store_document(&state, &g, &body, &q.filename, doc_type, title, note, &ctx).await?;
    Ok(reply(StatusCode::CREATED, json!(e)))
}

/// `GET /api/v1/patients/{patient}/attachments/{attachment}`: the bytes, hash-checked.
pub async fn download(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path((raw, att)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Read, "attachment.read", &ctx.audit()).await?;
    let a = state.store.attachment(&g, &att).await?;
    let bytes =
        state.blobs.get(&a.sha256).await.map_err(|e| AppError::Internal(format!("attachment {}: {e}", a.id)))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&a.media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{}", crate::view::urlencode(&a.filename)))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&a.sha256) {
        headers.insert("x-content-sha256", v);
    }
    Ok((headers, bytes).into_response())
}

/// `GET /api/v1/inbox`: the caller's patients with new entries and mentions.
pub async fn inbox(State(state): State<AppState>, ctx: RequestCtx, caller: ApiCaller) -> AppResult<Json<Value>> {
    Ok(Json(json!({ "patients": state.store.inbox(&caller.principal, &ctx.audit()).await? })))
}

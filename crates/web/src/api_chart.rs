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
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tsunagu_domain::chart::{Document, DocumentType, EntryBody, EntryKind};
use tsunagu_domain::person::Profession;
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::{Invalid, OrgId, UserId};
use tsunagu_store::{InboxPaging, Mention};

#[derive(Debug, Deserialize)]
pub struct EntriesQuery {
    #[serde(flatten)]
    pub filter: TimelineQuery,
    #[serde(default)]
    pub limit: Option<i64>,
}

/// An optional whole-number parameter of a page (`limit`, `offset`): `default` when not
/// given; outside `range`, an error naming `field` (and `default`, so that the other
/// parameters are still checked).
fn paging_param(
    inv: &mut Invalid,
    field: &'static str,
    value: Option<i64>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> i64 {
    match value {
        None => default,
        Some(v) if range.contains(&v) => v,
        Some(_) => {
            inv.push(field, "err-out-of-range");
            default
        }
    }
}

/// The filters of a timeline page. An empty filter is no filter (as the page's form
/// sends it); any other value must name an organization, profession or kind, and the
/// page size must be within 1..=500: a client's typo is refused, not ignored.
fn timeline_filter(q: &EntriesQuery) -> AppResult<tsunagu_store::TimelineFilter> {
    let mut inv = Invalid::default();
    let limit = paging_param(&mut inv, "limit", q.limit, 50, 1..=MAX_PAGE);
    let t = &q.filter;
    let org = match t.org.as_str() {
        "" => None,
        s => inv.merge(s.parse::<OrgId>().map_err(|_| Invalid::one("org", "err-org-unknown"))),
    };
    let profession = match t.profession.as_str() {
        "" => None,
        s => inv.merge(
            exact(&Profession::ALL, s, |p| profession_names(*p)).ok_or(Invalid::one("profession", "err-profession")),
        ),
    };
    let kind = match t.kind.as_str() {
        "" => None,
        s => inv.merge(
            exact(&EntryKind::ALL, s, |k| vec![k.as_str().to_string()]).ok_or(Invalid::one("kind", "err-entry-kind")),
        ),
    };
    inv.into_result()?;
    Ok(tsunagu_store::TimelineFilter { limit, org, profession, kind, ..Default::default() })
}

/// The value of `all` one of whose names is exactly `s` (an API client's value is not
/// trimmed or guessed at: what the OpenAPI document lists, nothing else).
pub(crate) fn exact<T: Copy>(all: &[T], s: &str, names: impl Fn(&T) -> Vec<String>) -> Option<T> {
    all.iter().find(|v| names(v).iter().any(|n| n == s)).copied()
}

/// A profession's names in the API: the one every answer shows (`author_profession`),
/// and the short code the pages use where it differs (`msw`).
fn profession_names(p: Profession) -> Vec<String> {
    let mut names = vec![crate::api::doc::wire_name(p)];
    if !names.iter().any(|n| n == p.as_str()) {
        names.push(p.as_str().to_string());
    }
    names
}

/// The largest timeline page.
const MAX_PAGE: i64 = 500;

/// `GET /api/v1/patients/{patient}/entries`: newest first, keyset paged with
/// `before_at` + `before_id` from the previous page's `next`.
pub async fn timeline(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Path(raw): Path<String>,
    Query(q): Query<EntriesQuery>,
) -> AppResult<Json<TimelinePage>> {
    let pid = patient_id(&raw)?;
    let mut f = timeline_filter(&q)?;
    let g = state.store.open_chart(&caller.principal, pid, ChartAction::Read, "chart.read", &ctx.audit()).await?;
    let limit = f.limit;
    if !q.filter.before_at.is_empty() && !q.filter.before_id.is_empty() {
        f.before = Some((q.filter.before_at.clone(), q.filter.before_id.clone()));
    }
    let entries = state.store.timeline(&g, &f).await?;
    let next = (entries.len() as i64 == limit)
        .then(|| {
            entries.last().map(|l| Cursor { before_at: l.entry_recorded_at.clone(), before_id: l.entry_id.clone() })
        })
        .flatten();
    Ok(Json(TimelinePage { entries, next }))
}

/// A timeline page as answered. Serialized straight from the entries: going through a
/// `serde_json::Value` first built a map per entry and per body (bench/results/scale.md).
#[derive(Serialize)]
pub struct TimelinePage {
    entries: Vec<tsunagu_store::EntryView>,
    /// The next page's cursor; null on the last page.
    next: Option<Cursor>,
}

#[derive(Serialize)]
pub struct Cursor {
    before_at: String,
    before_id: String,
}

/// `GET /api/v1/search?q=...`: the notes of the caller's patients that contain every
/// word (the full-text search of the page `/search`, same policy and one audit record
/// of what was shown). Words that cannot be searched answer 422 naming `q`; a failing
/// index answers 503.
pub async fn search_notes(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Query(p): Query<crate::pages::search::SearchParams>,
) -> AppResult<Response> {
    use crate::pages::search::{Found, find_notes};
    let q = p.q.trim();
    if q.is_empty() {
        return Err(Invalid::one("q", "fulltext-too-short").into());
    }
    match find_notes(&state, &caller.principal, q, &ctx.audit()).await? {
        Found::Refused(key) => Err(Invalid::one("q", key).into()),
        Found::Unavailable(key) => {
            let mut r = StatusCode::SERVICE_UNAVAILABLE.into_response();
            r.extensions_mut().insert(crate::error::ErrorInfo { key, fields: Vec::new() });
            Ok(r)
        }
        Found::Notes { rows, mut snippets } => {
            let hits: Vec<Value> = rows
                .into_iter()
                .map(|r| {
                    let snippet = snippets.remove(&r.entry.version_id).unwrap_or_default();
                    json!({
                        "patient": { "id": r.patient_id, "family_name": r.family_name, "given_name": r.given_name,
                                     "family_kana": r.family_kana, "given_kana": r.given_kana },
                        "entry": r.entry,
                        "snippet": snippet,
                    })
                })
                .collect();
            Ok(Json(json!({ "hits": hits })).into_response())
        }
    }
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
    crate::mail::notify_mentions(&state, g.patient(), &mentions, caller.principal.user).await;
    crate::pages::search::index_version(&state, pid, &e);
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
    crate::mail::notify_mentions(&state, g.patient(), &mentions, caller.principal.user).await;
    crate::pages::search::index_version(&state, pid, &e);
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
    crate::pages::search::index_version(&state, pid, &e);
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
    let doc_type = exact(&DocumentType::ALL, &q.doc_type, |d| vec![d.as_str().to_string()])
        .ok_or(Invalid::one("doc_type", "err-doc-type"))?;
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

#[derive(Debug, Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    pub offset: Option<i64>,
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `GET /api/v1/inbox`: the caller's patients with new entries and mentions, most
/// pressing first, `limit` (1..=500, 50 by default) from `offset`, with the total and
/// the next page's offset (null on the last page).
pub async fn inbox(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: ApiCaller,
    Query(q): Query<InboxQuery>,
) -> AppResult<Json<Value>> {
    let mut inv = Invalid::default();
    let offset = paging_param(&mut inv, "offset", q.offset, 0, 0..=i64::MAX);
    let limit = paging_param(&mut inv, "limit", q.limit, InboxPaging::DEFAULT_LIMIT, 1..=InboxPaging::MAX_LIMIT);
    inv.into_result()?;
    let list = state.store.inbox(&caller.principal, InboxPaging { offset, limit }, &ctx.audit()).await?;
    let next_offset = offset.checked_add(limit).filter(|n| *n < list.total);
    Ok(Json(json!({ "patients": list.rows, "total": list.total, "next_offset": next_offset })))
}

fn obj(required: &[&str], properties: Value, description: &str) -> Value {
    json!({ "type": "object", "required": required, "properties": properties, "description": description })
}

/// The body of an entry in the OpenAPI document, one schema per kind. `input`: as a
/// request may send it (blank optional text allowed, it is dropped; files are ignored);
/// otherwise as stored and answered (trimmed, blank parts left out).
fn entry_body_schemas(input: bool) -> Vec<(&'static str, Value)> {
    use crate::api::doc::*;
    let kind = |k: EntryKind| json!({ "const": k.as_str() });
    let opt_text = if input { nullable("string") } else { not_blank("") };
    let opt_date = json!({ "type": ["string", "null"], "format": "date" });
    let measure = |ty: &str, lo: Value, hi: Value| {
        let ty = if input { json!([ty, "null"]) } else { json!(ty) };
        json!({ "type": ty, "minimum": lo, "maximum": hi })
    };
    let attachments = array_of(schema("AttachmentRef"));
    let note = obj(
        &["kind"],
        json!({ "kind": kind(EntryKind::ProgressNote), "subjective": opt_text, "objective": opt_text,
                "assessment": opt_text, "plan": opt_text, "text": opt_text }),
        "SOAP or free text; at least one part not blank; parts up to 5,000 characters, text up to 10,000",
    );
    let record = obj(
        &["kind", "text"],
        json!({ "kind": kind(EntryKind::NursingRecord), "text": not_blank("up to 10,000 characters") }),
        "",
    );
    let vitals = obj(
        &["kind"],
        json!({ "kind": kind(EntryKind::VitalSigns),
                "temperature_c": measure("number", json!(30.0), json!(43.0)),
                "pulse_bpm": measure("integer", json!(20), json!(250)),
                "bp_systolic": measure("integer", json!(40), json!(280)),
                "bp_diastolic": measure("integer", json!(20), json!(180)),
                "respiration_rate": measure("integer", json!(2), json!(80)),
                "spo2": measure("integer", json!(40), json!(100)),
                "pain_nrs": measure("integer", json!(0), json!(10)),
                "note": opt_text }),
        "at least one measurement; blood pressure as a pair, diastolic below systolic; note up to 1,000 characters",
    );
    let item = obj(
        &["drug"],
        json!({ "drug": if input { text() } else { not_blank("") }, "dose": text(), "route": text(),
                "frequency": text(), "start": opt_date, "stop": opt_date, "opioid": { "type": "boolean" } }),
        "a row with every text blank is skipped; otherwise the drug is required; stop not before start; \
         opioids are flagged by name too",
    );
    let medications = obj(
        &["kind", "items"],
        json!({ "kind": kind(EntryKind::MedicationList), "items": array_of(item) }),
        "at least one drug",
    );
    let document = obj(
        &["kind", "title", "doc_type"],
        json!({ "kind": kind(EntryKind::Document), "title": not_blank("up to 200 characters"),
                "doc_type": { "type": "string", "enum": DocumentType::ALL.map(DocumentType::as_str) },
                "note": opt_text, "attachments": attachments }),
        if input { "only in a correction of a document: title, type and note change, the file stays" } else { "" },
    );
    let message = obj(
        &["kind", "text"],
        json!({ "kind": kind(EntryKind::Message), "text": not_blank("up to 5,000 characters"),
                "attachments": attachments }),
        if input { "attachments are ignored: files come only through /documents" } else { "" },
    );
    vec![
        ("ProgressNote", note),
        ("NursingRecord", record),
        ("VitalSigns", vitals),
        ("MedicationList", medications),
        ("Document", document),
        ("Message", message),
    ]
}

/// The chart's schemas in the OpenAPI document (merged into `api::openapi`).
pub fn openapi_schemas() -> Value {
    use crate::api::doc::*;
    let one_of = |prefix: &str, input: bool, skip_document: bool| {
        let refs: Vec<Value> = entry_body_schemas(input)
            .into_iter()
            .filter(|(name, _)| !(skip_document && *name == "Document"))
            .map(|(name, _)| schema(&format!("{prefix}{name}")))
            .collect();
        json!({ "oneOf": refs })
    };
    let mut s = serde_json::Map::new();
    for (input, prefix) in [(false, ""), (true, "Input")] {
        for (name, body) in entry_body_schemas(input) {
            s.insert(format!("{prefix}{name}"), body);
        }
    }
    s.insert("EntryBody".into(), one_of("", false, false));
    s.insert("NewEntryBody".into(), one_of("Input", true, true));
    s.insert("CorrectedEntryBody".into(), one_of("Input", true, false));
    s.insert(
        "AttachmentRef".into(),
        object(json!({ "id": text(), "sha256": text(), "size": { "type": "integer" }, "media_type": text(), "filename": text() })),
    );
    s.insert(
        "Mention".into(),
        json!({ "description": "a person or organization on the care team",
                "oneOf": [
                    { "type": "object", "required": ["user"], "additionalProperties": false, "properties": { "user": uuid() } },
                    { "type": "object", "required": ["org"], "additionalProperties": false, "properties": { "org": uuid() } }] }),
    );
    s.insert(
        "Entry".into(),
        object(json!({
            "version_id": text(), "entry_id": text(), "version": { "type": "integer", "minimum": 1 },
            "supersedes": nullable("string"),
            "kind": { "type": "string", "enum": EntryKind::ALL.map(EntryKind::as_str) },
            "body": schema("EntryBody"),
            "author_id": uuid(), "author_name": text(),
            "author_profession": { "type": "string", "enum": Profession::ALL.map(crate::api::doc::wire_name) },
            "author_org_id": uuid(), "author_org_name": text(),
            "recorded_at": text(), "entry_recorded_at": text(),
            "correction_reason": nullable("string"), "content_hash": text(),
            "in_error": { "oneOf": [{ "type": "null" }, object(json!({ "reason": text(), "by_name": text(), "at": text() }))] } })),
    );
    Value::Object(s)
}

/// The chart's routes in the OpenAPI document (merged into `api::openapi`).
pub fn openapi_paths() -> Value {
    use crate::api::doc::*;
    let pid = patient();
    let entry = path("entry", text());
    let mentions = json!({ "type": "array", "items": schema("Mention"),
                           "description": "messages only: people or organizations on the care team to notify" });
    // An empty filter is no filter, as the page's form sends it.
    let or_empty = |s: Value| json!({ "anyOf": [s, { "const": "" }] });
    let one_entry = || ok("the new version", schema("Entry"));
    json!({
        "/api/v1/inbox": { "get": { "summary": "The caller's patients with new entries and mentions since last viewed, most mentions first, then most new entries, then latest activity; offset paged",
            "parameters": [
                query("offset", json!({ "type": "integer", "minimum": 0, "default": 0 })),
                query("limit", json!({ "type": "integer", "minimum": 1, "maximum": InboxPaging::MAX_LIMIT, "default": InboxPaging::DEFAULT_LIMIT }))],
            "responses": { "200": ok("a page of patients with unread and mention counts", object(json!({ "patients": array_of(object(json!({
                "patient_id": uuid(), "family_name": text(), "given_name": text(), "family_kana": text(), "given_kana": text(),
                "unread": { "type": "integer", "minimum": 0 }, "mentions": { "type": "integer", "minimum": 0 },
                "last_activity": nullable("string") }))),
                "total": { "type": "integer", "minimum": 0, "description": "patients in the whole inbox" },
                "next_offset": { "type": ["integer", "null"], "description": "the next page's offset; null on the last page" } }))) } } },
        "/api/v1/search": { "get": { "summary": "Full-text search of the notes of the caller's patients (at most 50 notes); every word of 2 characters or more must appear",
            "parameters": [json!({ "name": "q", "in": "query", "required": true,
                                   "schema": { "type": "string", "minLength": 2, "maxLength": 200,
                                               "description": "words separated by spaces, each of 2 characters or more; at most 200 characters and 10 words; hiragana and katakana match each other" } })],
            "responses": {
                "200": ok("the notes found, newest version of each", object(json!({ "hits": array_of(object(json!({
                    "patient": object(json!({ "id": uuid(), "family_name": text(), "given_name": text(), "family_kana": text(), "given_kana": text() })),
                    "entry": schema("Entry"),
                    "snippet": { "type": "string", "description": "HTML-escaped text around the words, matches in <mark>" } }))) }))),
                "422": problem("the words cannot be searched (blank, a single character, too long); `errors` names q"),
                "503": problem("the search index is unavailable (or the server overloaded); try again after Retry-After seconds") } } },
        "/api/v1/patients/{patient}/entries": {
            "get": { "summary": "The timeline: current versions, newest first, keyset paged",
                     "parameters": [pid,
                        query("org", or_empty(uuid())),
                        query("profession", or_empty(json!({ "type": "string", "enum": Profession::ALL.into_iter().flat_map(profession_names).collect::<Vec<_>>(),
                            "description": "as in author_profession (msw also for medical_social_worker)" }))),
                        query("kind", or_empty(json!({ "type": "string", "enum": EntryKind::ALL.map(EntryKind::as_str) }))),
                        json!({ "name": "before_at", "in": "query", "schema": text(), "description": "from the previous page's next (with before_id)" }),
                        json!({ "name": "before_id", "in": "query", "schema": text(), "description": "from the previous page's next (with before_at)" }),
                        query("limit", json!({ "type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50 }))],
                     "responses": { "200": ok("entries and the next page's cursor (null on the last page)", object(json!({
                         "entries": array_of(schema("Entry")),
                         "next": { "oneOf": [{ "type": "null" }, object(json!({ "before_at": text(), "before_id": text() }))] } }))) } },
            "post": { "summary": "Write an entry (not documents: use /documents)", "parameters": [pid],
                      "requestBody": body(json!({ "type": "object", "required": ["body"],
                          "properties": { "body": schema("NewEntryBody"), "mentions": mentions } })),
                      "responses": { "201": one_entry(), "403": problem(NOT_ALLOWED) } } },
        "/api/v1/patients/{patient}/messages": { "post": { "summary": "Post to the patient's thread", "parameters": [pid],
            "requestBody": body(json!({ "type": "object", "required": ["text"],
                "properties": { "text": not_blank("up to 5,000 characters"), "mentions": mentions } })),
            "responses": { "201": ok("the message", schema("Entry")), "403": problem(NOT_ALLOWED) } } },
        "/api/v1/patients/{patient}/entries/{entry}": { "get": { "summary": "Every version of an entry, oldest first",
            "parameters": [pid, entry],
            "responses": { "200": ok("versions", object(json!({ "versions": array_of(schema("Entry")) }))) } } },
        "/api/v1/patients/{patient}/entries/{entry}/corrections": { "post": { "summary": "Correct an entry: a new version; the old one stays",
            "parameters": [pid, entry],
            "requestBody": body(json!({ "type": "object", "required": ["version_id", "reason", "body"], "properties": {
                "version_id": { "type": "string", "description": "the current version (a stale one is refused with 409)" },
                "reason": not_blank("up to 500 characters"),
                "body": schema("CorrectedEntryBody") } })),
            "responses": { "201": one_entry(), "403": problem(NOT_ALLOWED), "409": problem("stale version") } } },
        "/api/v1/patients/{patient}/entries/{entry}/entered-in-error": { "post": { "summary": "Mark an entry entered in error (it stays readable)",
            "parameters": [pid, entry],
            "requestBody": body(json!({ "type": "object", "required": ["reason"], "properties": { "reason": not_blank("up to 500 characters") } })),
            "responses": { "200": ok("marked", object(json!({ "entry_id": text(), "entered_in_error": { "const": true } }))),
                           "403": problem(NOT_ALLOWED), "409": problem("already marked") } } },
        "/api/v1/patients/{patient}/documents": { "post": { "summary": "Upload a PDF, JPEG or PNG as a document entry (type told from content)",
            "parameters": [pid,
                json!({ "name": "doc_type", "in": "query", "required": true, "schema": { "type": "string", "enum": DocumentType::ALL.map(DocumentType::as_str) } }),
                query("title", json!({ "type": "string", "description": "up to 200 characters; the file name when blank" })),
                query("filename", text()),
                query("note", json!({ "type": "string", "description": "up to 2,000 characters" }))],
            "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
            "responses": { "201": ok("the document entry", schema("Entry")), "403": problem(NOT_ALLOWED) } } },
        "/api/v1/patients/{patient}/attachments/{attachment}": { "get": { "summary": "Download a stored file (hash-checked)",
            "parameters": [pid, path("attachment", text())],
            "responses": { "200": { "description": "the bytes, with their SHA-256 in x-content-sha256",
                "headers": { "x-content-sha256": { "schema": text() } },
                "content": {
                    "application/pdf": { "schema": { "type": "string", "format": "binary" } },
                    "image/jpeg": { "schema": { "type": "string", "format": "binary" } },
                    "image/png": { "schema": { "type": "string", "format": "binary" } } } } } } },
    })
}

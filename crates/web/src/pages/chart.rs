//! The shared chart on the patient page: the timeline of every organization's entries,
//! writing each kind of entry, documents and photos, corrections with their history,
//! "entered in error", live update, and the inbox.

use super::FormErrors;
use super::patients::patient_id;
use crate::auth::{Signed, form_urlencoded_pairs};
use crate::error::{AppError, AppResult};
use crate::i18n::Tr;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, field_messages, page};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tsunagu_domain::chart::{
    Document, DocumentType, EntryBody, EntryKind, MedicationItem, MedicationList, Message, ProgressNote, VitalSigns,
};
use tsunagu_domain::diff::{Change, diff_lines};
use tsunagu_domain::media::{clean_filename, sniff};
use tsunagu_domain::patient::parse_iso_date;
use tsunagu_domain::person::Profession;
use tsunagu_domain::policy::{ChartAction, may_amend};
use tsunagu_domain::{Invalid, OrgId, UserId};
use tsunagu_store::{ChartGrant, EntryView, InboxList, InboxPaging, Mention, PatientRow, TimelineFilter};

/// Largest document or photo accepted (a scanned discharge summary fits easily).
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;

/// Filters and cursor of the timeline, from the query string.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TimelineQuery {
    #[serde(default)]
    pub org: String,
    #[serde(default)]
    pub profession: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub before_at: String,
    #[serde(default)]
    pub before_id: String,
}

impl TimelineQuery {
    fn filter(&self, limit: i64) -> TimelineFilter {
        TimelineFilter {
            org: self.org.parse().ok(),
            profession: Profession::parse(&self.profession).ok(),
            kind: EntryKind::parse(&self.kind).ok(),
            before: (!self.before_at.is_empty() && !self.before_id.is_empty())
                .then(|| (self.before_at.clone(), self.before_id.clone())),
            limit,
        }
    }

    /// The query string of the next page, keeping the filters.
    fn next_page(&self, last: &EntryView) -> String {
        format!(
            "org={}&profession={}&kind={}&before_at={}&before_id={}",
            crate::view::urlencode(&self.org),
            crate::view::urlencode(&self.profession),
            crate::view::urlencode(&self.kind),
            crate::view::urlencode(&last.entry_recorded_at),
            crate::view::urlencode(&last.entry_id)
        )
    }
}

/// One entry as shown, with what the viewer may do with it.
pub struct Card {
    pub e: EntryView,
    pub can_amend: bool,
    pub time: String,
}

pub struct DayGroup {
    pub label: String,
    pub cards: Vec<Card>,
}

#[derive(Template)]
#[template(path = "chart_timeline.html")]
pub struct TimelineFragment {
    pub tr: Tr,
    pub patient_id: String,
    pub days: Vec<DayGroup>,
    pub next: Option<String>,
    pub filtered: bool,
}

pub const PAGE_SIZE: i64 = 50;

fn jst_day(ts: &str) -> String {
    ts.get(..16)
        .and_then(|_| time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).ok())
        .map(|t| t.to_offset(time::macros::offset!(+9)).date().to_string())
        .unwrap_or_default()
}

/// Load one page of the timeline and group it by day (Japan time).
pub async fn timeline_fragment(
    state: &AppState,
    g: &ChartGrant,
    tr: Tr,
    q: &TimelineQuery,
) -> AppResult<TimelineFragment> {
    let entries = state.store.timeline(g, &q.filter(PAGE_SIZE)).await?;
    let next = (entries.len() as i64 == PAGE_SIZE).then(|| entries.last().map(|l| q.next_page(l))).flatten();
    let mut days: Vec<DayGroup> = Vec::new();
    for e in entries {
        let day = jst_day(&e.entry_recorded_at);
        let label = parse_iso_date(&day).map(|d| tr.date(&d)).unwrap_or(day);
        let card = Card {
            can_amend: may_amend(g.principal(), e.author_org_id) && e.in_error.is_none(),
            time: tr.datetime(&e.recorded_at).get(11..).unwrap_or("").to_string(),
            e,
        };
        match days.last_mut() {
            Some(d) if d.label == label => d.cards.push(card),
            _ => days.push(DayGroup { label, cards: vec![card] }),
        }
    }
    let filtered = !q.org.is_empty() || !q.profession.is_empty() || !q.kind.is_empty();
    Ok(TimelineFragment { tr, patient_id: g.patient().to_string(), days, next, filtered })
}

/// `GET /patients/{id}/timeline`: a page of entries (htmx paging and filters).
pub async fn timeline(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Query(q): Query<TimelineQuery>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "chart.read", &ctx.audit()).await?;
    state.store.mark_chart_seen(&g).await?;
    page(&timeline_fragment(&state, &g, ctx.tr(), &q).await?)
}

#[derive(Deserialize)]
pub struct LiveQuery {
    #[serde(default)]
    since: String,
}

/// `GET /patients/{id}/live?since=T`: polled by an open chart; answers a notice when
/// someone wrote since T, nothing otherwise.
pub async fn live(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Query(q): Query<LiveQuery>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "chart.poll", &ctx.audit()).await?;
    let n = if q.since.is_empty() { 0 } else { state.store.entries_since(&g, &q.since).await? };
    let tr = ctx.tr();
    let body = if n > 0 {
        format!(
            "<p class=\"live-notice\" role=\"status\">{} <a href=\"/patients/{}#timeline\">{}</a></p>",
            crate::view::escape(&tr.t1("chart-live-new", "count", &n.to_string())),
            pid,
            crate::view::escape(&tr.t("chart-live-reload"))
        )
    } else {
        String::new()
    };
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    Ok(r)
}

/// Everything the write forms need: whom one can mention.
pub struct Composer {
    pub people: Vec<(UserId, String, String)>,
    pub orgs: Vec<(OrgId, String)>,
    pub kinds: Vec<(&'static str, String)>,
    pub doc_types: Vec<(&'static str, String)>,
    pub professions: Vec<(&'static str, String)>,
}

pub async fn composer(state: &AppState, g: &ChartGrant, tr: &Tr) -> AppResult<Composer> {
    let people = state.store.team_people(g).await?;
    let mut orgs: Vec<(OrgId, String)> = Vec::new();
    for (_, _, o, name) in &people {
        if !orgs.iter().any(|(x, _)| x == o) {
            orgs.push((*o, name.clone()));
        }
    }
    Ok(Composer {
        people: people.into_iter().map(|(u, n, _, o)| (u, n, o)).collect(),
        orgs,
        kinds: EntryKind::ALL.iter().map(|k| (k.as_str(), tr.label("entry-kind", k.as_str()))).collect(),
        doc_types: DocumentType::ALL.iter().map(|d| (d.as_str(), tr.label("doc-type", d.as_str()))).collect(),
        professions: Profession::ALL.iter().map(|p| (p.as_str(), tr.label("profession", p.as_str()))).collect(),
    })
}

/// Parse a number field: empty is None, anything else must be a number.
fn num<T: std::str::FromStr>(inv: &mut Invalid, pairs: &[(String, String)], field: &'static str) -> Option<T> {
    let raw = tsunagu_domain::kana::fold_width(get(pairs, field).trim());
    if raw.is_empty() {
        return None;
    }
    match raw.parse() {
        Ok(v) => Some(v),
        Err(_) => {
            inv.push(field, "err-number");
            None
        }
    }
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

fn opt_text(pairs: &[(String, String)], name: &str) -> Option<String> {
    Some(get(pairs, name).to_string()).filter(|s| !s.trim().is_empty())
}

/// Build an entry body from the form of its kind. `existing_doc` keeps a document's
/// attachments when it is corrected (the file itself is not replaced).
pub fn body_from_form(
    kind: EntryKind,
    pairs: &[(String, String)],
    existing_doc: Option<&Document>,
) -> Result<EntryBody, Invalid> {
    let mut inv = Invalid::default();
    let body = match kind {
        EntryKind::ProgressNote => EntryBody::ProgressNote(ProgressNote {
            subjective: opt_text(pairs, "subjective"),
            objective: opt_text(pairs, "objective"),
            assessment: opt_text(pairs, "assessment"),
            plan: opt_text(pairs, "plan"),
            text: opt_text(pairs, "text"),
        }),
        EntryKind::NursingRecord => EntryBody::NursingRecord { text: get(pairs, "text").to_string() },
        EntryKind::VitalSigns => EntryBody::VitalSigns(VitalSigns {
            temperature_c: num(&mut inv, pairs, "temperature_c"),
            pulse_bpm: num(&mut inv, pairs, "pulse_bpm"),
            bp_systolic: num(&mut inv, pairs, "bp_systolic"),
            bp_diastolic: num(&mut inv, pairs, "bp_diastolic"),
            respiration_rate: num(&mut inv, pairs, "respiration_rate"),
            spo2: num(&mut inv, pairs, "spo2"),
            pain_nrs: num(&mut inv, pairs, "pain_nrs"),
            note: opt_text(pairs, "note"),
        }),
        EntryKind::MedicationList => {
            let mut items = Vec::new();
            for i in 0..MED_ROWS {
                let date = |inv: &mut Invalid, f: &str| {
                    let raw = get(pairs, &format!("{f}_{i}")).trim().replace('/', "-");
                    if raw.is_empty() {
                        None
                    } else {
                        let d = parse_iso_date(&raw);
                        if d.is_none() {
                            inv.push(if f == "start" { "start" } else { "stop" }, "err-date");
                        }
                        d
                    }
                };
                let start = date(&mut inv, "start");
                let stop = date(&mut inv, "stop");
                items.push(MedicationItem {
                    drug: get(pairs, &format!("drug_{i}")).to_string(),
                    dose: get(pairs, &format!("dose_{i}")).to_string(),
                    route: get(pairs, &format!("route_{i}")).to_string(),
                    frequency: get(pairs, &format!("frequency_{i}")).to_string(),
                    start,
                    stop,
                    opioid: matches!(get(pairs, &format!("opioid_{i}")), "on" | "1" | "true"),
                });
            }
            EntryBody::MedicationList(MedicationList { items })
        }
        EntryKind::Message => EntryBody::Message(Message { text: get(pairs, "text").to_string(), attachments: vec![] }),
        EntryKind::Document => {
            let Some(doc) = existing_doc else {
                return Err(Invalid::one("file", "err-file-required"));
            };
            let doc_type = inv.merge(DocumentType::parse(get(pairs, "doc_type"))).unwrap_or(doc.doc_type);
            EntryBody::Document(Document {
                title: get(pairs, "title").to_string(),
                doc_type,
                note: opt_text(pairs, "note"),
                attachments: doc.attachments.clone(),
            })
        }
    };
    inv.into_result()?;
    body.validate()
}

/// Rows of the medication form.
pub const MED_ROWS: usize = 6;

fn mentions_from(pairs: &[(String, String)], c: &Composer) -> Vec<Mention> {
    pairs
        .iter()
        .filter(|(k, _)| k == "mention")
        .filter_map(|(_, v)| {
            if let Some(u) = v.strip_prefix("u:") {
                let u: UserId = u.parse().ok()?;
                c.people.iter().any(|(p, _, _)| *p == u).then_some(Mention::User(u))
            } else if let Some(o) = v.strip_prefix("o:") {
                let o: OrgId = o.parse().ok()?;
                c.orgs.iter().any(|(x, _)| *x == o).then_some(Mention::Org(o))
            } else {
                None
            }
        })
        .collect()
}

/// After a write form on the chart: back to the timeline, or the chart again with the
/// messages and what was typed (nothing was saved).
async fn back_to_chart(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    pid: tsunagu_domain::PatientId,
    result: AppResult<()>,
    typed: Option<Vec<(String, String)>>,
) -> AppResult<Response> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{pid}#timeline")).into_response()),
        Err(AppError::Invalid(inv)) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &inv.0));
            super::patients::show_with_errors(state, ctx, me, pid, errors, typed).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /patients/{id}/entries`: write a note, nursing record, vitals, medication
/// list or message. Invalid input re-renders the page with the messages; nothing saved.
pub async fn add_entry(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    body: Bytes,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "entry.create", &ctx.audit()).await?;
    let pairs = form_urlencoded_pairs(&body);
    let result = async {
        let kind = EntryKind::parse(get(&pairs, "kind"))?;
        if kind == EntryKind::Document {
            return Err(AppError::Invalid(Invalid::one("file", "err-file-required")));
        }
        let b = body_from_form(kind, &pairs, None)?;
        let c = composer(&state, &g, &ctx.tr()).await?;
        let mentions = if kind == EntryKind::Message { mentions_from(&pairs, &c) } else { vec![] };
        let e = state.store.add_entry(&g, b, &mentions, &ctx.audit()).await?;
        crate::mail::notify_mentions(&state, pid, &mentions, me.principal.user).await;
        super::search::index_version(&state, pid, &e);
        Ok(())
    }
    .await;
    back_to_chart(&state, &ctx, &me, pid, result, Some(pairs)).await
}

/// `POST /patients/{id}/documents` (multipart): a PDF or photo, its type told from its
/// content; refused before it is stored when too large or of another type.
pub async fn upload_document(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    mut mp: Multipart,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "entry.create", &ctx.audit()).await?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut too_large = false;
    while let Ok(Some(mut field)) = mp.next_field().await {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            let filename = clean_filename(field.file_name().unwrap_or(""));
            let mut buf: Vec<u8> = Vec::new();
            // Read in chunks so an oversize file is refused without buffering it whole.
            while let Ok(Some(chunk)) = field.chunk().await {
                if buf.len() + chunk.len() > MAX_UPLOAD_BYTES {
                    too_large = true;
                    break;
                }
                buf.extend_from_slice(&chunk);
            }
            if too_large {
                break;
            }
            if !buf.is_empty() {
                file = Some((filename, buf));
            }
        } else if let Ok(text) = field.text().await {
            pairs.push((name, text));
        }
    }
    let result: AppResult<()> = async {
        if too_large {
            return Err(Invalid::one("file", "err-file-too-large").into());
        }
        let (filename, bytes) = file.ok_or(Invalid::one("file", "err-file-required"))?;
        let doc_type = DocumentType::parse(get(&pairs, "doc_type"))?;
        store_document(
            &state,
            &g,
            &bytes,
            &filename,
            doc_type,
            opt_text(&pairs, "title"),
            opt_text(&pairs, "note"),
            &ctx,
        )
        .await?;
        Ok(())
    }
    .await;
    back_to_chart(&state, &ctx, &me, pid, result, None).await
}

/// Store a document or photo on the chart, for the page and the API alike: the type
/// is told from the bytes, the entry is validated before anything is stored, then the
/// bytes, the attachment record and the entry are written, and the entry is indexed.
#[allow(clippy::too_many_arguments)]
pub async fn store_document(
    state: &AppState,
    g: &ChartGrant,
    bytes: &[u8],
    filename: &str,
    doc_type: DocumentType,
    title: Option<String>,
    note: Option<String>,
    ctx: &RequestCtx,
) -> AppResult<EntryView> {
    if bytes.is_empty() {
        return Err(Invalid::one("file", "err-file-required").into());
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(Invalid::one("file", "err-file-too-large").into());
    }
    let media = sniff(bytes).ok_or(Invalid::one("file", "err-file-type"))?;
    let filename = clean_filename(filename);
    let title = title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| filename.clone());
    let note = note.filter(|n| !n.trim().is_empty());
    let placeholder = tsunagu_domain::chart::AttachmentRef {
        id: String::new(),
        sha256: String::new(),
        size: 0,
        media_type: String::new(),
        filename: filename.clone(),
    };
    let probe = Document { title, doc_type, note, attachments: vec![placeholder] };
    EntryBody::Document(probe.clone()).validate()?;
    let stored = state.blobs.put(bytes).await.map_err(|e| AppError::Internal(e.to_string()))?;
    let att = state
        .store
        .add_attachment(g, &stored.sha256, stored.size as i64, media.mime(), &filename, &ctx.audit())
        .await?;
    let e = state
        .store
        .add_entry(g, EntryBody::Document(Document { attachments: vec![att], ..probe }), &[], &ctx.audit())
        .await?;
    super::search::index_version(state, g.patient(), &e);
    Ok(e)
}

#[derive(Deserialize)]
pub struct DownloadQuery {
    #[serde(default)]
    inline: Option<String>,
}

/// `GET /patients/{id}/attachments/{att}`: the file, checked against its hash, with
/// `Content-Disposition` and `nosniff`; images may be shown inline for the preview.
pub async fn download(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, att)): Path<(String, String)>,
    Query(q): Query<DownloadQuery>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "attachment.read", &ctx.audit()).await?;
    let a = state.store.attachment(&g, &att).await?;
    let bytes =
        state.blobs.get(&a.sha256).await.map_err(|e| AppError::Internal(format!("attachment {}: {e}", a.id)))?;
    let inline = q.inline.is_some()
        && tsunagu_domain::media::MediaType::from_mime(&a.media_type)
            .is_some_and(|m| m.is_image() || m == tsunagu_domain::media::MediaType::Pdf);
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&a.media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let disposition = format!(
        "{}; filename=\"{}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        a.filename
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
            .collect::<String>(),
        crate::view::urlencode(&a.filename)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert("x-content-sha256", HeaderValue::from_str(&a.sha256).unwrap_or(HeaderValue::from_static("")));
    Ok(r)
}

#[derive(Template)]
#[template(path = "entry_history.html")]
pub struct HistoryPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub versions: Vec<VersionItem>,
}

/// A version and, after the first, what changed from the one before.
pub struct VersionItem {
    pub v: EntryView,
    pub diff: Vec<(&'static str, String)>,
}

fn change_class(c: Change) -> &'static str {
    match c {
        Change::Same => "same",
        Change::Removed => "removed",
        Change::Added => "added",
    }
}

/// `GET /patients/{id}/entries/{entry}`: every version, with what each correction changed.
pub async fn history(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, entry)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "entry.history", &ctx.audit()).await?;
    let versions = state.store.entry_history(&g, &entry).await?;
    let mut items: Vec<VersionItem> = Vec::new();
    let mut previous: Option<String> = None;
    for v in versions {
        let text = v.body.text();
        let diff = match &previous {
            Some(p) => diff_lines(p, &text).into_iter().map(|(c, l)| (change_class(c), l)).collect(),
            None => Vec::new(),
        };
        previous = Some(text);
        items.push(VersionItem { v, diff });
    }
    let patient = state.store.patient(&g).await?;
    page(&HistoryPage { chrome: me.chrome(&ctx, &state), patient, versions: items })
}

#[derive(Template)]
#[template(path = "entry_correct.html")]
pub struct CorrectPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub current: EntryView,
    pub errors: FormErrors,
    pub med_rows: Vec<MedicationItem>,
    pub doc_types: Vec<(&'static str, String)>,
}

async fn correct_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    g: &ChartGrant,
    entry: &str,
    errors: FormErrors,
) -> AppResult<CorrectPage> {
    let versions = state.store.entry_history(g, entry).await?;
    let current = versions.last().cloned().ok_or(AppError::NotFound)?;
    if !may_amend(&me.principal, current.author_org_id) {
        return Err(AppError::Forbidden);
    }
    let mut med_rows = match &current.body {
        EntryBody::MedicationList(m) => m.items.clone(),
        _ => vec![],
    };
    med_rows.resize(MED_ROWS.max(med_rows.len()), MedicationItem::default());
    let tr = ctx.tr();
    Ok(CorrectPage {
        chrome: me.chrome(ctx, state),
        patient: state.store.patient(g).await?,
        current,
        errors,
        med_rows,
        doc_types: DocumentType::ALL.iter().map(|d| (d.as_str(), tr.label("doc-type", d.as_str()))).collect(),
    })
}

pub async fn correct_form(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, entry)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "entry.history", &ctx.audit()).await?;
    page(&correct_page(&state, &ctx, &me, &g, &entry, FormErrors::default()).await?)
}

/// `POST /patients/{id}/entries/{entry}/correct`: a new version with a reason.
pub async fn correct(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, entry)): Path<(String, String)>,
    body: Bytes,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "entry.correct", &ctx.audit()).await?;
    let pairs = form_urlencoded_pairs(&body);
    let result: AppResult<()> = async {
        let versions = state.store.entry_history(&g, &entry).await?;
        let current = versions.last().ok_or(AppError::NotFound)?;
        let existing_doc = match &current.body {
            EntryBody::Document(d) => Some(d),
            _ => None,
        };
        let b = body_from_form(current.kind, &pairs, existing_doc)?;
        let version_id = get(&pairs, "version_id");
        let e = state.store.correct_entry(&g, version_id, b, get(&pairs, "reason"), &ctx.audit()).await?;
        super::search::index_version(&state, pid, &e);
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{pid}/entries/{entry}")).into_response()),
        Err(AppError::Invalid(inv)) => {
            let p = correct_page(&state, &ctx, &me, &g, &entry, FormErrors(field_messages(&ctx.tr(), &inv.0))).await?;
            crate::view::render(axum::http::StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(AppError::Conflict(f)) => {
            let p = correct_page(&state, &ctx, &me, &g, &entry, FormErrors(field_messages(&ctx.tr(), &[f]))).await?;
            crate::view::render(axum::http::StatusCode::CONFLICT, &p)
        }
        Err(e) => Err(e),
    }
}

/// `POST /patients/{id}/entries/{entry}/error`: mark the entry entered in error.
pub async fn mark_error(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, entry)): Path<(String, String)>,
    body: Bytes,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g =
        state.store.open_chart(&me.principal, pid, ChartAction::Write, "entry.entered_in_error", &ctx.audit()).await?;
    let pairs = form_urlencoded_pairs(&body);
    match state.store.mark_entered_in_error(&g, &entry, get(&pairs, "reason"), &ctx.audit()).await {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{pid}#timeline")).into_response()),
        Err(tsunagu_store::StoreError::Invalid(inv)) => {
            let p = correct_page(&state, &ctx, &me, &g, &entry, FormErrors(field_messages(&ctx.tr(), &inv.0))).await?;
            crate::view::render(axum::http::StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "inbox.html")]
pub struct InboxPage {
    pub chrome: Chrome,
    pub rows: Vec<tsunagu_store::InboxRow>,
    /// Letters to the organization that nobody there has acknowledged yet.
    pub new_letters: Vec<tsunagu_store::LetterBoxRow>,
    /// Emergency accesses to the organization's patients in the last week.
    pub emergencies: Vec<tsunagu_store::EmergencyAlert>,
    /// Hospital-to-home checklist tasks of mine past their due date.
    pub overdue: Vec<tsunagu_store::OverdueTask>,
    /// Home diary alerts my organization has not acknowledged.
    pub diary_alerts: Vec<tsunagu_store::DiaryAlertRow>,
    /// Family messages since I last looked, per patient.
    pub family_unread: Vec<(tsunagu_domain::PatientId, i64)>,
    /// Which page this is (from 1), and how many charts there are in all.
    pub page_no: i64,
    pub total: i64,
}

impl InboxPage {
    /// Family messages on this patient's thread since I last looked.
    pub fn family_unread_of(&self, p: &tsunagu_domain::PatientId) -> i64 {
        self.family_unread.iter().find(|(id, _)| id == p).map(|(_, n)| *n).unwrap_or(0)
    }

    /// The charts this page shows, as "from–to of total" for the pager.
    pub fn range(&self, tr: &Tr) -> String {
        let from = InboxPaging::page(self.page_no).offset + 1;
        let to = from + self.rows.len() as i64 - 1;
        tr.tn(
            "inbox-range",
            &[("from", &from.to_string()), ("to", &to.to_string()), ("total", &self.total.to_string())],
        )
    }

    pub fn prev_page(&self) -> Option<i64> {
        (self.page_no > 1).then_some(self.page_no - 1)
    }

    pub fn next_page(&self) -> Option<i64> {
        let this = InboxPaging::page(self.page_no);
        (this.offset + this.limit < self.total).then_some(self.page_no + 1)
    }
}

#[derive(Debug, Deserialize)]
pub struct InboxQuery {
    /// The page, from 1; anything else shows the first (a stale or mistyped link).
    #[serde(default)]
    pub page: String,
}

/// `GET /inbox`: new letters first, then what is new on my patients since I last looked,
/// a page of charts at a time.
pub async fn inbox(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Query(q): Query<InboxQuery>,
) -> AppResult<Response> {
    let page_no =
        q.page.parse::<i64>().ok().filter(|p| (1..=i64::MAX / InboxPaging::MAX_LIMIT).contains(p)).unwrap_or(1);
    let new_letters = if state.store.new_letter_count(&me.principal).await? > 0 {
        let (incoming, _) = state.store.letter_box(&me.principal, &ctx.audit()).await?;
        incoming.into_iter().filter(|r| r.letter.state == tsunagu_domain::letter::LetterState::Sent).collect()
    } else {
        Vec::new()
    };
    let emergencies = state.store.emergency_alerts(&me.principal, 7, &ctx.audit()).await?;
    let today = state.store.clock().today_jst();
    let overdue = state.store.overdue_tasks(&me.principal, today, &ctx.audit()).await?;
    let diary_alerts = state.store.diary_alerts(&me.principal, &ctx.audit()).await?;
    let InboxList { rows, total } = state.store.inbox(&me.principal, InboxPaging::page(page_no), &ctx.audit()).await?;
    // Counts only, for patients the inbox already shows (and audited): no new reach.
    let family_unread = state
        .store
        .unread_family_messages(&me.principal)
        .await?
        .into_iter()
        .filter(|(p, _)| rows.iter().any(|r| r.patient_id == *p))
        .collect();
    page(&InboxPage {
        chrome: me.chrome(&ctx, &state),
        rows,
        new_letters,
        emergencies,
        overdue,
        diary_alerts,
        family_unread,
        page_no,
        total,
    })
}

//! Letter pages: the organization's letter box, a chart's letters, writing a referral
//! letter / visiting-nurse instruction / reply, sending it (which opens the chart to
//! the recipient), acknowledging or declining one, its PDF and its FHIR document.

use super::FormErrors;
use super::patients::patient_id;
use crate::auth::{Signed, form_urlencoded_pairs};
use crate::error::{AppError, AppResult};
use crate::letters::{Draft, content_from_pairs, prefill};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, field_messages, page, render};
use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tsunagu_domain::PatientId;
use tsunagu_domain::chart::{EntryBody, EntryKind};
use tsunagu_domain::letter::{LetterBody, LetterEvent, LetterKind, LetterState, next_state};
use tsunagu_domain::patient::TeamRole;
use tsunagu_domain::policy::ChartAction;
use tsunagu_store::{ChartGrant, LetterBoxRow, LetterContent, LetterSummary, LetterView, PatientRow, TimelineFilter};

/// Fields that must be filled before a letter of this kind can be sent (marked in the form).
fn required(kind: LetterKind, name: &str) -> bool {
    match kind {
        LetterKind::Referral => matches!(name, "purpose" | "diagnoses" | "present_illness"),
        LetterKind::NursingInstruction => {
            matches!(name, "period_from" | "period_to" | "diagnoses" | "instructions" | "emergency_contact")
        }
        LetterKind::Reply => name == "body",
    }
}

/// One field of the letter form.
pub struct FormField {
    pub name: &'static str,
    pub label: String,
    pub value: String,
    pub required: bool,
    /// Dates get a date input; everything else a text area this many rows high (what
    /// is already in it shows whole, up to a point).
    pub date: bool,
    pub rows: usize,
    pub error: String,
}

/// A chart document that can travel with the letter.
pub struct DocChoice {
    pub entry_id: String,
    pub title: String,
    pub doc_type: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "letter_edit.html")]
pub struct EditPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub kind: LetterKind,
    pub title: String,
    /// None for a new letter.
    pub letter: Option<LetterSummary>,
    pub in_reply_to: Option<LetterSummary>,
    pub orgs: Vec<(String, String, bool)>,
    pub to_person: String,
    pub roles: Vec<(&'static str, String, bool)>,
    pub fields: Vec<FormField>,
    pub documents: Vec<DocChoice>,
    /// Findings on the chart that can be quoted as lab results (referrals).
    pub findings: Vec<String>,
    pub errors: FormErrors,
}

impl EditPage {
    pub fn action(&self) -> String {
        match &self.letter {
            Some(l) => format!("/patients/{}/letters/{}", self.patient.id, l.id),
            None => format!("/patients/{}/letters", self.patient.id),
        }
    }
}

#[derive(Template)]
#[template(path = "letter_show.html")]
pub struct ShowPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub view: LetterView,
    pub title: String,
    pub fields: Vec<(String, String)>,
    pub in_reply_to: Option<LetterSummary>,
    pub replies: Vec<LetterSummary>,
    pub can_receive: bool,
    pub can_decline: bool,
    pub can_reply: bool,
    pub errors: FormErrors,
}

#[derive(Template)]
#[template(path = "letters_chart.html")]
pub struct ChartLettersPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub letters: Vec<LetterSummary>,
    pub can_refer: bool,
}

#[derive(Template)]
#[template(path = "letters_box.html")]
pub struct BoxPage {
    pub chrome: Chrome,
    pub incoming: Vec<LetterBoxRow>,
    pub outgoing: Vec<LetterBoxRow>,
}

/// `GET /letters`: letters to the organization (new ones first to act on) and letters
/// it wrote.
pub async fn letter_box(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    let (incoming, outgoing) = state.store.letter_box(&me.principal, &ctx.audit()).await?;
    page(&BoxPage { chrome: me.chrome(&ctx, &state), incoming, outgoing })
}

/// `GET /letters/badge`: the header's alert, polled: how many letters to the
/// organization nobody there has acknowledged.
pub async fn badge(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    let n = state.store.new_letter_count(&me.principal).await?;
    let body = if n > 0 {
        format!(
            "<span class=\"badge alert\" id=\"letters-new\" role=\"status\" title=\"{}\">{n}</span>",
            crate::view::escape(&ctx.tr().t1("letters-new-count", "count", &n.to_string()))
        )
    } else {
        String::new()
    };
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    Ok(r)
}

/// `GET /patients/{id}/letters`: the chart's letters.
pub async fn chart_letters(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "letters.read", &ctx.audit()).await?;
    let can_refer = state.store.allows(&g, ChartAction::Refer).await?;
    page(&ChartLettersPage {
        chrome: me.chrome(&ctx, &state),
        patient: state.store.patient(&g).await?,
        letters: state.store.letters(&g).await?,
        can_refer,
    })
}

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    kind: String,
}

/// `GET /patients/{id}/letters/new?kind=referral|nursing_instruction`
pub async fn new_form(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Refer, "letter.compose", &ctx.audit()).await?;
    let kind = LetterKind::parse(if q.kind.is_empty() { "referral" } else { &q.kind })?;
    if kind == LetterKind::Reply {
        return Err(AppError::NotFound);
    }
    let body = prefill(&state, &g, kind, None).await?;
    let content = LetterContent {
        to_org: tsunagu_domain::OrgId(uuid::Uuid::nil()),
        to_person: None,
        role: kind.usual_recipient_role(),
        body,
        attachments: vec![],
    };
    page(&edit_page(&state, &ctx, &me, &g, kind, None, None, &content, FormErrors::default()).await?)
}

#[allow(clippy::too_many_arguments)]
async fn edit_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    g: &ChartGrant,
    kind: LetterKind,
    letter: Option<LetterSummary>,
    in_reply_to: Option<LetterSummary>,
    content: &LetterContent,
    errors: FormErrors,
) -> AppResult<EditPage> {
    let tr = ctx.tr();
    let patient = state.store.patient(g).await?;
    let orgs = state
        .store
        .list_orgs()
        .await?
        .into_iter()
        .filter(|o| o.is_approved() && o.id != me.principal.org)
        .map(|o| {
            let label = format!("{}（{}）", o.name, tr.label("org-kind", o.kind.as_str()));
            (o.id.to_string(), label, o.id == content.to_org)
        })
        .collect();
    let roles = TeamRole::ALL
        .iter()
        .filter(|r| **r != TeamRole::Owner)
        .map(|r| (r.as_str(), tr.label("role", r.as_str()), *r == content.role))
        .collect();
    let fields = content
        .body
        .fields()
        .into_iter()
        .map(|f| FormField {
            name: f.name,
            label: tr.label("field", f.name),
            value: f.text.to_string(),
            required: required(kind, f.name),
            date: matches!(f.name, "period_from" | "period_to"),
            rows: (f.text.lines().count() + 1).clamp(if required(kind, f.name) { 4 } else { 2 }, 14),
            error: errors.of(f.name),
        })
        .collect();
    let docs = state
        .store
        .timeline(g, &TimelineFilter { kind: Some(EntryKind::Document), limit: 200, ..TimelineFilter::default() })
        .await?;
    let documents = docs
        .into_iter()
        .filter(|e| e.in_error.is_none())
        .filter_map(|e| match e.body {
            EntryBody::Document(d) => Some(DocChoice {
                checked: content.attachments.contains(&e.entry_id),
                entry_id: e.entry_id,
                title: d.title,
                doc_type: tr.label("doc-type", d.doc_type.as_str()),
            }),
            _ => None,
        })
        .collect();
    let findings =
        if kind == LetterKind::Referral { crate::letters::chart_findings(state, g).await? } else { Vec::new() };
    Ok(EditPage {
        chrome: me.chrome(ctx, state),
        patient,
        kind,
        findings,
        title: tr.label("letter-title", kind.as_str()),
        letter,
        in_reply_to,
        orgs,
        to_person: content.to_person.clone().unwrap_or_default(),
        roles,
        fields,
        documents,
        errors,
    })
}

/// What a letter form asked for: keep the draft, or send it.
fn wants_send(pairs: &[(String, String)]) -> bool {
    pairs.iter().any(|(k, v)| k == "action" && v == "send")
}

/// `POST /patients/{id}/letters`: start a letter (saved as a draft, or sent at once).
/// A letter that cannot be sent is not saved either; the form comes back with the
/// messages and what was typed.
pub async fn create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    body: Bytes,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Refer, "letter.create", &ctx.audit()).await?;
    let pairs = form_urlencoded_pairs(&body);
    let kind = LetterKind::parse(pairs.iter().find(|(k, _)| k == "kind").map(|(_, v)| v.as_str()).unwrap_or(""))?;
    if kind == LetterKind::Reply {
        return Err(AppError::NotFound);
    }
    let r: AppResult<String> = async {
        let content = content_from_pairs(kind, &pairs)?;
        crate::letters::write(&state, &ctx, &me.principal, &g, Draft::New, content, wants_send(&pairs)).await
    }
    .await;
    after_form(&state, &ctx, &me, &g, kind, None, &pairs, r).await
}

/// After a letter form: to the letter, or the form again with the messages.
#[allow(clippy::too_many_arguments)]
async fn after_form(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    g: &ChartGrant,
    kind: LetterKind,
    letter: Option<LetterSummary>,
    pairs: &[(String, String)],
    r: AppResult<String>,
) -> AppResult<Response> {
    let (status, fields) = match r {
        Ok(id) => return Ok(Redirect::to(&format!("/patients/{}/letters/{id}", g.patient())).into_response()),
        Err(AppError::Invalid(inv)) => (StatusCode::UNPROCESSABLE_ENTITY, inv.0),
        Err(AppError::Conflict(f)) => (StatusCode::CONFLICT, vec![f]),
        Err(e) => return Err(e),
    };
    let errors = FormErrors(field_messages(&ctx.tr(), &fields));
    let mut typed = content_from_pairs(kind, pairs).unwrap_or_else(|_| LetterContent {
        to_org: tsunagu_domain::OrgId(uuid::Uuid::nil()),
        to_person: None,
        role: kind.usual_recipient_role(),
        body: LetterBody::empty(kind),
        attachments: vec![],
    });
    if typed.body.kind() != kind {
        typed.body = LetterBody::empty(kind);
    }
    let in_reply_to = match letter.as_ref().and_then(|l| l.in_reply_to.clone()) {
        Some(o) => state.store.letter(g, &o).await.ok().map(|v| v.summary),
        None => None,
    };
    let p = edit_page(state, ctx, me, g, kind, letter, in_reply_to, &typed, errors).await?;
    render(status, &p)
}

/// `GET /patients/{id}/letters/{letter}`: a draft opens in its form (for its writer);
/// any other letter is shown with what the reader's organization may do with it.
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "letter.read", &ctx.audit()).await?;
    let view = state.store.letter(&g, &id).await?;
    if view.summary.state == LetterState::Draft {
        let in_reply_to = match &view.summary.in_reply_to {
            Some(o) => state.store.letter(&g, o).await.ok().map(|v| v.summary),
            None => None,
        };
        let p = edit_page(
            &state,
            &ctx,
            &me,
            &g,
            view.summary.kind,
            Some(view.summary.clone()),
            in_reply_to,
            &view.content,
            FormErrors::default(),
        )
        .await?;
        return page(&p);
    }
    page(&show_page(&state, &ctx, &me, &g, view, FormErrors::default()).await?)
}

async fn show_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    g: &ChartGrant,
    view: LetterView,
    errors: FormErrors,
) -> AppResult<ShowPage> {
    let tr = ctx.tr();
    let side = view.side(&me.principal);
    let state_now = view.summary.state;
    let mut fields: Vec<(String, String)> = Vec::new();
    for f in view.content.body.fields() {
        if !f.text.is_empty() {
            fields.push((tr.label("field", f.name), f.text.to_string()));
        }
    }
    let in_reply_to = match &view.summary.in_reply_to {
        Some(o) => state.store.letter(g, o).await.ok().map(|v| v.summary),
        None => None,
    };
    let mut replies = Vec::new();
    for r in &view.replies {
        if let Ok(v) = state.store.letter(g, r).await {
            replies.push(v.summary);
        }
    }
    let is_answerable = view.summary.kind != LetterKind::Reply;
    Ok(ShowPage {
        chrome: me.chrome(ctx, state),
        patient: state.store.patient(g).await?,
        title: tr.label("letter-title", view.summary.kind.as_str()),
        can_receive: next_state(state_now, LetterEvent::Receive, side).is_some(),
        can_decline: next_state(state_now, LetterEvent::Decline, side).is_some(),
        can_reply: is_answerable
            && next_state(state_now, LetterEvent::Reply, side).is_some()
            && !replies.iter().any(|r| r.state == LetterState::Draft),
        view,
        fields,
        in_reply_to,
        replies,
        errors,
    })
}

/// `POST /patients/{id}/letters/{letter}`: save the draft, or save and send it.
pub async fn update(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, id)): Path<(String, String)>,
    body: Bytes,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Refer, "letter.save", &ctx.audit()).await?;
    let current = state.store.letter(&g, &id).await?;
    let kind = current.summary.kind;
    let pairs = form_urlencoded_pairs(&body);
    let r: AppResult<String> = async {
        let content = content_from_pairs(kind, &pairs)?;
        let expected_version = pairs.iter().find(|(k, _)| k == "version").and_then(|(_, v)| v.parse().ok());
        let draft = Draft::Saved { id: &id, expected_version, current: &current.content };
        crate::letters::write(&state, &ctx, &me.principal, &g, draft, content, wants_send(&pairs)).await
    }
    .await;
    after_form(&state, &ctx, &me, &g, kind, Some(current.summary), &pairs, r).await
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

async fn after_move(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    pid: PatientId,
    id: &str,
    r: AppResult<()>,
) -> AppResult<Response> {
    let fields = match r {
        Ok(()) => return Ok(Redirect::to(&format!("/patients/{pid}/letters/{id}")).into_response()),
        Err(AppError::Invalid(inv)) => inv.0,
        Err(AppError::Conflict(f)) => vec![f],
        Err(e) => return Err(e),
    };
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "letter.read", &ctx.audit()).await?;
    let view = state.store.letter(&g, id).await?;
    let p = show_page(state, ctx, me, &g, view, FormErrors(field_messages(&ctx.tr(), &fields))).await?;
    render(StatusCode::UNPROCESSABLE_ENTITY, &p)
}

/// `POST /patients/{id}/letters/{letter}/receive`: the recipient acknowledges it.
pub async fn receive(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "letter.receive", &ctx.audit()).await?;
    let r = state.store.receive_letter(&g, &id, &ctx.audit()).await.map_err(AppError::from);
    after_move(&state, &ctx, &me, pid, &id, r).await
}

/// `POST /patients/{id}/letters/{letter}/decline`: the recipient declines, saying why.
pub async fn decline(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, id)): Path<(String, String)>,
    Form(f): Form<ReasonForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "letter.decline", &ctx.audit()).await?;
    let r = state.store.decline_letter(&g, &id, &f.reason, &ctx.audit()).await.map_err(AppError::from);
    after_move(&state, &ctx, &me, pid, &id, r).await
}

/// `POST /patients/{id}/letters/{letter}/discard`: the writer throws a draft away.
pub async fn discard(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Refer, "letter.discard", &ctx.audit()).await?;
    state.store.discard_letter(&g, &id, &ctx.audit()).await?;
    Ok(Redirect::to(&format!("/patients/{pid}/letters")).into_response())
}

/// `POST /patients/{id}/letters/{letter}/reply`: start the reply (返書) to a letter,
/// pre-filled, and open it.
pub async fn start_reply(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Refer, "letter.create", &ctx.audit()).await?;
    let new_id = start_reply_draft(&state, &ctx, &g, &id).await?;
    Ok(Redirect::to(&format!("/patients/{pid}/letters/{new_id}")).into_response())
}

/// The reply draft to letter `id`, pre-filled; for the page and the API.
pub async fn start_reply_draft(state: &AppState, ctx: &RequestCtx, g: &ChartGrant, id: &str) -> AppResult<String> {
    let original = state.store.letter(g, id).await?;
    let body = prefill(state, g, LetterKind::Reply, Some(&original)).await?;
    let content = LetterContent {
        to_org: original.summary.from_org_id,
        to_person: Some(original.summary.from_user_name.clone()),
        role: TeamRole::HospitalAttending,
        body,
        attachments: vec![],
    };
    Ok(state.store.create_letter(g, content, Some(id), &ctx.audit()).await?)
}

/// `GET /patients/{id}/letters/{letter}/pdf`: the letter printed (A4, Japanese layout).
pub async fn pdf(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "letter.pdf", &ctx.audit()).await?;
    pdf_response(&state, &g, &id).await
}

pub async fn pdf_response(state: &AppState, g: &ChartGrant, id: &str) -> AppResult<Response> {
    let view = state.store.letter(g, id).await?;
    let bytes = crate::letters::pdf(state, g, &view).await?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Ok(v) =
        HeaderValue::from_str(&format!("inline; filename=\"{}-{}.pdf\"", view.summary.kind.as_str(), view.summary.id))
    {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `GET /patients/{id}/letters/{letter}/fhir`: the letter as a FHIR document Bundle.
pub async fn fhir(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    headers: axum::http::HeaderMap,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "letter.fhir", &ctx.audit()).await?;
    fhir_response(&state, &g, &id, &crate::letters::base_url(&state, &headers)).await
}

pub async fn fhir_response(state: &AppState, g: &ChartGrant, id: &str, base: &str) -> AppResult<Response> {
    let view = state.store.letter(g, id).await?;
    if view.summary.state == LetterState::Draft {
        // A document Bundle is a final document; a draft has none yet.
        return Err(AppError::Conflict(tsunagu_domain::FieldError::new("state", "err-letter-state")));
    }
    let bundle = crate::letters::fhir_bundle(state, g, &view, base).await?;
    let mut r = bundle.to_string().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+json; charset=utf-8"));
    Ok(r)
}

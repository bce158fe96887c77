//! The team's side of family participation, on the chart (issue #10): invite the
//! patient or a family member with a one-time link, end an account's access, read the
//! home diary (marked as patient-reported) and acknowledge its alerts, answer on the
//! family thread, share documents, and schedule visits.

use super::patients::patient_id;
use super::{FormErrors, local_datetime, refused};
use crate::auth::Signed;
use crate::error::{AppError, AppResult};
use crate::middleware::RequestCtx;
use crate::password::{random_token, sha256_hex};
use crate::state::AppState;
use crate::view::{Chrome, field_messages, page, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tsunagu_domain::family::VisitInput;
use tsunagu_domain::person::Profession;
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::{Invalid, PatientId};
use tsunagu_store::{
    AttachmentRow, ChartGrant, DiaryRow, FamilyAccountRow, FamilyInvitationRow, FamilyMessageRow, PatientRow,
    SharedDocumentRow, VisitRow,
};

#[derive(Template)]
#[template(path = "family_team.html")]
pub struct FamilyTeamPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub can_write: bool,
    pub invitations: Vec<FamilyInvitationRow>,
    pub accounts: Vec<FamilyAccountRow>,
    pub diary: Vec<DiaryRow>,
    pub thread: Vec<FamilyMessageRow>,
    pub shared: Vec<SharedDocumentRow>,
    pub files: Vec<AttachmentRow>,
    /// The one-time link just made, shown once.
    pub new_link: Option<String>,
    pub errors: FormErrors,
}

async fn family_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    g: &ChartGrant,
    new_link: Option<String>,
    errors: FormErrors,
) -> AppResult<FamilyTeamPage> {
    let shared = state.store.shared_documents(g).await?;
    let files = state
        .store
        .chart_attachments(g)
        .await?
        .into_iter()
        .filter(|a| !shared.iter().any(|s| s.attachment_id == a.id))
        .collect();
    Ok(FamilyTeamPage {
        chrome: me.chrome(ctx, state),
        patient: state.store.patient(g).await?,
        can_write: state.store.allows(g, ChartAction::Write).await?,
        invitations: state.store.family_invitations(g).await?,
        accounts: state.store.family_accounts(g).await?,
        diary: state.store.diary_for_chart(g).await?,
        thread: state.store.family_thread_for_chart(g).await?,
        shared,
        files,
        new_link,
        errors,
    })
}

/// `GET /patients/{patient}/family`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "family.read", &ctx.audit()).await?;
    // Looking at the family page counts as having seen the family's messages.
    state.store.mark_chart_seen(&g).await?;
    page(&family_page(&state, &ctx, &me, &g, None, FormErrors::default()).await?)
}

/// Back to the family page after a write, or the page again with the refusal.
async fn after(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    g: &ChartGrant,
    pid: PatientId,
    result: AppResult<()>,
    anchor: &str,
) -> AppResult<Response> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{pid}/family#{anchor}")).into_response()),
        Err(e) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &refused(e)?));
            render(StatusCode::UNPROCESSABLE_ENTITY, &family_page(state, ctx, me, g, None, errors).await?)
        }
    }
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    invitee: String,
    #[serde(default)]
    relation: String,
    #[serde(default)]
    valid_days: String,
}

/// `POST /patients/{patient}/family/invitations`: a one-time link, shown once.
pub async fn invite(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(f): Form<InviteForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "family.invite", &ctx.audit()).await?;
    let token = random_token()?;
    let days = f.valid_days.trim().parse::<i64>().unwrap_or(0);
    let made =
        state.store.invite_family_member(&g, &f.invitee, &f.relation, days, &sha256_hex(&token), &ctx.audit()).await;
    match made {
        Ok(_) => {
            let link = format!("{}/f/{token}", crate::letters::base_url(&state, &headers));
            page(&family_page(&state, &ctx, &me, &g, Some(link), FormErrors::default()).await?)
        }
        Err(e) => after(&state, &ctx, &me, &g, pid, Err(e.into()), "invite").await,
    }
}

/// `POST /patients/{patient}/family/invitations/{invitation}/revoke`
pub async fn revoke(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "family.revoke", &ctx.audit()).await?;
    let r = state.store.revoke_family_invitation(&g, &id, &ctx.audit()).await.map_err(AppError::from);
    after(&state, &ctx, &me, &g, pid, r, "invitations").await
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

/// `POST /patients/{patient}/family/accounts/{account}/end`
pub async fn end_account(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, id)): Path<(String, String)>,
    Form(f): Form<ReasonForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "family.account.end", &ctx.audit()).await?;
    let r = state.store.end_family_account(&g, &id, &f.reason, &ctx.audit()).await.map_err(AppError::from);
    after(&state, &ctx, &me, &g, pid, r, "accounts").await
}

/// `POST /patients/{patient}/family/diary/{entry}/acknowledge`
pub async fn acknowledge(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, entry)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state
        .store
        .open_chart(&me.principal, pid, ChartAction::Write, "family.diary.acknowledge", &ctx.audit())
        .await?;
    let r = state.store.acknowledge_diary_alert(&g, &entry, &ctx.audit()).await.map_err(AppError::from);
    after(&state, &ctx, &me, &g, pid, r, "diary").await
}

/// `GET /patients/{patient}/family/diary/{entry}/photo`: a photo the family took.
pub async fn photo(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, entry)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g =
        state.store.open_chart(&me.principal, pid, ChartAction::Read, "family.diary.photo.read", &ctx.audit()).await?;
    let p = state.store.chart_diary_photo(&g, &entry).await?;
    super::family::photo_response(&state, &p).await
}

#[derive(Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    body: String,
}

/// `POST /patients/{patient}/family/messages`: the team answers on the family thread.
pub async fn post_message(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<MessageForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "family.thread.write", &ctx.audit()).await?;
    let r = state.store.post_team_family_message(&g, &f.body, &ctx.audit()).await.map(|_| ()).map_err(AppError::from);
    after(&state, &ctx, &me, &g, pid, r, "thread").await
}

#[derive(Deserialize)]
pub struct ShareForm {
    #[serde(default)]
    attachment: String,
}

/// `POST /patients/{patient}/family/shares`: show a chart document to the family.
pub async fn share(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<ShareForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "family.share", &ctx.audit()).await?;
    let r = match state.store.share_with_family(&g, f.attachment.trim(), &ctx.audit()).await {
        Err(tsunagu_store::StoreError::NotFound) => {
            Err(AppError::Invalid(Invalid::one("attachment", "err-invalid-choice")))
        }
        other => other.map_err(AppError::from),
    };
    after(&state, &ctx, &me, &g, pid, r, "shared").await
}

// --- visits --------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "visits.html")]
pub struct VisitsPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub can_write: bool,
    pub visits: Vec<VisitRow>,
    pub professions: Vec<(&'static str, String)>,
    pub form: VisitForm,
    pub errors: FormErrors,
}

impl VisitsPage {
    /// A visit of the reader's organization (only those can be cancelled here).
    pub fn ours(&self, v: &VisitRow) -> bool {
        self.chrome.org_id == Some(v.org_id)
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct VisitForm {
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub profession: String,
    #[serde(default)]
    pub mine: Option<String>,
    #[serde(default)]
    pub note: String,
}

async fn visits_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    g: &ChartGrant,
    form: VisitForm,
    errors: FormErrors,
) -> AppResult<VisitsPage> {
    let tr = ctx.tr();
    Ok(VisitsPage {
        chrome: me.chrome(ctx, state),
        patient: state.store.patient(g).await?,
        can_write: state.store.allows(g, ChartAction::Write).await?,
        visits: state.store.chart_visits(g).await?,
        professions: Profession::ALL.iter().map(|p| (p.as_str(), tr.label("profession", p.as_str()))).collect(),
        form,
        errors,
    })
}

/// `GET /patients/{patient}/visits`
pub async fn visits(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "visits.read", &ctx.audit()).await?;
    let form = VisitForm {
        profession: me.user.profession.as_str().to_string(),
        mine: Some("on".into()),
        ..VisitForm::default()
    };
    page(&visits_page(&state, &ctx, &me, &g, form, FormErrors::default()).await?)
}

/// `POST /patients/{patient}/visits`
pub async fn schedule(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<VisitForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "visit.schedule", &ctx.audit()).await?;
    let input = (|| {
        let mut inv = Invalid::default();
        let at = inv.merge(local_datetime("starts_at", &f.starts_at)).flatten();
        if at.is_none() && inv.is_empty() {
            inv.push("starts_at", "err-required");
        }
        let profession = inv.merge(Profession::parse(&f.profession));
        inv.clone().into_result()?;
        match (at, profession) {
            (Some(starts_at), Some(profession)) => Ok(VisitInput { starts_at, profession, note: f.note.clone() }),
            _ => Err(inv),
        }
    })();
    let user = super::checked(&f.mine).then_some(me.principal.user);
    let result = match input {
        Ok(v) => state.store.schedule_visit(&g, v, user, &ctx.audit()).await.map(|_| ()).map_err(AppError::from),
        Err(inv) => Err(AppError::Invalid(inv)),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{pid}/visits")).into_response()),
        Err(e) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &refused(e)?));
            render(StatusCode::UNPROCESSABLE_ENTITY, &visits_page(&state, &ctx, &me, &g, f, errors).await?)
        }
    }
}

/// `POST /patients/{patient}/visits/{visit}/cancel`
pub async fn cancel(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "visit.cancel", &ctx.audit()).await?;
    match state.store.cancel_visit(&g, &id, &ctx.audit()).await {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{pid}/visits")).into_response()),
        Err(e) => Err(e.into()),
    }
}

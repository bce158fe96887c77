//! Surveys answered through a one-time link (DOMAIN.md §8): a team member invites a
//! bereaved family member to answer the family evaluation; the link needs no account,
//! works once, expires, and can be revoked. The link's page shows the questionnaire and
//! who sent it, never the chart.

use super::FormErrors;
use super::patients::patient_id;
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
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::questionnaire::{Instrument, Rater, Scale};
use tsunagu_store::{InvitationRow, InvitationStatus, PatientRow, SurveyOpen};

#[derive(Template)]
#[template(path = "surveys.html")]
pub struct SurveysPage {
    pub chrome: Chrome,
    /// The patient a family's survey is about; none on the professionals' page.
    pub patient: Option<PatientRow>,
    /// Where the form posts and revocations go.
    pub base: String,
    pub invitations: Vec<InvitationRow>,
    pub instruments: Vec<(String, String)>,
    pub can_write: bool,
    /// The link just made, shown this once.
    pub new_link: Option<String>,
    pub errors: FormErrors,
}

fn title(ctx: &RequestCtx, i: &Instrument) -> String {
    if ctx.tr().is_ja() { i.title_ja.clone() } else { i.title_en.clone() }
}

async fn surveys_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    pid: tsunagu_domain::PatientId,
    new_link: Option<String>,
    errors: FormErrors,
) -> AppResult<SurveysPage> {
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "surveys.read", &ctx.audit()).await?;
    let instruments = state
        .store
        .instruments()
        .await?
        .into_iter()
        .filter(|i| i.rater == Rater::Family)
        .map(|i| (i.id.clone(), title(ctx, &i)))
        .collect();
    Ok(SurveysPage {
        chrome: me.chrome(ctx, state),
        patient: Some(state.store.patient(&g).await?),
        base: format!("/patients/{pid}/surveys"),
        invitations: state.store.survey_invitations(&g).await?,
        instruments,
        can_write: state.store.allows(&g, ChartAction::Write).await?,
        new_link,
        errors,
    })
}

/// `GET /patients/{patient}/surveys`
pub async fn list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    page(&surveys_page(&state, &ctx, &me, pid, None, FormErrors::default()).await?)
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    instrument: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    valid_days: String,
}

/// `POST /patients/{patient}/surveys`: make a link, shown once on the answer page.
pub async fn invite(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(f): Form<InviteForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "survey.invite", &ctx.audit()).await?;
    let token = random_token()?;
    let days = f.valid_days.trim().parse::<i64>().unwrap_or(0);
    match state.store.invite_family(&g, &f.instrument, &f.recipient, days, &sha256_hex(&token), &ctx.audit()).await {
        Ok(_) => {
            let link = format!("{}/s/{token}", crate::letters::base_url(&state, &headers));
            page(&surveys_page(&state, &ctx, &me, pid, Some(link), FormErrors::default()).await?)
        }
        Err(tsunagu_store::StoreError::Invalid(inv)) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &inv.0));
            render(StatusCode::UNPROCESSABLE_ENTITY, &surveys_page(&state, &ctx, &me, pid, None, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /patients/{patient}/surveys/{invitation}/revoke`
pub async fn revoke(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "survey.revoke", &ctx.audit()).await?;
    match state.store.revoke_invitation(&g, &id, &ctx.audit()).await {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{pid}/surveys")).into_response()),
        Err(tsunagu_store::StoreError::Conflict { field, key }) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &[tsunagu_domain::FieldError::new(field, key)]));
            render(StatusCode::CONFLICT, &surveys_page(&state, &ctx, &me, pid, None, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

// --- professionals' surveys (the operator, organization administrators) ----------

async fn staff_surveys_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    new_link: Option<String>,
    errors: FormErrors,
) -> AppResult<SurveysPage> {
    let invitations = state.store.professional_invitations(&me.principal).await?;
    let instruments = state
        .store
        .instruments()
        .await?
        .into_iter()
        .filter(|i| i.rater == Rater::Professional)
        .map(|i| (i.id.clone(), title(ctx, &i)))
        .collect();
    Ok(SurveysPage {
        chrome: me.chrome(ctx, state),
        patient: None,
        base: "/surveys".into(),
        invitations,
        instruments,
        can_write: true,
        new_link,
        errors,
    })
}

/// `GET /surveys`: the professionals' survey invitations.
pub async fn staff_list(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    page(&staff_surveys_page(&state, &ctx, &me, None, FormErrors::default()).await?)
}

/// `POST /surveys`: invite a professional; the link is shown this once.
pub async fn staff_invite(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    headers: HeaderMap,
    Form(f): Form<InviteForm>,
) -> AppResult<Response> {
    let token = random_token()?;
    let days = f.valid_days.trim().parse::<i64>().unwrap_or(0);
    let hash = sha256_hex(&token);
    match state.store.invite_professional(&me.principal, &f.instrument, &f.recipient, days, &hash, &ctx.audit()).await {
        Ok(_) => {
            let link = format!("{}/s/{token}", crate::letters::base_url(&state, &headers));
            page(&staff_surveys_page(&state, &ctx, &me, Some(link), FormErrors::default()).await?)
        }
        Err(tsunagu_store::StoreError::Invalid(inv)) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &inv.0));
            render(StatusCode::UNPROCESSABLE_ENTITY, &staff_surveys_page(&state, &ctx, &me, None, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /surveys/{invitation}/revoke`
pub async fn staff_revoke(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(id): Path<String>,
) -> AppResult<Response> {
    match state.store.revoke_professional_invitation(&me.principal, &id, &ctx.audit()).await {
        Ok(()) => Ok(Redirect::to("/surveys").into_response()),
        Err(tsunagu_store::StoreError::Conflict { field, key }) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &[tsunagu_domain::FieldError::new(field, key)]));
            render(StatusCode::CONFLICT, &staff_surveys_page(&state, &ctx, &me, None, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

// --- the link's page, without an account ------------------------------------------

pub struct Question {
    pub key: String,
    pub text: String,
    pub required: bool,
    /// For a rating: (value, label) per point; empty for free text.
    pub points: Vec<(i64, String)>,
    pub max_chars: usize,
}

#[derive(Template)]
#[template(path = "survey_answer.html")]
pub struct AnswerPage {
    pub chrome: Chrome,
    pub title: String,
    pub from: String,
    pub questions: Vec<Question>,
    /// "open", "thanks", or the reason the link no longer works.
    pub state: &'static str,
    pub errors: FormErrors,
}

fn public_chrome(state: &AppState, ctx: &RequestCtx) -> Chrome {
    Chrome {
        tr: ctx.tr(),
        here: ctx.here.clone(),
        demo_banner: state.config.demo_banner,
        request_id: ctx.request_id.clone(),
        ..Default::default()
    }
}

fn answer_page(
    state: &AppState,
    ctx: &RequestCtx,
    open: &SurveyOpen,
    st: &'static str,
    errors: FormErrors,
) -> AnswerPage {
    let ja = ctx.tr().is_ja();
    let questions = open
        .instrument
        .items
        .iter()
        .map(|it| {
            let (points, max_chars) = match &it.scale {
                Scale::Rating { min, max, labels } => (
                    (*min..=*max)
                        .map(|v| {
                            let l = labels
                                .iter()
                                .find(|l| l.value == v)
                                .map(|l| if ja { l.ja.clone() } else { l.en.clone() });
                            (v, l.map(|l| format!("{v}（{l}）")).unwrap_or_else(|| v.to_string()))
                        })
                        .collect(),
                    0,
                ),
                Scale::Text { max_chars } => (Vec::new(), *max_chars),
            };
            Question {
                key: it.key.clone(),
                text: if ja { it.ja.clone() } else { it.en.clone() },
                required: it.required,
                points,
                max_chars,
            }
        })
        .collect();
    AnswerPage {
        chrome: public_chrome(state, ctx),
        title: title(ctx, &open.instrument),
        from: open.invitation.created_org_name.clone(),
        questions,
        state: st,
        errors,
    }
}

fn closed_state(s: InvitationStatus) -> &'static str {
    match s {
        InvitationStatus::Open => "open",
        InvitationStatus::Answered => "answered",
        InvitationStatus::Expired | InvitationStatus::Revoked => "closed",
    }
}

/// `GET /s/{token}`
pub async fn open(State(state): State<AppState>, ctx: RequestCtx, Path(token): Path<String>) -> AppResult<Response> {
    let open = state.store.survey_by_token(&sha256_hex(&token)).await.map_err(|_| AppError::NotFound)?;
    let st = closed_state(open.invitation.status);
    let status = if st == "open" { StatusCode::OK } else { StatusCode::GONE };
    render(status, &answer_page(&state, &ctx, &open, st, FormErrors::default()))
}

/// `POST /s/{token}`: the answers, accepted once.
pub async fn answer(
    State(state): State<AppState>,
    ctx: RequestCtx,
    Path(token): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let open = state.store.survey_by_token(&sha256_hex(&token)).await.map_err(|_| AppError::NotFound)?;
    if open.invitation.status != InvitationStatus::Open {
        return render(
            StatusCode::GONE,
            &answer_page(&state, &ctx, &open, closed_state(open.invitation.status), FormErrors::default()),
        );
    }
    let answers = match open.instrument.answers_from(&pairs) {
        Ok(a) => a,
        Err(inv) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &inv.0));
            return render(StatusCode::UNPROCESSABLE_ENTITY, &answer_page(&state, &ctx, &open, "open", errors));
        }
    };
    let score = open.instrument.score(&answers);
    match state.store.answer_survey(&open, &answers, score, &ctx.audit()).await {
        Ok(()) => page(&answer_page(&state, &ctx, &open, "thanks", FormErrors::default())),
        Err(tsunagu_store::StoreError::Conflict { .. }) => {
            // Answered by another submission, or closed meanwhile: say which.
            let now = state.store.survey_by_token(&sha256_hex(&token)).await.map_err(|_| AppError::NotFound)?;
            let st = match closed_state(now.invitation.status) {
                "open" => "answered",
                other => other,
            };
            render(StatusCode::GONE, &answer_page(&state, &ctx, &now, st, FormErrors::default()))
        }
        Err(e) => Err(e.into()),
    }
}

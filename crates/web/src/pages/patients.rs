//! The patient registry and the patient page: search (any kana script or width),
//! registration with duplicate warning, the team, consent, key persons, local ids and
//! the chart's own access history.

use super::{FormErrors, checked};
use crate::auth::Signed;
use crate::error::{AppError, AppResult};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, field_messages, page, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tsunagu_domain::patient::{
    ConsentStatus, KeyPerson, NewPatient, PatientForm, TeamRole, parse_iso_date, parse_local_id,
};
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::{Invalid, OrgId, PatientId};
use tsunagu_store::{
    AccessLogRow, ConsentRow, IdentifierRow, KeyPersonRow, OrgRow, PatientRow, PatientSummary, Registered, SearchQuery,
    TeamMemberRow,
};

/// A patient id from the path; a malformed one is simply not found.
pub fn patient_id(raw: &str) -> AppResult<PatientId> {
    raw.parse().map_err(|_| AppError::NotFound)
}

/// The first page of the day is the inbox: what is new on my patients.
pub async fn home() -> Redirect {
    Redirect::to("/inbox")
}

#[derive(Deserialize, Default, Clone)]
pub struct SearchParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub birth_date: String,
    #[serde(default)]
    pub local_id: String,
}

impl SearchParams {
    /// The query, or None when nothing was asked (the list then shows recent charts).
    pub fn to_query(&self) -> Result<SearchQuery, Invalid> {
        let mut inv = Invalid::default();
        let birth = tsunagu_domain::kana::fold_width(self.birth_date.trim()).replace('/', "-");
        let birth_date = if birth.is_empty() {
            None
        } else {
            match parse_iso_date(&birth) {
                Some(d) => Some(d),
                None => {
                    inv.push("birth_date", "err-date");
                    None
                }
            }
        };
        let local_id = inv.merge(parse_local_id(&self.local_id)).flatten();
        inv.into_result()?;
        let text = Some(self.q.trim().to_string()).filter(|t| !t.is_empty());
        Ok(SearchQuery { text, birth_date, local_id, limit: 50 })
    }
}

#[derive(Template)]
#[template(path = "patients_list.html")]
pub struct ListPage {
    pub chrome: Chrome,
    pub params: SearchParams,
    /// The result list, rendered by [`ResultsFragment`] (the same HTML htmx swaps in).
    pub results_html: String,
}

#[derive(Template)]
#[template(path = "patients_results.html")]
pub struct ResultsFragment {
    pub tr: crate::i18n::Tr,
    pub patients: Vec<PatientSummary>,
    pub searched: bool,
    pub errors: FormErrors,
}

async fn results(state: &AppState, ctx: &RequestCtx, me: &Signed, params: &SearchParams) -> AppResult<ResultsFragment> {
    let tr = ctx.tr();
    match params.to_query() {
        Ok(q) => {
            let searched = q.text.is_some() || q.birth_date.is_some() || q.local_id.is_some();
            let patients = state.store.search_patients(&me.principal, &q, &ctx.audit()).await?;
            Ok(ResultsFragment { tr, patients, searched, errors: FormErrors::default() })
        }
        Err(inv) => Ok(ResultsFragment {
            tr,
            patients: vec![],
            searched: true,
            errors: FormErrors(field_messages(&tr, &inv.0)),
        }),
    }
}

pub async fn list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Query(params): Query<SearchParams>,
) -> AppResult<Response> {
    let results = results(&state, &ctx, &me, &params).await?;
    let results_html = results.render().map_err(|e| AppError::Internal(format!("template: {e}")))?;
    page(&ListPage { chrome: me.chrome(&ctx, &state), params, results_html })
}

/// The result list alone, for htmx live search as the user types.
pub async fn search_fragment(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Query(params): Query<SearchParams>,
) -> AppResult<Response> {
    page(&results(&state, &ctx, &me, &params).await?)
}

#[derive(Template)]
#[template(path = "patient_new.html")]
pub struct NewPage {
    pub chrome: Chrome,
    pub form: PatientForm,
    pub errors: FormErrors,
    pub duplicates: Vec<PatientSummary>,
    pub sexes: Vec<(&'static str, String)>,
}

fn sexes(tr: &crate::i18n::Tr) -> Vec<(&'static str, String)> {
    tsunagu_domain::patient::Sex::ALL.iter().map(|s| (s.as_str(), tr.label("sex", s.as_str()))).collect()
}

pub async fn new_form(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    let tr = ctx.tr();
    page(&NewPage {
        chrome: me.chrome(&ctx, &state),
        form: PatientForm::default(),
        errors: FormErrors::default(),
        duplicates: vec![],
        sexes: sexes(&tr),
    })
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(flatten)]
    pub patient: PatientForm,
    pub confirm_new: Option<String>,
}

pub async fn register(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Form(f): Form<RegisterForm>,
) -> AppResult<Response> {
    let tr = ctx.tr();
    let again = |errors: FormErrors, duplicates: Vec<PatientSummary>, status: StatusCode| {
        render(
            status,
            &NewPage {
                chrome: me.chrome(&ctx, &state),
                form: f.patient.clone(),
                errors,
                duplicates,
                sexes: sexes(&tr),
            },
        )
    };
    let p = match NewPatient::parse(&f.patient, state.store.clock().today_jst()) {
        Ok(p) => p,
        Err(inv) => {
            return again(FormErrors(field_messages(&tr, &inv.0)), vec![], StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    match state.store.register_patient(&me.principal, &p, checked(&f.confirm_new), &ctx.audit()).await {
        Ok(Registered::Created(id)) => Ok(Redirect::to(&format!("/patients/{id}")).into_response()),
        Ok(Registered::PossibleDuplicates(d)) => again(FormErrors::default(), d, StatusCode::OK),
        Err(tsunagu_store::StoreError::Conflict { field, key }) => again(
            FormErrors(field_messages(&tr, &[tsunagu_domain::FieldError::new(field, key)])),
            vec![],
            StatusCode::CONFLICT,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "patient_show.html")]
pub struct ShowPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub age: i32,
    pub team: Vec<TeamMemberRow>,
    pub consents: Vec<ConsentRow>,
    pub key_persons: Vec<KeyPersonRow>,
    pub identifiers: Vec<IdentifierRow>,
    pub is_owner: bool,
    /// Organizations that can be added to the team (approved, not already on it).
    pub candidates: Vec<OrgRow>,
    pub roles: Vec<(&'static str, String)>,
    pub my_member_id: Option<String>,
    pub errors: FormErrors,
    /// The first page of the timeline, rendered by [`super::chart::TimelineFragment`].
    pub timeline_html: String,
    pub composer: super::chart::Composer,
    pub filters: super::chart::TimelineQuery,
    /// The newest write seen, for the live-update poll.
    pub latest: String,
    /// What was typed into a write form that failed validation, to show it again.
    pub typed: Vec<(String, String)>,
    pub med_rows: Vec<usize>,
    /// Set when the reader is here by emergency access: until when.
    pub emergency_until: Option<String>,
    /// (date, place label) when a death is recorded.
    pub deceased: Option<(String, String)>,
    /// Every emergency access to this chart, shown to all who read it.
    pub emergencies: Vec<tsunagu_store::EmergencyRow>,
    /// Patient-reported diary entries over the threshold that the reader's
    /// organization has not acknowledged.
    pub diary_alerts: Vec<tsunagu_store::DiaryRow>,
}

impl ShowPage {
    pub fn typed(&self, name: &str) -> String {
        self.typed.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }
}

impl ShowPage {
    pub fn current_consent(&self) -> String {
        self.chrome.tr.label("consent", self.patient.consent.as_str())
    }
}

async fn show_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    pid: PatientId,
    errors: FormErrors,
) -> AppResult<ShowPage> {
    show_page_with(state, ctx, me, pid, errors, super::chart::TimelineQuery::default(), Vec::new()).await
}

/// The patient page again with the messages of a failed write and what was typed.
pub async fn show_with_errors(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    pid: PatientId,
    errors: FormErrors,
    typed: Option<Vec<(String, String)>>,
) -> AppResult<Response> {
    let filters = super::chart::TimelineQuery::default();
    let p = show_page_with(state, ctx, me, pid, errors, filters, typed.unwrap_or_default()).await?;
    render(StatusCode::UNPROCESSABLE_ENTITY, &p)
}

async fn show_page_with(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    pid: PatientId,
    errors: FormErrors,
    filters: super::chart::TimelineQuery,
    typed: Vec<(String, String)>,
) -> AppResult<ShowPage> {
    let tr = ctx.tr();
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "chart.read", &ctx.audit()).await?;
    let timeline = super::chart::timeline_fragment(state, &g, tr, &filters).await?;
    let latest =
        timeline.days.first().and_then(|d| d.cards.first()).map(|c| c.e.recorded_at.clone()).unwrap_or_default();
    let timeline_html = timeline.render().map_err(|e| AppError::Internal(format!("template: {e}")))?;
    let composer = super::chart::composer(state, &g, &tr).await?;
    state.store.mark_chart_seen(&g).await?;
    let patient = state.store.patient(&g).await?;
    let team = state.store.team(&g).await?;
    let on_team: Vec<OrgId> = team.iter().filter(|m| m.ended_at.is_none()).map(|m| m.org_id).collect();
    let candidates = if g.is_owner() {
        state.store.list_orgs().await?.into_iter().filter(|o| o.is_approved() && !on_team.contains(&o.id)).collect()
    } else {
        vec![]
    };
    let my_member_id = team
        .iter()
        .find(|m| m.ended_at.is_none() && m.org_id == me.principal.org && m.role != TeamRole::Owner)
        .map(|m| m.id.clone());
    Ok(ShowPage {
        chrome: me.chrome(ctx, state),
        age: tsunagu_domain::era::age_on(patient.birth_date, state.store.clock().today_jst()),
        consents: state.store.consents(&g).await?,
        key_persons: state.store.key_persons(&g).await?,
        identifiers: state.store.identifiers(&g).await?,
        is_owner: g.is_owner(),
        candidates,
        roles: TeamRole::ALL
            .iter()
            .filter(|r| **r != TeamRole::Owner)
            .map(|r| (r.as_str(), tr.label("role", r.as_str())))
            .collect(),
        my_member_id,
        patient,
        team,
        errors,
        timeline_html,
        composer,
        filters,
        latest,
        typed,
        med_rows: (0..super::chart::MED_ROWS).collect(),
        emergency_until: state.store.emergency_until(&g).await?,
        emergencies: state.store.emergency_accesses(&g).await?,
        diary_alerts: state
            .store
            .diary_for_chart(&g)
            .await?
            .into_iter()
            .filter(|d| d.alert && !d.acknowledged && d.in_error.is_none())
            .collect(),
        deceased: state
            .store
            .acp(&g)
            .await?
            .death
            .map(|d| (ctx.tr().date(&d.body.died_on), ctx.tr().label("place", d.body.place.as_str()))),
    })
}

pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Query(filters): Query<super::chart::TimelineQuery>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    page(&show_page_with(&state, &ctx, &me, pid, FormErrors::default(), filters, Vec::new()).await?)
}

/// After a form on the patient page: back to it, or the page again with the errors.
async fn after_write(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    pid: PatientId,
    r: AppResult<()>,
) -> AppResult<Response> {
    match r {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{pid}")).into_response()),
        Err(AppError::Invalid(inv)) => {
            let p = show_page(state, ctx, me, pid, FormErrors(field_messages(&ctx.tr(), &inv.0))).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(AppError::Conflict(f)) => {
            let p = show_page(state, ctx, me, pid, FormErrors(field_messages(&ctx.tr(), &[f]))).await?;
            render(StatusCode::CONFLICT, &p)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    org: String,
    #[serde(default)]
    role: String,
}

pub async fn add_member(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<MemberForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Govern, "team.add", &ctx.audit()).await?;
    let r: AppResult<()> = async {
        let org: OrgId = f.org.parse().map_err(|_| Invalid::one("org", "err-org-unknown"))?;
        let role = TeamRole::parse(&f.role)?;
        if role == TeamRole::Owner {
            return Err(AppError::Invalid(Invalid::one("role", "err-team-role")));
        }
        state.store.add_team_member(&g, org, role, &ctx.audit()).await?;
        Ok(())
    }
    .await;
    after_write(&state, &ctx, &me, pid, r).await
}

#[derive(Deserialize)]
pub struct EndForm {
    #[serde(default)]
    reason: String,
}

pub async fn end_member(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, member)): Path<(String, String)>,
    Form(f): Form<EndForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Govern, "team.remove", &ctx.audit()).await?;
    let reason = tsunagu_domain::validation::optional_text("reason", &f.reason, 200)?.unwrap_or_default();
    let r = state.store.end_team_membership(&g, &member, &reason, &ctx.audit()).await.map_err(AppError::from);
    after_write(&state, &ctx, &me, pid, r).await
}

/// A member organization leaves the team; it sees nothing new from then on.
pub async fn leave_team(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<EndForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Leave, "team.leave", &ctx.audit()).await?;
    let team = state.store.team(&g).await?;
    let mine = team
        .iter()
        .find(|m| m.ended_at.is_none() && m.org_id == me.principal.org)
        .ok_or(AppError::Invalid(Invalid::one("member", "err-not-on-team")))?;
    let reason = tsunagu_domain::validation::optional_text("reason", &f.reason, 200)?.unwrap_or_default();
    state.store.end_team_membership(&g, &mine.id, &reason, &ctx.audit()).await?;
    Ok(Redirect::to("/patients").into_response())
}

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    obtained_by: String,
    #[serde(default)]
    note: String,
}

pub async fn record_consent(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<ConsentForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Govern, "consent.record", &ctx.audit()).await?;
    let r: AppResult<()> = async {
        let status = ConsentStatus::parse(&f.status)?;
        let by = tsunagu_domain::validation::optional_text("obtained_by", &f.obtained_by, 60)?;
        let note = tsunagu_domain::validation::optional_text("note", &f.note, 500)?;
        state.store.record_consent(&g, status, by.as_deref(), note.as_deref(), &ctx.audit()).await?;
        Ok(())
    }
    .await;
    after_write(&state, &ctx, &me, pid, r).await
}

#[derive(Deserialize)]
pub struct KeyPersonForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    relation: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    note: String,
}

pub async fn add_key_person(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<KeyPersonForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "key_person.add", &ctx.audit()).await?;
    let r: AppResult<()> = async {
        let k = KeyPerson::parse(&f.name, &f.relation, &f.phone, &f.note)?;
        state.store.add_key_person(&g, &k, &ctx.audit()).await?;
        Ok(())
    }
    .await;
    after_write(&state, &ctx, &me, pid, r).await
}

#[derive(Deserialize)]
pub struct IdentifierForm {
    #[serde(default)]
    local_id: String,
}

pub async fn add_identifier(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<IdentifierForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "identifier.add", &ctx.audit()).await?;
    let r: AppResult<()> = async {
        let id = parse_local_id(&f.local_id)?.ok_or(Invalid::one("local_id", "err-required"))?;
        state.store.add_identifier(&g, &id, &ctx.audit()).await?;
        Ok(())
    }
    .await;
    after_write(&state, &ctx, &me, pid, r).await
}

#[derive(Template)]
#[template(path = "access_log.html")]
pub struct AccessLogPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub rows: Vec<AccessLogRow>,
}

pub async fn access_log(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state
        .store
        .open_chart(&me.principal, pid, ChartAction::ReadAccessLog, "chart.access_log", &ctx.audit())
        .await?;
    let patient = state.store.patient(&g).await?;
    let rows = state.store.access_log(&g, 500).await?;
    page(&AccessLogPage { chrome: me.chrome(&ctx, &state), patient, rows })
}

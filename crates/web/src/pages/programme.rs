//! The region's palliative-care programme (DOMAIN.md §8): sessions and meetings under
//! the four pillars with attendance by profession and organization, and each fiscal
//! year's action plans with owner, due date and status. Everyone signed in reads it; the
//! operator and organization administrators record activities; the operator keeps the
//! plans. Not patient data.

use super::{FormErrors, refused};
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
use tsunagu_domain::Invalid;
use tsunagu_domain::patient::parse_iso_date;
use tsunagu_domain::person::Profession;
use tsunagu_domain::programme::{ActionPlan, Activity, ActivityKind, Pillar, PlanStatus, attendance_lines};
use tsunagu_domain::transition::fiscal_year;
use tsunagu_store::{ActionPlanRow, ActivityRow};

/// Blank attendance lines on the form (no script: a fixed number of rows).
const ATTENDANCE_LINES: usize = 6;

/// A plan as it stands, with its earlier versions.
pub struct PlanView {
    pub current: ActionPlanRow,
    pub history: Vec<ActionPlanRow>,
}

#[derive(Template)]
#[template(path = "programme.html")]
pub struct ProgrammePage {
    pub chrome: Chrome,
    pub fy: i32,
    pub years: Vec<i32>,
    pub activities: Vec<ActivityRow>,
    pub plans: Vec<PlanView>,
    pub can_record: bool,
    pub can_plan: bool,
    /// Who is looking: the operator, or an administrator of this organization.
    pub admin_of: Option<tsunagu_domain::OrgId>,
    pub pillars: Vec<(&'static str, String)>,
    pub kinds: Vec<(&'static str, String)>,
    pub statuses: Vec<(&'static str, String)>,
    pub professions: Vec<(&'static str, String)>,
    pub orgs: Vec<(String, String)>,
    pub lines: Vec<usize>,
    pub errors: FormErrors,
}

impl ProgrammePage {
    /// The operator, or an administrator of the organizing organization, may mark an
    /// activity recorded in error.
    pub fn can_mark(&self, a: &ActivityRow) -> bool {
        a.in_error.is_none() && (self.can_plan || self.admin_of == Some(a.organizer_org))
    }
}

#[derive(Deserialize, Default)]
pub struct FyQuery {
    fy: Option<i32>,
}

async fn programme_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    fy: i32,
    errors: FormErrors,
) -> AppResult<ProgrammePage> {
    let tr = ctx.tr();
    let mut plans: Vec<PlanView> = Vec::new();
    for v in state.store.action_plan_versions(fy).await? {
        match plans.last_mut() {
            Some(p) if p.current.id == v.id => {
                let older = std::mem::replace(&mut p.current, v);
                p.history.insert(0, older);
            }
            _ => plans.push(PlanView { current: v, history: Vec::new() }),
        }
    }
    plans.retain(|p| p.current.plan.fiscal_year == fy);
    plans.sort_by(|a, b| {
        (a.current.plan.pillar.as_str(), a.current.plan.due_on)
            .cmp(&(b.current.plan.pillar.as_str(), b.current.plan.due_on))
    });
    let orgs = state
        .store
        .list_orgs()
        .await?
        .into_iter()
        .filter(|o| o.is_approved())
        .map(|o| (o.id.to_string(), o.name))
        .collect();
    Ok(ProgrammePage {
        chrome: me.chrome(ctx, state),
        fy,
        years: super::fiscal_years(state, Some(fy)).1,
        activities: state.store.activities(fy).await?,
        plans,
        can_record: me.principal.operator || me.principal.org_admin,
        can_plan: me.principal.operator,
        admin_of: me.principal.org_admin.then_some(me.principal.org),
        pillars: Pillar::ALL.iter().map(|p| (p.as_str(), tr.label("pillar", p.as_str()))).collect(),
        kinds: ActivityKind::ALL.iter().map(|k| (k.as_str(), tr.label("activity", k.as_str()))).collect(),
        statuses: PlanStatus::ALL.iter().map(|s| (s.as_str(), tr.label("plan", s.as_str()))).collect(),
        professions: Profession::ALL.iter().map(|p| (p.as_str(), tr.label("profession", p.as_str()))).collect(),
        orgs,
        lines: (0..ATTENDANCE_LINES).collect(),
        errors,
    })
}

/// `GET /programme?fy=2026`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Query(q): Query<FyQuery>,
) -> AppResult<Response> {
    let (fy, _) = super::fiscal_years(&state, q.fy);
    page(&programme_page(&state, &ctx, &me, fy, FormErrors::default()).await?)
}

/// The page again with the refusal explained, or back to the year's page.
async fn after(state: &AppState, ctx: &RequestCtx, me: &Signed, fy: i32, result: AppResult<()>) -> AppResult<Response> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/programme?fy={fy}")).into_response()),
        Err(e) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &refused(e)?));
            render(StatusCode::UNPROCESSABLE_ENTITY, &programme_page(state, ctx, me, fy, errors).await?)
        }
    }
}

fn field<'a>(pairs: &'a [(String, String)], k: &str) -> &'a str {
    pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim()).unwrap_or_default()
}

fn date_field(pairs: &[(String, String)], k: &'static str) -> Result<time::Date, Invalid> {
    parse_iso_date(field(pairs, k)).ok_or_else(|| Invalid::one(k, "err-date"))
}

/// An activity from the form, attendance lines `profession_N`, `org_N`, `count_N`.
fn activity_from(pairs: &[(String, String)]) -> Result<Activity, Invalid> {
    let mut inv = Invalid::default();
    let pillar = inv.merge(Pillar::parse(field(pairs, "pillar")));
    let kind = inv.merge(ActivityKind::parse(field(pairs, "activity_kind")));
    let held_on = inv.merge(date_field(pairs, "held_on"));
    let lines: Vec<(String, String, String)> = (0..ATTENDANCE_LINES)
        .map(|i| {
            (
                field(pairs, &format!("profession_{i}")).to_string(),
                field(pairs, &format!("org_{i}")).to_string(),
                field(pairs, &format!("count_{i}")).to_string(),
            )
        })
        .collect();
    let attendance = inv.merge(attendance_lines(&lines));
    inv.into_result()?;
    match (pillar, kind, held_on, attendance) {
        (Some(pillar), Some(kind), Some(held_on), Some(attendance)) => {
            Ok(Activity { pillar, kind, held_on, topic: field(pairs, "topic").to_string(), attendance })
        }
        _ => Err(Invalid::one("pillar", "err-invalid-choice")),
    }
}

/// `POST /programme/activities`
pub async fn record_activity(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let result = match activity_from(&pairs) {
        Ok(a) => state.store.record_activity(&me.principal, a, &ctx.audit()).await.map(|_| ()).map_err(AppError::from),
        Err(inv) => Err(AppError::Invalid(inv)),
    };
    let (fy, _) = super::fiscal_years(&state, date_field(&pairs, "held_on").ok().map(fiscal_year));
    after(&state, &ctx, &me, fy, result).await
}

#[derive(Deserialize)]
pub struct MarkForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    fy: Option<i32>,
}

/// `POST /programme/activities/{activity}/in-error`
pub async fn mark_activity(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(id): Path<String>,
    Form(f): Form<MarkForm>,
) -> AppResult<Response> {
    let result = state.store.mark_activity(&me.principal, &id, &f.reason, &ctx.audit()).await.map_err(AppError::from);
    let (fy, _) = super::fiscal_years(&state, f.fy);
    after(&state, &ctx, &me, fy, result).await
}

#[derive(Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    fiscal_year: String,
    #[serde(default)]
    pillar: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    due_on: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    version: i64,
}

impl PlanForm {
    fn plan(&self) -> Result<ActionPlan, Invalid> {
        let mut inv = Invalid::default();
        let fy = self.fiscal_year.trim().parse::<i32>().map_err(|_| Invalid::one("fiscal_year", "err-invalid-choice"));
        let fiscal_year = inv.merge(fy);
        let pillar = inv.merge(Pillar::parse(&self.pillar));
        let due_on = parse_iso_date(self.due_on.trim());
        if due_on.is_none() {
            inv.push("due_on", "err-date");
        }
        let status = inv.merge(PlanStatus::parse(&self.status));
        inv.into_result()?;
        match (fiscal_year, pillar, due_on, status) {
            (Some(fiscal_year), Some(pillar), Some(due_on), Some(status)) => Ok(ActionPlan {
                fiscal_year,
                pillar,
                title: self.title.clone(),
                owner: self.owner.clone(),
                due_on,
                status,
            }),
            _ => Err(Invalid::one("pillar", "err-invalid-choice")),
        }
    }
    fn year(&self, state: &AppState) -> i32 {
        super::fiscal_years(state, self.fiscal_year.trim().parse::<i32>().ok()).0
    }
}

/// `POST /programme/plans`: a new action plan.
pub async fn add_plan(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Form(f): Form<PlanForm>,
) -> AppResult<Response> {
    let result = match f.plan() {
        Ok(p) => state
            .store
            .save_action_plan(&me.principal, None, 0, p, &ctx.audit())
            .await
            .map(|_| ())
            .map_err(AppError::from),
        Err(inv) => Err(AppError::Invalid(inv)),
    };
    after(&state, &ctx, &me, f.year(&state), result).await
}

/// `POST /programme/plans/{plan}`: a new version (status, owner, due date changed).
pub async fn revise_plan(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(id): Path<String>,
    Form(f): Form<PlanForm>,
) -> AppResult<Response> {
    let result = match f.plan() {
        Ok(p) => state
            .store
            .save_action_plan(&me.principal, Some(&id), f.version, p, &ctx.audit())
            .await
            .map(|_| ())
            .map_err(AppError::from),
        Err(inv) => Err(AppError::Invalid(inv)),
    };
    after(&state, &ctx, &me, f.year(&state), result).await
}

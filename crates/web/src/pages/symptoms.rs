//! Symptom assessments on the chart (DOMAIN.md §8): enter a patient's own ratings or a
//! professional's on an instrument loaded as data, and see each symptom over time as a
//! small plot drawn on the server (SVG, no script).

use super::FormErrors;
use super::patients::patient_id;
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
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::questionnaire::{Answer, Instrument, Rater, Scale};
use tsunagu_domain::{Invalid, PatientId};
use tsunagu_store::{AssessmentRow, PatientRow};

/// Plot size in SVG units.
const W: f64 = 320.0;
const H: f64 = 90.0;
const PAD: f64 = 8.0;

pub struct Dot {
    pub x: String,
    pub y: String,
    pub value: i64,
    pub at: String,
}

/// One symptom over time.
pub struct Trend {
    pub key: String,
    pub label: String,
    pub min: i64,
    pub max: i64,
    /// `points` of the polyline.
    pub line: String,
    pub dots: Vec<Dot>,
    pub latest: Option<i64>,
}

pub struct ItemField {
    pub key: String,
    pub label: String,
    pub min: i64,
    pub max: i64,
    pub ends: String,
}

#[derive(Template)]
#[template(path = "symptoms.html")]
pub struct SymptomsPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub instruments: Vec<(String, String)>,
    pub chosen: String,
    pub chosen_title: String,
    pub fields: Vec<ItemField>,
    pub trends: Vec<Trend>,
    pub rows: Vec<AssessmentRow>,
    pub can_write: bool,
    pub errors: FormErrors,
}

fn label(ja: bool, it: &tsunagu_domain::questionnaire::Item) -> String {
    if ja { it.ja.clone() } else { it.en.clone() }
}

/// Each rating item of the instrument across its assessments, oldest to newest,
/// evenly spaced (assessments are irregular; the dates are on each point's title).
fn trends(ins: &Instrument, rows: &[&AssessmentRow], ja: bool) -> Vec<Trend> {
    ins.items
        .iter()
        .filter_map(|it| match it.scale {
            Scale::Rating { min, max, .. } => Some((it, min, max)),
            Scale::Text { .. } => None,
        })
        .map(|(it, min, max)| {
            let values: Vec<(&str, i64)> = rows
                .iter()
                .filter_map(|r| match r.answers.get(&it.key) {
                    Some(Answer::Rating(v)) => Some((r.assessed_at.as_str(), *v)),
                    _ => None,
                })
                .collect();
            let n = values.len();
            let span = (max - min).max(1) as f64;
            let dots: Vec<Dot> = values
                .iter()
                .enumerate()
                .map(|(i, (at, v))| {
                    let x = if n <= 1 { W / 2.0 } else { PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64 };
                    let y = H - PAD - (H - 2.0 * PAD) * ((*v - min) as f64 / span);
                    Dot { x: format!("{x:.1}"), y: format!("{y:.1}"), value: *v, at: at.replace('T', " ") }
                })
                .collect();
            Trend {
                key: it.key.clone(),
                label: label(ja, it),
                min,
                max,
                line: dots.iter().map(|d| format!("{},{}", d.x, d.y)).collect::<Vec<_>>().join(" "),
                latest: values.last().map(|(_, v)| *v),
                dots,
            }
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    #[serde(default)]
    instrument: String,
}

async fn symptoms_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    pid: PatientId,
    chosen: &str,
    errors: FormErrors,
) -> AppResult<SymptomsPage> {
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "assessments.read", &ctx.audit()).await?;
    let ja = ctx.tr().is_ja();
    let all: Vec<Instrument> = state
        .store
        .instruments()
        .await?
        .into_iter()
        .filter(|i| matches!(i.rater, Rater::Patient | Rater::Staff))
        .collect();
    let ins = all.iter().find(|i| i.id == chosen).or_else(|| all.first()).ok_or(AppError::NotFound)?;
    let rows = state.store.assessments(&g).await?;
    let mine: Vec<&AssessmentRow> = rows.iter().filter(|r| r.instrument_id == ins.id).collect();
    let fields = ins
        .items
        .iter()
        .filter_map(|it| match &it.scale {
            Scale::Rating { min, max, labels } => Some(ItemField {
                key: it.key.clone(),
                label: label(ja, it),
                min: *min,
                max: *max,
                ends: labels
                    .iter()
                    .map(|l| format!("{}={}", l.value, if ja { &l.ja } else { &l.en }))
                    .collect::<Vec<_>>()
                    .join(" / "),
            }),
            Scale::Text { .. } => None,
        })
        .collect();
    Ok(SymptomsPage {
        chrome: me.chrome(ctx, state),
        patient: state.store.patient(&g).await?,
        instruments: all
            .iter()
            .map(|i| (i.id.clone(), if ja { i.title_ja.clone() } else { i.title_en.clone() }))
            .collect(),
        chosen: ins.id.clone(),
        chosen_title: if ja { ins.title_ja.clone() } else { ins.title_en.clone() },
        trends: trends(ins, &mine.iter().copied().filter(|r| r.in_error.is_none()).collect::<Vec<_>>(), ja),
        fields,
        can_write: state.store.allows(&g, ChartAction::Write).await?,
        rows: mine.into_iter().rev().cloned().collect(),
        errors,
    })
}

/// `GET /patients/{patient}/symptoms?instrument=..`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Query(q): Query<ShowQuery>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    page(&symptoms_page(&state, &ctx, &me, pid, &q.instrument, FormErrors::default()).await?)
}

/// `POST /patients/{patient}/symptoms`: one assessment.
pub async fn record(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "assessment.record", &ctx.audit()).await?;
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string()).unwrap_or_default();
    let chosen = get("instrument");
    let result: AppResult<()> = async {
        let ins = state
            .store
            .instruments()
            .await?
            .into_iter()
            .find(|i| i.id == chosen)
            .ok_or(AppError::Invalid(Invalid::one("instrument", "err-invalid-choice")))?;
        let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
        let at = time::PrimitiveDateTime::parse(&get("assessed_at"), &fmt)
            .map_err(|_| AppError::Invalid(Invalid::one("assessed_at", "err-datetime")))?;
        let answers = ins.answers_from(&pairs)?;
        state.store.record_assessment(&g, &ins, &answers, at, &ctx.audit()).await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{pid}/symptoms?instrument={chosen}")).into_response()),
        Err(AppError::Invalid(inv)) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &inv.0));
            render(StatusCode::UNPROCESSABLE_ENTITY, &symptoms_page(&state, &ctx, &me, pid, &chosen, errors).await?)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct MarkForm {
    #[serde(default)]
    instrument: String,
    #[serde(default)]
    reason: String,
}

/// `POST /patients/{patient}/symptoms/{assessment}/in-error`: marked with a reason; it
/// stays in the list, struck through, and leaves the trend.
pub async fn mark_in_error(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, assessment)): Path<(String, String)>,
    Form(f): Form<MarkForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "assessment.mark", &ctx.audit()).await?;
    match state.store.mark_assessment(&g, &assessment, &f.reason, &ctx.audit()).await.map_err(AppError::from) {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{pid}/symptoms?instrument={}", f.instrument)).into_response()),
        Err(e) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &super::refused(e)?));
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &symptoms_page(&state, &ctx, &me, pid, &f.instrument, errors).await?,
            )
        }
    }
}

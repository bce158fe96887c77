//! Lab results from every facility on one page of the chart (issue #7): one plot and
//! one table per test over time, abnormal values flagged, each value with the facility
//! that reported it. Imported from SS-MIX2 storage (`tsunagu import ss-mix2`).

use super::patients::patient_id;
use crate::auth::Signed;
use crate::error::AppResult;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, page};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use tsunagu_domain::policy::ChartAction;
use tsunagu_store::{LabResultRow, PatientRow};

/// Plot size in SVG units (as the symptom trends).
const W: f64 = 320.0;
const H: f64 = 90.0;
const PAD: f64 = 8.0;

pub struct LabDot {
    pub x: String,
    pub y: String,
    pub abnormal: bool,
    pub title: String,
}

/// One test over time.
pub struct LabTrend {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub reference_range: String,
    pub line: String,
    pub dots: Vec<LabDot>,
    pub rows: Vec<LabResultRow>,
    pub min: String,
    pub max: String,
}

#[derive(Template)]
#[template(path = "labs.html")]
pub struct LabsPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub trends: Vec<LabTrend>,
}

/// Group the results by test (they come ordered by test, then time) and place the
/// numeric ones on a plot scaled to the test's own range.
fn trends(rows: Vec<LabResultRow>) -> Vec<LabTrend> {
    let mut groups: Vec<Vec<LabResultRow>> = Vec::new();
    for r in rows {
        match groups.last_mut() {
            Some(g) if g.first().is_some_and(|f| f.code == r.code) => g.push(r),
            _ => groups.push(vec![r]),
        }
    }
    groups
        .into_iter()
        .filter_map(|rows| {
            let first = rows.first()?.clone();
            let values: Vec<(usize, f64)> =
                rows.iter().enumerate().filter_map(|(i, r)| r.value_num.map(|v| (i, v))).collect();
            let lo = values.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min);
            let hi = values.iter().map(|(_, v)| *v).fold(f64::NEG_INFINITY, f64::max);
            let span = if hi > lo { hi - lo } else { 1.0 };
            let n = values.len();
            let dots: Vec<LabDot> = values
                .iter()
                .enumerate()
                .filter_map(|(k, (i, v))| {
                    let r = rows.get(*i)?;
                    let x = if n <= 1 { W / 2.0 } else { PAD + (W - 2.0 * PAD) * k as f64 / (n - 1) as f64 };
                    let y = if hi > lo { H - PAD - (H - 2.0 * PAD) * ((v - lo) / span) } else { H / 2.0 };
                    Some(LabDot {
                        x: format!("{x:.1}"),
                        y: format!("{y:.1}"),
                        abnormal: !r.abnormal.is_empty(),
                        title: format!("{} {} {}", r.observed_at.get(..10).unwrap_or(""), r.value_text, r.unit),
                    })
                })
                .collect();
            Some(LabTrend {
                code: first.code.clone(),
                name: if first.name.is_empty() { first.code.clone() } else { first.name.clone() },
                unit: first.unit.clone(),
                reference_range: first.reference_range.clone(),
                line: dots.iter().map(|d| format!("{},{}", d.x, d.y)).collect::<Vec<_>>().join(" "),
                min: if n > 0 { format!("{lo}") } else { String::new() },
                max: if n > 0 { format!("{hi}") } else { String::new() },
                dots,
                rows,
            })
        })
        .collect()
}

/// `GET /patients/{patient}/labs`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "labs.read", &ctx.audit()).await?;
    let rows = state.store.lab_results(&g).await?;
    page(&LabsPage { chrome: me.chrome(&ctx, &state), patient: state.store.patient(&g).await?, trends: trends(rows) })
}

//! The outcome dashboard (DOMAIN.md §8): one fiscal year's figures with small plots,
//! for the region (the network operator) or for the patients an organization has cared
//! for. Counts only; no patient is shown, so no chart access is recorded.

use crate::auth::Signed;
use crate::error::AppResult;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, page};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use tsunagu_store::OutcomeFigures;

pub struct Bar {
    pub label: String,
    pub count: i64,
    pub width: String,
    /// Where the number goes: just past the end of the bar.
    pub value_x: String,
}

/// Bars of counts, the longest `BAR_MAX` units wide, starting at `BAR_X` (the labels
/// are left of it).
const BAR_MAX: f64 = 200.0;
const BAR_X: f64 = 160.0;

fn bars(items: impl Iterator<Item = (String, i64)>) -> Vec<Bar> {
    let items: Vec<(String, i64)> = items.collect();
    let most = items.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    items
        .into_iter()
        .map(|(label, count)| {
            let w = BAR_MAX * count as f64 / most as f64;
            Bar { label, count, width: format!("{w:.1}"), value_x: format!("{:.1}", BAR_X + w + 4.0) }
        })
        .collect()
}

fn title_of(titles: &[(String, String)], id: &str) -> String {
    titles.iter().find(|(i, _)| i == id).map(|(_, t)| t.clone()).unwrap_or_else(|| id.to_string())
}

/// An instrument's mean total score at the first assessment and a week later.
pub struct SymptomPlot {
    pub id: String,
    pub title: String,
    pub pairs: i64,
    pub first: String,
    pub week: String,
    pub first_width: String,
    pub week_width: String,
    pub first_x: String,
    pub week_x: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub chrome: Chrome,
    pub scope: String,
    pub years: Vec<i32>,
    pub f: OutcomeFigures,
    pub death_bars: Vec<Bar>,
    /// Contacts per kind of specialist palliative care.
    pub care_bars: Vec<Bar>,
    /// Attendees per pillar.
    pub programme_bars: Vec<Bar>,
    pub symptom_plots: Vec<SymptomPlot>,
    /// Instrument id → title in the reader's language.
    pub titles: Vec<(String, String)>,
}

impl DashboardPage {
    pub fn share_where_wished(&self) -> String {
        if self.f.deaths_compared == 0 {
            "—".into()
        } else {
            format!("{:.0}%", 100.0 * self.f.deaths_where_wished as f64 / self.f.deaths_compared as f64)
        }
    }
    pub fn one(&self, v: &f64) -> String {
        format!("{v:.1}")
    }
    pub fn title(&self, id: &str) -> String {
        title_of(&self.titles, id)
    }
}

#[derive(Deserialize, Default)]
pub struct FyQuery {
    fy: Option<i32>,
}

/// `GET /dashboard?fy=2026`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Query(q): Query<FyQuery>,
) -> AppResult<Response> {
    let tr = ctx.tr();
    let (fy, years) = super::fiscal_years(&state, q.fy);
    let org = if me.principal.operator { None } else { Some(me.principal.org) };
    let scope = match org {
        None => tr.t("stats-region"),
        Some(o) => state.store.get_org(o).await?.name,
    };
    let f = state.store.outcome_figures(org, fy).await?;
    let ja = tr.is_ja();
    let titles: Vec<(String, String)> = state
        .store
        .instruments()
        .await?
        .into_iter()
        .map(|i| (i.id, if ja { i.title_ja } else { i.title_en }))
        .collect();
    let death_bars = bars(f.deaths_by_place.iter().map(|(p, n)| (tr.label("place", p.as_str()), *n)));
    let care_bars = bars(f.specialist_care.iter().map(|c| (tr.label("contact", c.kind.as_str()), c.contacts)));
    let programme_bars = bars(f.programme.iter().map(|p| (tr.label("pillar", p.pillar.as_str()), p.attendees)));
    // Both means of an instrument on one scale: the larger of all of them.
    let top = f.symptoms.iter().flat_map(|s| [s.mean_first, s.mean_week]).fold(0.0_f64, f64::max).max(1.0);
    let symptom_plots = f
        .symptoms
        .iter()
        .map(|s| SymptomPlot {
            id: s.instrument_id.clone(),
            title: title_of(&titles, &s.instrument_id),
            pairs: s.pairs,
            first: format!("{:.1}", s.mean_first),
            week: format!("{:.1}", s.mean_week),
            first_width: format!("{:.1}", BAR_MAX * s.mean_first / top),
            week_width: format!("{:.1}", BAR_MAX * s.mean_week / top),
            first_x: format!("{:.1}", BAR_X + BAR_MAX * s.mean_first / top + 4.0),
            week_x: format!("{:.1}", BAR_X + BAR_MAX * s.mean_week / top + 4.0),
        })
        .collect();
    page(&DashboardPage {
        chrome: me.chrome(&ctx, &state),
        scope,
        years,
        f,
        death_bars,
        care_bars,
        programme_bars,
        symptom_plots,
        titles,
    })
}

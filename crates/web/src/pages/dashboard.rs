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
use tsunagu_domain::transition::fiscal_year;
use tsunagu_store::OutcomeFigures;

pub struct Bar {
    pub label: String,
    pub count: i64,
    pub width: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub chrome: Chrome,
    pub scope: String,
    pub years: Vec<i32>,
    pub f: OutcomeFigures,
    pub death_bars: Vec<Bar>,
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
    let this = fiscal_year(state.store.clock().today_jst());
    let years = vec![this, this - 1, this - 2];
    let fy = q.fy.filter(|y| years.contains(y)).unwrap_or(this);
    let org = if me.principal.operator { None } else { Some(me.principal.org) };
    let scope = match org {
        None => tr.t("stats-region"),
        Some(o) => state.store.get_org(o).await?.name,
    };
    let f = state.store.outcome_figures(org, fy).await?;
    let most = f.deaths_by_place.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let death_bars = f
        .deaths_by_place
        .iter()
        .map(|(p, n)| Bar {
            label: tr.label("place", p.as_str()),
            count: *n,
            width: format!("{:.1}", 220.0 * *n as f64 / most as f64),
        })
        .collect();
    page(&DashboardPage { chrome: me.chrome(&ctx, &state), scope, years, f, death_bars })
}

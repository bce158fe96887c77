//! "Today's visits" for the bedside (issue #10): the visits the person's organization
//! scheduled for today, the person's own first, each one tap from the chart, with the
//! address and phone to get there and any diary alert waiting. Made for a phone.

use crate::auth::Signed;
use crate::error::AppResult;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, page};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use tsunagu_store::TodayVisitRow;

#[derive(Template)]
#[template(path = "today.html")]
pub struct TodayPage {
    pub chrome: Chrome,
    pub day: String,
    pub visits: Vec<TodayVisitRow>,
}

/// `GET /today`
pub async fn show(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    let day = state.store.clock().today_jst();
    let visits = state.store.todays_visits(&me.principal, day, &ctx.audit()).await?;
    page(&TodayPage { chrome: me.chrome(&ctx, &state), day: ctx.tr().date(&day), visits })
}

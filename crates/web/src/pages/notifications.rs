//! Which events a person hears about by e-mail, and how often (issue #10). Off by
//! default for everything; the inbox shows every event regardless.

use crate::auth::Signed;
use crate::error::{AppError, AppResult};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, page};
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use tsunagu_domain::family::{Frequency, NotificationCategory};

#[derive(Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    pub chrome: Chrome,
    pub prefs: Vec<(NotificationCategory, Frequency)>,
    pub frequencies: [Frequency; 3],
    /// Whether the server sends mail at all (SMTP configured).
    pub mail_on: bool,
    pub saved: bool,
}

#[derive(serde::Deserialize, Default)]
pub struct SavedQuery {
    saved: Option<String>,
}

/// `GET /account/notifications`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    axum::extract::Query(q): axum::extract::Query<SavedQuery>,
) -> AppResult<Response> {
    let prefs = state.store.notification_prefs(me.user.id).await?;
    page(&NotificationsPage {
        chrome: me.chrome(&ctx, &state),
        prefs,
        frequencies: Frequency::ALL,
        mail_on: state.config.mail.is_some(),
        saved: q.saved.is_some(),
    })
}

/// `POST /account/notifications`: one choice per category (`category=frequency`).
pub async fn save(
    State(state): State<AppState>,
    me: Signed,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> AppResult<Response> {
    let pairs = crate::auth::form_urlencoded_pairs(&body);
    let mut prefs = Vec::new();
    for c in NotificationCategory::ALL {
        let raw = pairs.iter().find(|(k, _)| k == c.as_str()).map(|(_, v)| v.as_str()).unwrap_or("off");
        prefs.push((c, Frequency::parse(raw).map_err(AppError::Invalid)?));
    }
    state.store.set_notification_prefs(me.user.id, &prefs).await?;
    Ok(Redirect::to("/account/notifications?saved=1").into_response())
}

//! Emergency (break-the-glass) access: the form a professional outside a patient's team
//! fills in to open that patient's chart in an emergency, and the operator's review of
//! every emergency access in the region.

use super::FormErrors;
use crate::auth::{Signed, require_recent_auth};
use crate::error::{AppError, AppResult};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, field_messages, page, render};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tsunagu_domain::Invalid;
use tsunagu_domain::patient::parse_birth_date;
use tsunagu_store::{EMERGENCY_MINUTES, EmergencyRow};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct EmergencyForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub birth_date: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Template)]
#[template(path = "emergency.html")]
pub struct EmergencyPage {
    pub chrome: Chrome,
    pub form: EmergencyForm,
    pub minutes: i64,
    pub errors: FormErrors,
}

/// `GET /emergency`
pub async fn form(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    // Opening a chart outside one's team is a sensitive act: the person proves again
    // who they are (password and code) first.
    require_recent_auth(&state, &me, "/emergency")?;
    page(&EmergencyPage {
        chrome: me.chrome(&ctx, &state),
        form: EmergencyForm::default(),
        minutes: EMERGENCY_MINUTES,
        errors: FormErrors::default(),
    })
}

/// `POST /emergency`: open the chart of the patient named exactly, for a limited time.
/// No match, or a match outside any reach, answer alike: "no such patient".
pub async fn open(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Form(f): Form<EmergencyForm>,
) -> AppResult<Response> {
    require_recent_auth(&state, &me, "/emergency")?;
    let today = state.store.clock().today_jst();
    let r: AppResult<tsunagu_domain::PatientId> = async {
        let mut inv = Invalid::default();
        let birth = inv.merge(parse_birth_date(&f.birth_date, today));
        if f.reason.trim().is_empty() {
            inv.push("reason", "err-required");
        }
        inv.into_result()?;
        let birth = birth.ok_or(AppError::Invalid(Invalid::one("birth_date", "err-date")))?;
        match state.store.break_glass(&me.principal, &f.name, birth, &f.reason, &ctx.audit()).await {
            Ok((pid, _)) => {
                // Tell the patient's team (those who chose to hear about it).
                let team = state.store.team_orgs(pid).await?;
                crate::mail::notify(
                    &state,
                    tsunagu_store::Recipients::Orgs(team),
                    tsunagu_domain::family::NotificationCategory::Emergency,
                    "/inbox",
                    Some(me.principal.user),
                )
                .await;
                Ok(pid)
            }
            Err(tsunagu_store::StoreError::NotFound) => Err(Invalid::one("name", "err-emergency-no-match").into()),
            Err(e) => Err(e.into()),
        }
    }
    .await;
    let fields = match r {
        Ok(pid) => return Ok(Redirect::to(&format!("/patients/{pid}")).into_response()),
        Err(AppError::Invalid(inv)) => inv.0,
        Err(e) => return Err(e),
    };
    let p = EmergencyPage {
        chrome: me.chrome(&ctx, &state),
        form: f,
        minutes: EMERGENCY_MINUTES,
        errors: FormErrors(field_messages(&ctx.tr(), &fields)),
    };
    render(StatusCode::UNPROCESSABLE_ENTITY, &p)
}

#[derive(Template)]
#[template(path = "operator_emergency.html")]
pub struct ReviewPage {
    pub chrome: Chrome,
    pub rows: Vec<EmergencyRow>,
}

/// `GET /operator/emergency`: every emergency access, for the operator's review.
pub async fn review(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    if !me.principal.operator {
        return Err(AppError::NotFound);
    }
    page(&ReviewPage { chrome: me.chrome(&ctx, &state), rows: state.store.system_emergency_review().await? })
}

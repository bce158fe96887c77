//! Specialist palliative care on the chart (DOMAIN.md §8): the palliative-team consults,
//! palliative outpatient visits and home visits the patient received, which the region
//! counts on its dashboard. An entry in error is marked with a reason, never removed.

use super::patients::patient_id;
use super::{FormErrors, refused};
use crate::auth::Signed;
use crate::error::{AppError, AppResult};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, field_messages, page, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tsunagu_domain::patient::parse_iso_date;
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::programme::{CareContact, ContactKind};
use tsunagu_domain::{Invalid, PatientId};
use tsunagu_store::{CareContactRow, ChartGrant, PatientRow};

#[derive(Template)]
#[template(path = "contacts.html")]
pub struct ContactsPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub rows: Vec<CareContactRow>,
    pub kinds: Vec<(&'static str, String)>,
    pub can_write: bool,
    pub form: ContactForm,
    pub errors: FormErrors,
}

#[derive(Deserialize, Default, Clone)]
pub struct ContactForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub occurred_on: String,
    #[serde(default)]
    pub note: String,
}

impl ContactForm {
    fn contact(&self) -> Result<CareContact, Invalid> {
        let mut inv = Invalid::default();
        let kind = inv.merge(ContactKind::parse(&self.kind));
        let on = parse_iso_date(self.occurred_on.trim());
        if on.is_none() {
            inv.push("occurred_on", "err-date");
        }
        inv.into_result()?;
        match (kind, on) {
            (Some(kind), Some(occurred_on)) => Ok(CareContact { kind, occurred_on, note: self.note.clone() }),
            _ => Err(Invalid::one("kind", "err-invalid-choice")),
        }
    }
}

async fn contacts_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    g: &ChartGrant,
    form: ContactForm,
    errors: FormErrors,
) -> AppResult<ContactsPage> {
    let tr = ctx.tr();
    Ok(ContactsPage {
        chrome: me.chrome(ctx, state),
        patient: state.store.patient(g).await?,
        rows: state.store.care_contacts(g).await?,
        kinds: ContactKind::ALL.iter().map(|k| (k.as_str(), tr.label("contact", k.as_str()))).collect(),
        can_write: state.store.allows(g, ChartAction::Write).await?,
        form,
        errors,
    })
}

/// `GET /patients/{patient}/palliative-care`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "contacts.read", &ctx.audit()).await?;
    let today = state.store.clock().today_jst().to_string();
    let form = ContactForm { occurred_on: today, ..ContactForm::default() };
    page(&contacts_page(&state, &ctx, &me, &g, form, FormErrors::default()).await?)
}

/// `POST /patients/{patient}/palliative-care`: one contact.
pub async fn record(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<ContactForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "contact.record", &ctx.audit()).await?;
    let result = match f.contact() {
        Ok(c) => state.store.record_care_contact(&g, c, &ctx.audit()).await.map(|_| ()).map_err(AppError::from),
        Err(inv) => Err(AppError::Invalid(inv)),
    };
    after(&state, &ctx, &me, &g, pid, f, result).await
}

#[derive(Deserialize)]
pub struct MarkForm {
    #[serde(default)]
    reason: String,
}

/// `POST /patients/{patient}/palliative-care/{contact}/in-error`
pub async fn mark_in_error(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, contact)): Path<(String, String)>,
    Form(f): Form<MarkForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "contact.mark", &ctx.audit()).await?;
    let result = state.store.mark_care_contact(&g, &contact, &f.reason, &ctx.audit()).await.map_err(AppError::from);
    after(&state, &ctx, &me, &g, pid, ContactForm::default(), result).await
}

/// Back to the page after a write, or the page again with the refusal explained.
async fn after(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    g: &ChartGrant,
    pid: PatientId,
    form: ContactForm,
    result: AppResult<()>,
) -> AppResult<Response> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{pid}/palliative-care")).into_response()),
        Err(e) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &refused(e)?));
            render(StatusCode::UNPROCESSABLE_ENTITY, &contacts_page(state, ctx, me, g, form, errors).await?)
        }
    }
}

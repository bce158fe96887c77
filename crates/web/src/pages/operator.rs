//! The network operator's page: register organizations of the region and approve or
//! suspend them. The operator manages organizations, never charts.

use super::{FormErrors, checked};
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
use tsunagu_domain::org::{Capabilities, InstitutionCode, OrgKind, OrgStatus, parse_coordinates};
use tsunagu_domain::validation::{optional_phone, optional_text, required_text};
use tsunagu_domain::{Invalid, OrgId};
use tsunagu_store::{NewOrg, OrgRow};

#[derive(Template)]
#[template(path = "operator_orgs.html")]
pub struct OperatorPage {
    pub chrome: Chrome,
    pub orgs: Vec<OrgRow>,
    pub kinds: Vec<(&'static str, String)>,
    pub form: OrgRegistration,
    pub errors: FormErrors,
}

fn require_operator(me: &Signed) -> AppResult<()> {
    if me.principal.operator { Ok(()) } else { Err(AppError::NotFound) }
}

async fn operator_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    form: OrgRegistration,
    errors: FormErrors,
) -> AppResult<OperatorPage> {
    let tr = ctx.tr();
    Ok(OperatorPage {
        chrome: me.chrome(ctx, state),
        orgs: state.store.list_orgs().await?,
        kinds: OrgKind::ALL.iter().map(|k| (k.as_str(), tr.label("org-kind", k.as_str()))).collect(),
        form,
        errors,
    })
}

pub async fn list(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    require_operator(&me)?;
    page(&operator_page(&state, &ctx, &me, OrgRegistration::default(), FormErrors::default()).await?)
}

#[derive(Deserialize, Default, Clone)]
pub struct OrgRegistration {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub name_kana: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub lat: String,
    #[serde(default)]
    pub lon: String,
    pub home_visits: Option<String>,
    pub support_24h: Option<String>,
    pub palliative_care: Option<String>,
    pub opioid_dispensing: Option<String>,
    pub accepts_new_patients: Option<String>,
}

impl OrgRegistration {
    /// A validated organization; the code is optional (not every kind has one).
    pub fn parse(&self) -> Result<NewOrg, Invalid> {
        let mut inv = Invalid::default();
        let code = if self.code.trim().is_empty() {
            Some(None)
        } else {
            inv.merge(InstitutionCode::parse(&self.code).map(Some))
        };
        let kind = inv.merge(OrgKind::parse(&self.kind));
        let name = inv.merge(required_text("name", &self.name, 100));
        let name_kana = if self.name_kana.trim().is_empty() {
            Some(String::new())
        } else {
            inv.merge(tsunagu_domain::patient::parse_kana("name_kana", &self.name_kana))
        };
        let postal_code = inv.merge(tsunagu_domain::patient::parse_postal_code(&self.postal_code));
        let address = inv.merge(optional_text("address", &self.address, 200));
        let phone = inv.merge(optional_phone("phone", &self.phone));
        let coordinates = inv.merge(parse_coordinates(&self.lat, &self.lon));
        match (code, kind, name, name_kana, postal_code, address, phone, coordinates) {
            (
                Some(code),
                Some(kind),
                Some(name),
                Some(name_kana),
                Some(postal_code),
                Some(address),
                Some(phone),
                Some(coordinates),
            ) if inv.is_empty() => Ok(NewOrg {
                code,
                kind,
                name,
                name_kana,
                postal_code,
                address,
                phone,
                night_phone: None,
                coordinates,
                capabilities: Capabilities {
                    home_visits: checked(&self.home_visits),
                    support_24h: checked(&self.support_24h),
                    palliative_care: checked(&self.palliative_care),
                    opioid_dispensing: checked(&self.opioid_dispensing),
                    accepts_new_patients: checked(&self.accepts_new_patients),
                },
            }),
            _ => Err(inv),
        }
    }
}

pub async fn register_org(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Form(f): Form<OrgRegistration>,
) -> AppResult<Response> {
    require_operator(&me)?;
    let tr = ctx.tr();
    let org = match f.parse() {
        Ok(o) => o,
        Err(inv) => {
            let p = operator_page(&state, &ctx, &me, f, FormErrors(field_messages(&tr, &inv.0))).await?;
            return render(StatusCode::UNPROCESSABLE_ENTITY, &p);
        }
    };
    match state.store.create_org(&org, OrgStatus::Pending, Some(&me.principal), &ctx.audit()).await {
        Ok(_) => Ok(Redirect::to("/operator/orgs").into_response()),
        Err(tsunagu_store::StoreError::Conflict { field, key }) => {
            let errors = FormErrors(field_messages(&tr, &[tsunagu_domain::FieldError::new(field, key)]));
            let p = operator_page(&state, &ctx, &me, f, errors).await?;
            render(StatusCode::CONFLICT, &p)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
}

pub async fn set_status(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(org): Path<String>,
    Form(f): Form<StatusForm>,
) -> AppResult<Response> {
    require_operator(&me)?;
    let org: OrgId = org.parse().map_err(|_| AppError::NotFound)?;
    let status = OrgStatus::parse(&f.status).ok_or(AppError::Invalid(Invalid::one("status", "err-required")))?;
    if org == me.principal.org && status != OrgStatus::Approved {
        // The operator cannot lock itself out.
        return Err(AppError::Forbidden);
    }
    state.store.set_org_status(&me.principal, org, status, &ctx.audit()).await?;
    Ok(Redirect::to("/operator/orgs").into_response())
}

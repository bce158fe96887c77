//! Advance care planning on the chart (DOMAIN.md §7): the patient's wishes as they are
//! now, every earlier version as a timeline (what changed, when, in which conversation,
//! recorded by whom), the form for a new version, and the death record with whether the
//! patient died where they last wished.

use super::FormErrors;
use super::patients::patient_id;
use super::{checked, refused};
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
use tsunagu_domain::Invalid;
use tsunagu_domain::acp::{AcpRecord, DeathRecord, Place, Resuscitation};
use tsunagu_domain::patient::parse_iso_date;
use tsunagu_domain::policy::ChartAction;
use tsunagu_store::{AcpView, ChartGrant, PatientRow};

#[derive(Template)]
#[template(path = "acp.html")]
pub struct AcpPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub view: AcpView,
    pub can_write: bool,
    pub places: Vec<(&'static str, String)>,
    pub resuscitations: Vec<(&'static str, String)>,
    /// What the form shows: the current version (or the one just refused).
    pub form: AcpForm,
    pub death_form: DeathForm,
    pub errors: FormErrors,
}

impl AcpPage {
    pub fn place(&self, p: &Place) -> String {
        self.chrome.tr.label("place", p.as_str())
    }
    pub fn resus(&self, r: &Resuscitation) -> String {
        self.chrome.tr.label("resuscitation", r.as_str())
    }
    /// What changed from the version before, by field label.
    pub fn changes(&self, i: &usize) -> Vec<String> {
        let tr = &self.chrome.tr;
        let (Some(cur), Some(prev)) =
            (self.view.versions.get(*i), i.checked_sub(1).and_then(|p| self.view.versions.get(p)))
        else {
            return Vec::new();
        };
        let (a, b) = (&prev.body, &cur.body);
        let mut out = Vec::new();
        let mut diff = |changed: bool, key: &str| {
            if changed {
                out.push(tr.t(key));
            }
        };
        diff(a.preferred_place_of_care != b.preferred_place_of_care, "field-preferred-place-of-care");
        diff(a.preferred_place_of_death != b.preferred_place_of_death, "field-preferred-place-of-death");
        diff(a.resuscitation != b.resuscitation, "field-resuscitation");
        diff(a.ceiling_of_treatment != b.ceiling_of_treatment, "field-ceiling-of-treatment");
        diff(a.surrogate != b.surrogate, "field-surrogate");
        diff(a.what_matters != b.what_matters, "field-what-matters");
        diff(a.key_contacts != b.key_contacts, "field-key-contacts");
        out
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct AcpForm {
    #[serde(default)]
    pub version: i64,
    #[serde(default)]
    pub discussed_on: String,
    pub patient_present: Option<String>,
    pub family_present: Option<String>,
    #[serde(default)]
    pub preferred_place_of_care: String,
    #[serde(default)]
    pub preferred_place_of_death: String,
    #[serde(default)]
    pub resuscitation: String,
    #[serde(default)]
    pub ceiling_of_treatment: String,
    #[serde(default)]
    pub surrogate: String,
    #[serde(default)]
    pub what_matters: String,
    #[serde(default)]
    pub key_contacts: String,
    #[serde(default)]
    pub note: String,
}

impl AcpForm {
    fn from_view(v: &AcpView) -> Self {
        match v.current() {
            Some(c) => {
                let b = &c.body;
                AcpForm {
                    version: c.version,
                    discussed_on: String::new(),
                    patient_present: None,
                    family_present: None,
                    preferred_place_of_care: b.preferred_place_of_care.as_str().into(),
                    preferred_place_of_death: b.preferred_place_of_death.as_str().into(),
                    resuscitation: b.resuscitation.as_str().into(),
                    ceiling_of_treatment: b.ceiling_of_treatment.clone(),
                    surrogate: b.surrogate.clone(),
                    what_matters: b.what_matters.clone(),
                    key_contacts: b.key_contacts.clone(),
                    note: String::new(),
                }
            }
            None => AcpForm {
                preferred_place_of_care: "undecided".into(),
                preferred_place_of_death: "undecided".into(),
                resuscitation: "undecided".into(),
                ..AcpForm::default()
            },
        }
    }

    fn record(&self) -> Result<AcpRecord, Invalid> {
        let mut inv = Invalid::default();
        let discussed_on = parse_iso_date(self.discussed_on.trim());
        if discussed_on.is_none() {
            inv.push("discussed_on", "err-date");
        }
        let care = inv.merge(Place::parse("preferred_place_of_care", &self.preferred_place_of_care));
        let death = inv.merge(Place::parse("preferred_place_of_death", &self.preferred_place_of_death));
        let resus = inv.merge(Resuscitation::parse(&self.resuscitation));
        match (discussed_on, care, death, resus) {
            (Some(discussed_on), Some(care), Some(death), Some(resuscitation)) if inv.is_empty() => Ok(AcpRecord {
                discussed_on,
                patient_present: checked(&self.patient_present),
                family_present: checked(&self.family_present),
                preferred_place_of_care: care,
                preferred_place_of_death: death,
                resuscitation,
                ceiling_of_treatment: self.ceiling_of_treatment.trim().replace("\r\n", "\n"),
                surrogate: self.surrogate.trim().into(),
                what_matters: self.what_matters.trim().replace("\r\n", "\n"),
                key_contacts: self.key_contacts.trim().replace("\r\n", "\n"),
                note: self.note.trim().replace("\r\n", "\n"),
            }),
            _ => Err(inv),
        }
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct DeathForm {
    #[serde(default)]
    pub version: i64,
    #[serde(default)]
    pub died_on: String,
    #[serde(default)]
    pub place: String,
    #[serde(default)]
    pub team_present: String,
    #[serde(default)]
    pub reason: String,
}

impl DeathForm {
    fn record(&self) -> Result<DeathRecord, Invalid> {
        let mut inv = Invalid::default();
        let died_on = parse_iso_date(self.died_on.trim());
        if died_on.is_none() {
            inv.push("died_on", "err-date");
        }
        let place = inv.merge(Place::parse("place", &self.place));
        match (died_on, place) {
            (Some(died_on), Some(place)) if inv.is_empty() => {
                Ok(DeathRecord { died_on, place, team_present: self.team_present.trim().into() })
            }
            _ => Err(inv),
        }
    }
}

async fn acp_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    g: &ChartGrant,
    form: Option<AcpForm>,
    death_form: Option<DeathForm>,
    errors: FormErrors,
) -> AppResult<AcpPage> {
    let tr = ctx.tr();
    let view = state.store.acp(g).await?;
    let death_version = view.death.as_ref().map(|d| d.version).unwrap_or(0);
    let death_form = death_form.unwrap_or_else(|| match &view.death {
        Some(d) => DeathForm {
            version: d.version,
            died_on: d.body.died_on.to_string(),
            place: d.body.place.as_str().into(),
            team_present: d.body.team_present.clone(),
            reason: String::new(),
        },
        None => DeathForm { version: death_version, ..DeathForm::default() },
    });
    Ok(AcpPage {
        chrome: me.chrome(ctx, state),
        patient: state.store.patient(g).await?,
        can_write: state.store.allows(g, ChartAction::Write).await?,
        places: Place::ALL.iter().map(|p| (p.as_str(), tr.label("place", p.as_str()))).collect(),
        resuscitations: Resuscitation::ALL
            .iter()
            .map(|r| (r.as_str(), tr.label("resuscitation", r.as_str())))
            .collect(),
        form: form.unwrap_or_else(|| AcpForm::from_view(&view)),
        death_form,
        view,
        errors,
    })
}

/// `GET /patients/{patient}/acp`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "acp.read", &ctx.audit()).await?;
    page(&acp_page(&state, &ctx, &me, &g, None, None, FormErrors::default()).await?)
}

/// `POST /patients/{patient}/acp`: a new version of the wishes.
pub async fn record(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<AcpForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "acp.record", &ctx.audit()).await?;
    let result = match f.record() {
        Ok(rec) => state.store.record_acp(&g, rec, f.version, &ctx.audit()).await.map_err(AppError::from),
        Err(inv) => Err(AppError::Invalid(inv)),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/patients/{pid}/acp")).into_response()),
        Err(e) => {
            let fields = refused(e)?;
            let errors = FormErrors(field_messages(&ctx.tr(), &fields));
            let p = acp_page(&state, &ctx, &me, &g, Some(f), None, errors).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
    }
}

/// `POST /patients/{patient}/death`: record the death, or correct the record.
pub async fn record_death(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<DeathForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "death.record", &ctx.audit()).await?;
    let parsed = f.record();
    let result = match parsed {
        Ok(rec) => state.store.record_death(&g, rec, f.version, &f.reason, &ctx.audit()).await.map_err(AppError::from),
        Err(inv) => Err(AppError::Invalid(inv)),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/patients/{pid}/acp")).into_response()),
        Err(e) => {
            let fields = refused(e)?;
            let errors = FormErrors(field_messages(&ctx.tr(), &fields));
            let p = acp_page(&state, &ctx, &me, &g, None, Some(f), errors).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
    }
}

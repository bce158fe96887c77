//! An organization administrator's page: the organization's contacts and capabilities
//! (which the regional directory shows) and its staff.

use super::{FormErrors, checked};
use crate::auth::Signed;
use crate::error::{AppError, AppResult};
use crate::middleware::RequestCtx;
use crate::password::hash_password;
use crate::state::AppState;
use crate::view::{Chrome, field_messages, page, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tsunagu_domain::org::Capabilities;
use tsunagu_domain::person::{Email, Profession, check_new_password};
use tsunagu_domain::validation::{optional_phone, optional_text, required_text};
use tsunagu_domain::{Invalid, UserId};
use tsunagu_store::{NewUser, OrgRow, OrgUpdate, UserRow};

#[derive(Template)]
#[template(path = "admin_org.html")]
pub struct AdminPage {
    pub chrome: Chrome,
    pub org: OrgRow,
    /// The administrator, who cannot suspend themselves.
    pub me: UserId,
    pub staff: Vec<(UserRow, bool)>,
    /// Active accounts unused for [`UNUSED_DAYS`] days.
    pub unused: Vec<UserId>,
    pub professions: Vec<(&'static str, String)>,
    pub errors: FormErrors,
    pub new_staff: StaffForm,
}

/// After how many days without a sign-in an account is shown as unused.
pub const UNUSED_DAYS: i64 = 90;

fn require_admin(me: &Signed) -> AppResult<()> {
    if me.principal.org_admin { Ok(()) } else { Err(AppError::NotFound) }
}

async fn admin_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    errors: FormErrors,
    new_staff: StaffForm,
) -> AppResult<AdminPage> {
    let tr = ctx.tr();
    Ok(AdminPage {
        chrome: me.chrome(ctx, state),
        org: state.store.get_org(me.principal.org).await?,
        me: me.principal.user,
        staff: state.store.staff(me.principal.org).await?,
        unused: state.store.unused_accounts(me.principal.org, UNUSED_DAYS).await?,
        professions: Profession::ALL.iter().map(|p| (p.as_str(), tr.label("profession", p.as_str()))).collect(),
        errors,
        new_staff,
    })
}

pub async fn show(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    require_admin(&me)?;
    page(&admin_page(&state, &ctx, &me, FormErrors::default(), StaffForm::default()).await?)
}

#[derive(Deserialize)]
pub struct OrgForm {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    night_phone: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
    #[serde(default)]
    visiting_area: String,
    home_visits: Option<String>,
    support_24h: Option<String>,
    palliative_care: Option<String>,
    opioid_dispensing: Option<String>,
    accepts_new_patients: Option<String>,
}

pub async fn update_org(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Form(f): Form<OrgForm>,
) -> AppResult<Response> {
    require_admin(&me)?;
    let parse = || {
        let mut inv = Invalid::default();
        let phone = inv.merge(optional_phone("phone", &f.phone));
        let night_phone = inv.merge(optional_phone("night_phone", &f.night_phone));
        let address = inv.merge(optional_text("address", &f.address, 200));
        let visiting_area = inv.merge(optional_text("visiting_area", &f.visiting_area, 200));
        let location = inv.merge(tsunagu_domain::org::parse_location("location", &f.lat, &f.lon));
        match (phone, night_phone, address, location, visiting_area) {
            (Some(phone), Some(night_phone), Some(address), Some(location), Some(visiting_area)) if inv.is_empty() => {
                Ok(OrgUpdate {
                    phone,
                    night_phone,
                    address,
                    location,
                    visiting_area: visiting_area.unwrap_or_default(),
                    capabilities: Capabilities {
                        home_visits: checked(&f.home_visits),
                        support_24h: checked(&f.support_24h),
                        palliative_care: checked(&f.palliative_care),
                        opioid_dispensing: checked(&f.opioid_dispensing),
                        accepts_new_patients: checked(&f.accepts_new_patients),
                    },
                })
            }
            _ => Err(inv),
        }
    };
    match parse() {
        Ok(u) => {
            state.store.update_org(&me.principal, &u, &ctx.audit()).await?;
            Ok(Redirect::to("/admin/org").into_response())
        }
        Err(inv) => {
            let p = admin_page(&state, &ctx, &me, FormErrors(field_messages(&ctx.tr(), &inv.0)), StaffForm::default())
                .await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct StaffForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub name_kana: String,
    #[serde(default)]
    pub profession: String,
    #[serde(default)]
    pub password: String,
    pub org_admin: Option<String>,
}

/// The administrator adds a member of staff with an initial password.
pub async fn add_staff(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Form(f): Form<StaffForm>,
) -> AppResult<Response> {
    require_admin(&me)?;
    let tr = ctx.tr();
    let mut inv = Invalid::default();
    let email = inv.merge(Email::parse(&f.email));
    let name = inv.merge(required_text("display_name", &f.display_name, 60));
    let kana = if f.name_kana.trim().is_empty() {
        Some(String::new())
    } else {
        inv.merge(tsunagu_domain::patient::parse_kana("name_kana", &f.name_kana))
    };
    let profession = inv.merge(Profession::parse(&f.profession));
    inv.merge(check_new_password(&f.password));
    let (email, name, kana, profession) = match (email, name, kana, profession) {
        (Some(email), Some(name), Some(kana), Some(profession)) if inv.is_empty() => (email, name, kana, profession),
        _ => {
            let errors = FormErrors(field_messages(&tr, &inv.0));
            let p = admin_page(&state, &ctx, &me, errors, StaffForm { password: String::new(), ..f }).await?;
            return render(StatusCode::UNPROCESSABLE_ENTITY, &p);
        }
    };
    let (m, t, p) = (state.config.argon2_m_kib, state.config.argon2_t, state.config.argon2_p);
    let pw = f.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw, m, t, p))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let nu = NewUser { email, display_name: name, name_kana: kana, profession, password_hash: hash, operator: false };
    match state.store.create_user(&nu, me.principal.org, checked(&f.org_admin), Some(&me.principal), &ctx.audit()).await
    {
        Ok(_) => Ok(Redirect::to("/admin/org").into_response()),
        Err(tsunagu_store::StoreError::Conflict { field, key }) => {
            let errors = FormErrors(field_messages(&tr, &[tsunagu_domain::FieldError::new(field, key)]));
            let p = admin_page(&state, &ctx, &me, errors, StaffForm { password: String::new(), ..f }).await?;
            render(StatusCode::CONFLICT, &p)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    active: String,
}

/// Suspend (sessions and tokens end at once) or reactivate a member of staff.
pub async fn set_staff_status(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(user): Path<String>,
    Form(f): Form<StatusForm>,
) -> AppResult<Response> {
    require_admin(&me)?;
    let user: UserId = user.parse().map_err(|_| AppError::NotFound)?;
    if user == me.principal.user {
        return Err(AppError::Forbidden);
    }
    state.store.set_user_status(&me.principal, user, f.active == "1", &ctx.audit()).await?;
    Ok(Redirect::to("/admin/org").into_response())
}

#[derive(Deserialize)]
pub struct PasswordResetForm {
    #[serde(default)]
    password: String,
}

/// The administrator sets a new password for a member of staff who forgot theirs.
/// Their sessions end; their authenticator stays, so the new password alone still
/// opens nothing (the second factor is never bypassed). Asks the administrator for
/// their own password and code first.
pub async fn reset_staff_password(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(user): Path<String>,
    Form(f): Form<PasswordResetForm>,
) -> AppResult<Response> {
    require_admin(&me)?;
    crate::auth::require_recent_auth(&state, &me, "/admin/org")?;
    let user: UserId = user.parse().map_err(|_| AppError::NotFound)?;
    if let Err(inv) = check_new_password(&f.password) {
        let fields: Vec<tsunagu_domain::FieldError> =
            inv.0.into_iter().map(|e| tsunagu_domain::FieldError::new("reset_password", e.key)).collect();
        let errors = FormErrors(field_messages(&ctx.tr(), &fields));
        let p = admin_page(&state, &ctx, &me, errors, StaffForm::default()).await?;
        return render(StatusCode::UNPROCESSABLE_ENTITY, &p);
    }
    let (m, t, p) = (state.config.argon2_m_kib, state.config.argon2_t, state.config.argon2_p);
    let pw = f.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw, m, t, p))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    state.store.reset_password(&me.principal, user, &hash, &ctx.audit()).await?;
    Ok(Redirect::to("/admin/org").into_response())
}

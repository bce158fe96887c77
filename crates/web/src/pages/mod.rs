//! Server-rendered pages, one module per area.

pub mod account;
pub mod acp;
pub mod admin;
pub mod chart;
pub mod contacts;
pub mod dashboard;
pub mod directory;
pub mod emergency;
pub mod family;
pub mod family_team;
pub mod labs;
pub mod letters;
pub mod notifications;
pub mod operator;
pub mod passkeys;
pub mod patients;
pub mod prescriptions;
pub mod programme;
pub mod search;
pub mod second_factor;
pub mod signin;
pub mod surveys;
pub mod symptoms;
pub mod system;
pub mod today;
pub mod transition;
pub mod urgent;

use crate::view::FieldMessage;

/// Checkbox values from forms: present and "on"/"1"/"true" means checked.
pub fn checked(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("on" | "1" | "true" | "yes"))
}

/// The fiscal years a yearly page offers (this one and the two before), and the one to
/// show: the asked one when it is among them, otherwise this one.
pub fn fiscal_years(state: &crate::state::AppState, asked: Option<i32>) -> (i32, Vec<i32>) {
    let this = tsunagu_domain::transition::fiscal_year(state.store.clock().today_jst());
    let years = vec![this, this - 1, this - 2];
    (asked.filter(|y| years.contains(y)).unwrap_or(this), years)
}

/// A `datetime-local` field (`2026-11-24T10:30`), read as Japan time. Empty is None.
pub fn local_datetime(field: &'static str, raw: &str) -> Result<Option<time::OffsetDateTime>, tsunagu_domain::Invalid> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    time::PrimitiveDateTime::parse(raw, &fmt)
        .map(|t| Some(t.assume_offset(time::macros::offset!(+9))))
        .map_err(|_| tsunagu_domain::Invalid::one(field, "err-datetime"))
}

/// Now as a `datetime-local` value in Japan time (a form's default).
pub fn local_now(state: &crate::state::AppState) -> String {
    let j = state.store.now().to_offset(time::macros::offset!(+9));
    format!("{:04}-{:02}-{:02}T{:02}:{:02}", j.year(), u8::from(j.month()), j.day(), j.hour(), j.minute())
}

/// A refused form's field errors (invalid input, or a conflict such as a stale
/// version), to show on the form again; any other error goes up.
pub fn refused(e: crate::error::AppError) -> Result<Vec<tsunagu_domain::FieldError>, crate::error::AppError> {
    match e {
        crate::error::AppError::Invalid(inv) => Ok(inv.0),
        crate::error::AppError::Conflict(f) => Ok(vec![f]),
        other => Err(other),
    }
}

/// Errors of a form, looked up by field in templates.
#[derive(Debug, Clone, Default)]
pub struct FormErrors(pub Vec<FieldMessage>);

impl FormErrors {
    pub fn of(&self, field: &str) -> String {
        crate::view::message_for(&self.0, field)
    }
    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }
}

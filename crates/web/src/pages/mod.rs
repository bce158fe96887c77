//! Server-rendered pages, one module per area.

pub mod account;
pub mod acp;
pub mod admin;
pub mod chart;
pub mod dashboard;
pub mod directory;
pub mod emergency;
pub mod letters;
pub mod operator;
pub mod patients;
pub mod search;
pub mod second_factor;
pub mod signin;
pub mod surveys;
pub mod symptoms;
pub mod system;
pub mod transition;
pub mod urgent;

use crate::view::FieldMessage;

/// Checkbox values from forms: present and "on"/"1"/"true" means checked.
pub fn checked(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("on" | "1" | "true" | "yes"))
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

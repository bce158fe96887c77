//! Pure domain types and rules of tsunagu. No I/O lives here: ids, validated values
//! (parse, don't validate), the Japanese-specific rules (kana, era, institution codes)
//! and the one access policy that decides who may touch a chart.

pub mod acp;
pub mod chart;
pub mod clock;
pub mod diff;
pub mod era;
pub mod family;
pub mod ids;
pub mod kana;
pub mod letter;
pub mod media;
pub mod org;
pub mod patient;
pub mod person;
pub mod policy;
pub mod programme;
pub mod questionnaire;
pub mod transition;
pub mod validation;

pub use clock::{Clock, IdGen};
pub use ids::{OrgId, PatientId, UserId};
pub use validation::{FieldError, Invalid};

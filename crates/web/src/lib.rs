//! The HTTP layer of tsunagu: server-rendered pages (askama + htmx), the JSON API,
//! sessions, CSRF, security headers, error rendering in the user's language.
//!
//! Data flows one way: handler -> store (which asks the domain policy) -> database.
//! Handlers never build SQL and never see patient data without a grant.

pub mod api;
pub mod api_chart;
pub mod api_letters;
pub mod auth;
pub mod config;
pub mod error;
pub mod family_auth;
pub mod fhir;
pub mod i18n;
pub mod letters;
pub mod mail;
pub mod middleware;
pub mod pages;
pub mod password;
pub mod routes;
pub mod second_factor;
pub mod state;
pub mod view;

pub use config::{MailConfig, SmtpSecurity, WebConfig};
pub use routes::{RouteInfo, Scope, app, route_table};
pub use state::AppState;

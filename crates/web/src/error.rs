//! Errors of the HTTP layer. A handler returns an [`AppError`]; the error-rendering
//! middleware turns it into a page in the user's language, a JSON problem body on the
//! API, with the request id. Internal detail goes to the log only.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tsunagu_domain::{FieldError, Invalid};
use tsunagu_store::StoreError;

#[derive(Debug)]
pub enum AppError {
    /// Missing or out of reach; the two look the same.
    NotFound,
    /// Allowed to see, not to do.
    Forbidden,
    /// Not signed in (pages redirect to sign-in; the API answers 401).
    Unauthenticated,
    /// The CSRF token or origin check failed.
    CsrfFailed,
    Invalid(Invalid),
    Conflict(FieldError),
    TooManyAttempts,
    /// A sensitive action needs the password (and code) again; the page to come back
    /// to afterwards.
    Reauthenticate(String),
    Internal(String),
}

/// What the renderer needs to know; attached to the response as an extension.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// Catalogue key of the headline message.
    pub key: &'static str,
    pub fields: Vec<FieldError>,
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::CsrfFailed => StatusCode::FORBIDDEN,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Reauthenticate(_) => StatusCode::SEE_OTHER,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn info(&self) -> ErrorInfo {
        let (key, fields) = match self {
            AppError::NotFound => ("error-not-found", vec![]),
            AppError::Forbidden => ("error-forbidden", vec![]),
            AppError::Unauthenticated | AppError::Reauthenticate(_) => ("error-unauthenticated", vec![]),
            AppError::CsrfFailed => ("error-csrf", vec![]),
            AppError::Invalid(i) => ("error-invalid", i.0.clone()),
            AppError::Conflict(f) => ("error-conflict", vec![f.clone()]),
            AppError::TooManyAttempts => ("error-too-many", vec![]),
            AppError::Internal(_) => ("error-internal", vec![]),
        };
        ErrorInfo { key, fields }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Forbidden => AppError::Forbidden,
            StoreError::Invalid(i) => AppError::Invalid(i),
            StoreError::Conflict { field, key } => AppError::Conflict(FieldError::new(field, key)),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<Invalid> for AppError {
    fn from(i: Invalid) -> Self {
        AppError::Invalid(i)
    }
}

impl From<crate::password::SecretError> for AppError {
    fn from(e: crate::password::SecretError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            // The only place internal detail goes: the operational log.
            tracing::error!(error = %detail, "internal error");
        }
        if let AppError::Reauthenticate(back) = &self {
            return axum::response::Redirect::to(&format!("/reauth?next={}", crate::view::urlencode(back)))
                .into_response();
        }
        let mut r = self.status().into_response();
        r.extensions_mut().insert(self.info());
        r
    }
}

pub type AppResult<T> = Result<T, AppError>;

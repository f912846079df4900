//! HTTP errors, turned into responses in one place: bad input gets a precise JSON error,
//! internal faults are logged and answered with a generic message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use interact_store::StoreError;

/// An error an HTTP handler returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The request is invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Not allowed, e.g. the page's origin is outside the Domain Template (403).
    #[error("{0}")]
    Forbidden(String),
    /// The signed-in admin's role does not allow it (403, code `forbidden`).
    #[error("{0}")]
    Denied(String),
    /// Unknown or revoked (404).
    #[error("{0}")]
    NotFound(String),
    /// Conflicts with what exists (409).
    #[error("{0}")]
    Conflict(String),
    /// Too many requests (429).
    #[error("{0}")]
    RateLimited(String),
    /// The store failed (500, logged, generic message).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "origin_not_allowed"),
            Self::Denied(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// The message a client may see: the error itself, except for internal faults, which
    /// are logged here and answered generically.
    pub fn public_message(&self) -> String {
        match self {
            Self::Store(e) => {
                tracing::error!(error = %e, "store failure");
                "internal error".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = self.public_message();
        (
            status,
            Json(json!({"error": {"code": code, "message": message}})),
        )
            .into_response()
    }
}

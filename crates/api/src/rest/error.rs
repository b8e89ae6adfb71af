//! The HTTP face of a refusal: `{code, message, violations:[{rule, subject, fingerprint,
//! hint}]}` with the matching status. REST and the console render the same body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::control::{ControlError, ErrorKind, Violation};

/// An error response.
#[derive(Debug, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub violations: Vec<Violation>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            violations: Vec::new(),
        }
    }

    /// A request the HTTP layer refuses before the service sees it (`request.schema`,
    /// `request.max-size`).
    pub(crate) fn rule(status: StatusCode, rule: &str, message: impl Into<String>) -> Self {
        let e = ControlError::rule(ErrorKind::InvalidArgument, rule, message);
        Self {
            status,
            code: code_for(status),
            message: e.message,
            violations: e.violations,
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The body as sent: the same bytes whichever face answers.
    pub fn body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "invalid_argument",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        _ => "internal",
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        let (status, code) = match e.kind {
            ErrorKind::InvalidArgument => (StatusCode::BAD_REQUEST, "invalid_argument"),
            ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, "permission_denied"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::AlreadyExists => (StatusCode::CONFLICT, "already_exists"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "resource_exhausted"),
            ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Self {
            status,
            code,
            message: e.message,
            violations: e.violations,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            self.body(),
        )
            .into_response()
    }
}

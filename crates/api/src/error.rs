//! API errors: `{code, message, violations:[{rule, subject, fingerprint, hint}]}` with the
//! matching HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_policy::{Finding, Rule};
use gatehouse_store::StoreError;
use serde::Serialize;

/// One broken rule.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Violation {
    pub rule: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl From<&Finding> for Violation {
    fn from(f: &Finding) -> Self {
        Self {
            rule: f.rule.id().to_owned(),
            message: f.message.clone(),
            subject: f.certificate.as_ref().map(|c| c.subject.clone()),
            fingerprint: f.certificate.as_ref().map(|c| c.fingerprint.clone()),
            hint: Some(f.hint.to_owned()),
        }
    }
}

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

    /// A request that breaks a named rule that is not one of the policy crate's.
    pub(crate) fn rule(status: StatusCode, rule: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status,
            code: code_for(status),
            violations: vec![Violation {
                rule: rule.to_owned(),
                message: message.clone(),
                subject: None,
                fingerprint: None,
                hint: None,
            }],
            message,
        }
    }

    /// Policy findings: 413 when the bundle is too large, 400 otherwise.
    pub(crate) fn findings(findings: &[Finding]) -> Self {
        let status = if findings.iter().any(|f| f.rule == Rule::BundleMaxSize) {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        let first = findings
            .first()
            .map(|f| format!("[{}] {}", f.rule, f.message))
            .unwrap_or_default();
        Self {
            status,
            code: code_for(status),
            message: format!(
                "the change breaks {} rule(s); nothing was changed. First: {first}",
                findings.len()
            ),
            violations: findings.iter().map(Violation::from).collect(),
        }
    }

    pub(crate) fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission_denied", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_argument", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "invalid_argument",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "permission_denied",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::TOO_MANY_REQUESTS => "resource_exhausted",
        _ => "internal",
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { .. } => ApiError::not_found(e.to_string()),
            StoreError::AlreadyExists { .. } => {
                ApiError::new(StatusCode::CONFLICT, "already_exists", e.to_string())
            }
            StoreError::Conflict { .. } => ApiError::rule(
                StatusCode::CONFLICT,
                "namespace.resource-version",
                e.to_string(),
            ),
            StoreError::LastOwner => {
                ApiError::rule(StatusCode::CONFLICT, "user.last-owner", e.to_string())
            }
            StoreError::DuplicateRequest { .. } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            StoreError::Unavailable { .. } => {
                tracing::warn!(error = %e, "store unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unreachable; nothing was written, retry later",
                )
            }
            _ => {
                tracing::error!(error = %e, "store failure");
                ApiError::internal("storage failure; see the server log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}

//! Why the control service refused: a kind (what a face maps to its own status), a message,
//! and the broken rules, each with the certificate concerned and a hint.

use gatehouse_policy::{Finding, Rule};
use gatehouse_store::StoreError;
use serde::{Deserialize, Serialize};

/// What sort of refusal this is. Faces map it to their protocol: an HTTP status for REST and
/// the console, a gRPC code for the Cloud Operations API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input breaks a rule (a certificate, a filter, a name…).
    InvalidArgument,
    /// No caller: a missing, malformed, unknown, revoked or expired API key.
    Unauthenticated,
    /// The caller's role may not do this.
    PermissionDenied,
    NotFound,
    AlreadyExists,
    /// The state moved on: a stale resource version, a reused request id, the last owner.
    Conflict,
    /// The input is larger than a limit.
    TooLarge,
    /// The caller's address presented too many wrong API keys.
    RateLimited,
    /// The database is unreachable; nothing was written.
    Unavailable,
    Internal,
}

/// One broken rule.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Violation {
    pub rule: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// A refused control-plane operation. Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct ControlError {
    pub kind: ErrorKind,
    pub message: String,
    pub violations: Vec<Violation>,
}

impl ControlError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            violations: Vec::new(),
        }
    }

    /// A broken rule that is not one of the policy crate's (`namespace.name`, `user.email`…).
    pub fn rule(kind: ErrorKind, rule: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            kind,
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

    /// Policy findings: too large when the bundle is over its size, invalid otherwise.
    pub fn findings(findings: &[Finding]) -> Self {
        let kind = if findings.iter().any(|f| f.rule == Rule::BundleMaxSize) {
            ErrorKind::TooLarge
        } else {
            ErrorKind::InvalidArgument
        };
        let first = findings
            .first()
            .map(|f| format!("[{}] {}", f.rule, f.message))
            .unwrap_or_default();
        Self {
            kind,
            message: format!(
                "the change breaks {} rule(s); nothing was changed. First: {first}",
                findings.len()
            ),
            violations: findings.iter().map(Violation::from).collect(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// The first broken rule's id, if any (what the Cloud Ops face and logs name).
    pub fn rule_id(&self) -> Option<&str> {
        self.violations.first().map(|v| v.rule.as_str())
    }
}

impl From<StoreError> for ControlError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { .. } => Self::not_found(e.to_string()),
            StoreError::AlreadyExists { .. } => Self::new(ErrorKind::AlreadyExists, e.to_string()),
            StoreError::Conflict { .. } => Self::rule(
                ErrorKind::Conflict,
                "namespace.resource-version",
                e.to_string(),
            ),
            StoreError::LastOwner => {
                Self::rule(ErrorKind::Conflict, "user.last-owner", e.to_string())
            }
            StoreError::DuplicateRequest { .. } => Self::new(ErrorKind::Conflict, e.to_string()),
            StoreError::Unavailable { .. } => {
                tracing::warn!(error = %e, "store unavailable");
                Self::new(
                    ErrorKind::Unavailable,
                    "the database is unreachable; nothing was written, retry later",
                )
            }
            _ => {
                tracing::error!(error = %e, "store failure");
                Self::internal("storage failure; see the server log")
            }
        }
    }
}

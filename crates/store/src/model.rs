//! The domain model: namespaces, users and roles, API keys, audit events.

use std::fmt;
use std::str::FromStr;

use gatehouse_policy::CertificateFilter;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A namespace's resource version: bumped by one on every change; a write that names a stale
/// version is refused.
pub type ResourceVersion = i64;

/// What a namespace's mTLS settings are (Temporal Cloud's "Namespace settings").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSpec {
    /// The accepted client CA bundle, PEM, as the user gave it.
    pub accepted_client_ca: String,
    /// Certificate filters (tcld's format). Empty: any client of the bundle's CAs.
    pub certificate_filters: Vec<CertificateFilter>,
}

/// A stored namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    pub name: String,
    pub spec: NamespaceSpec,
    pub resource_version: ResourceVersion,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Who may do what (Temporal Cloud's account roles and the Namespace Admin permission).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything, including other account owners.
    AccountOwner,
    /// Everything except managing account owners.
    GlobalAdmin,
    /// Manage the certificates and filters of the namespaces listed on the user.
    NamespaceAdmin,
    /// Read namespaces and their certificates; change nothing.
    ReadOnly,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountOwner => "account-owner",
            Self::GlobalAdmin => "global-admin",
            Self::NamespaceAdmin => "namespace-admin",
            Self::ReadOnly => "read-only",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "account-owner" => Self::AccountOwner,
            "global-admin" => Self::GlobalAdmin,
            "namespace-admin" => Self::NamespaceAdmin,
            "read-only" => Self::ReadOnly,
            other => {
                return Err(format!(
                    "unknown role {other:?}: use account-owner, global-admin, namespace-admin or read-only"
                ))
            }
        })
    }
}

/// A user of the control plane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// For namespace admins: the namespaces they administer.
    pub namespaces: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl User {
    /// True when this user administers `namespace` (owners and global admins administer all).
    pub fn administers(&self, namespace: &str) -> bool {
        match self.role {
            Role::AccountOwner | Role::GlobalAdmin => true,
            Role::NamespaceAdmin => self.namespaces.iter().any(|n| n == namespace),
            Role::ReadOnly => false,
        }
    }
}

/// An API key's public record. The secret itself is shown once at creation and stored only as a
/// SHA-256 hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub user_id: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// One audit log entry: who did what, when, and the state before and after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// "user@example.com (key k_…)".
    pub actor: String,
    /// e.g. "namespace.update", "namespace.accepted-client-ca.add".
    pub action: String,
    pub namespace: Option<String>,
    pub request_id: Option<String>,
    /// A summary of the state before (CA fingerprints, filters…), JSON.
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// What a write records in the audit log, in the same transaction as the write.
#[derive(Clone, Debug, Default)]
pub struct Change {
    pub actor: String,
    pub action: String,
    pub request_id: Option<String>,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// Which audit events to list: newest first, `limit` of them, older than `before_id`.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub namespace: Option<String>,
    /// Only events by this user (the email in the actor, whichever key they used).
    pub actor_email: Option<String>,
    /// Only events of these namespaces (for namespace admins); `None` means all.
    pub visible_namespaces: Option<Vec<String>>,
    pub before_id: Option<i64>,
    pub limit: i64,
    /// Only events about a namespace (no user or API key events).
    pub namespaces_only: bool,
}

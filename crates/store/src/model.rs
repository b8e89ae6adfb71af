//! The domain model: namespaces, users and roles, API keys, audit events, and what the expiry
//! watch and the gateway's usage record store.

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

/// A completed namespace write, found by its request id.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub namespace: String,
    pub action: String,
    /// The namespace after the write (`null` for a delete).
    pub namespace_after: serde_json::Value,
}

/// A user together with the API key that authenticated them.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: User,
    pub key: ApiKey,
}

/// A notification to queue. Queuing the same (namespace, fingerprint, threshold, channel,
/// recipient) twice is a no-op: that is what makes every message go out once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewNotification {
    pub namespace: String,
    pub fingerprint: String,
    /// "ca" or "leaf".
    pub kind: String,
    /// "15d", "10d", "5d" for CAs; "leaf-15d" for client leaves.
    pub threshold: String,
    /// "email" or "webhook".
    pub channel: String,
    /// Email address or webhook URL.
    pub recipient: String,
    /// What to send (subject and body, or the webhook JSON).
    pub payload: serde_json::Value,
}

/// A queued notification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: i64,
    #[serde(flatten)]
    pub item: NewNotification,
    /// "pending", "sending", "sent" or "cancelled".
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
}

/// A ticket opened when a CA is 5 days or less from expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub id: i64,
    pub namespace: String,
    pub fingerprint: String,
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    pub status: String,
}

/// A ticket to open (once per namespace and certificate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTicket {
    pub namespace: String,
    pub fingerprint: String,
    pub subject: String,
    pub not_after: OffsetDateTime,
}

/// A client leaf the gateway saw, with the CA it chained to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedLeaf {
    pub namespace: String,
    pub ca_fingerprint: String,
    pub leaf_fingerprint: String,
    pub leaf_subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub leaf_not_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// The last handshake or request.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_handshake: Option<OffsetDateTime>,
    /// Handshakes (connections opened).
    pub connections: i64,
    pub requests: i64,
}

/// What a gateway instance observed since its last flush: per-leaf deltas, and a full snapshot
/// of its open connections per namespace and CA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageBatch {
    /// Which gateway instance this is (its open-connection rows are replaced as a whole).
    pub instance: String,
    pub leaves: Vec<LeafDelta>,
    /// (namespace, CA fingerprint, open connections).
    pub open: Vec<(String, String, i64)>,
}

/// A leaf's activity since the last flush.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafDelta {
    pub namespace: String,
    pub ca_fingerprint: String,
    pub leaf_fingerprint: String,
    pub leaf_subject: String,
    pub leaf_not_after: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    pub last_handshake: Option<OffsetDateTime>,
    pub handshakes: i64,
    pub requests: i64,
}

/// Counts for the notifications metric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationStat {
    pub threshold: String,
    pub channel: String,
    pub sent: i64,
    pub failed_attempts: i64,
    pub pending: i64,
}

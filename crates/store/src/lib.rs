//! Gatehouse store: the domain model and the [`Store`] trait the API (and later the gateway and
//! notifier) use, implemented on SQLite (the embedded default) and PostgreSQL ([`SqlStore`]).
//!
//! Every change is one transaction that also appends its audit event, so the audit log never
//! disagrees with the data. Namespace updates are compare-and-swap on `resource_version`.
//! Validation is not done here: callers validate the whole resulting state with
//! `gatehouse-policy` first.

mod dump;
mod model;
#[cfg(test)]
mod replica_tests;
mod sql;
#[cfg(test)]
mod testing;
mod watch;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use dump::{ImportReport, DUMP_FORMAT};
pub use model::{
    ApiKey, AuditEvent, AuditQuery, Change, Namespace, NamespaceSpec, ResourceVersion, Role, User,
};
pub use sql::{redact_url, Backend, Lease, SqlStore};
pub use watch::{
    LeafDelta, NewNotification, NewTicket, Notification, NotificationStat, ObservedLeaf, Ticket,
    UsageBatch, WatchStore,
};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The thing does not exist.
    #[error("{kind} {name:?} not found")]
    NotFound { kind: &'static str, name: String },
    /// A thing with this name already exists.
    #[error("{kind} {name:?} already exists")]
    AlreadyExists { kind: &'static str, name: String },
    /// The resource version given is not the current one.
    #[error("namespace {name:?} is at resourceVersion {actual}, not {expected}: it changed since it was read; read it again and retry")]
    Conflict {
        name: String,
        expected: ResourceVersion,
        actual: ResourceVersion,
    },
    /// The change would leave the account without an account owner.
    #[error("the account must keep at least one account-owner; make another owner first")]
    LastOwner,
    /// A namespace write carried a request id that was already used.
    #[error("request id {request_id:?} was already used")]
    DuplicateRequest { request_id: String },
    /// The database cannot be reached (down, restarting, or the network): nothing was
    /// written; retrying later is safe.
    #[error("the database is unreachable ({0}); nothing was written, retry later")]
    Unavailable(String),
    /// The database failed.
    #[error("storage error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Database(e.to_string()),
        }
    }
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

/// Storage for the control plane. Implementations must make each write (and its audit event)
/// atomic and durable before returning.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    // --- namespaces ---
    async fn list_namespaces(&self) -> Result<Vec<Namespace>, StoreError>;
    async fn get_namespace(&self, name: &str) -> Result<Option<Namespace>, StoreError>;
    /// Creates a namespace at resource version 1.
    async fn create_namespace(
        &self,
        name: &str,
        spec: NamespaceSpec,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<Namespace, StoreError>;
    /// Replaces a namespace's spec if it is still at `expected` (compare-and-swap), bumping the
    /// resource version.
    async fn update_namespace(
        &self,
        name: &str,
        expected: ResourceVersion,
        spec: NamespaceSpec,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<Namespace, StoreError>;
    /// Deletes a namespace if it is still at `expected`.
    async fn delete_namespace(
        &self,
        name: &str,
        expected: ResourceVersion,
        change: Change,
    ) -> Result<(), StoreError>;
    /// What a request id was used for, for idempotent retries. A namespace write whose
    /// `Change::request_id` is set records it in the same transaction.
    async fn recorded_request(
        &self,
        request_id: &str,
    ) -> Result<Option<RecordedRequest>, StoreError>;

    // --- users ---
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError>;
    async fn create_user(
        &self,
        email: &str,
        role: Role,
        namespaces: Vec<String>,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<User, StoreError>;
    async fn update_user(
        &self,
        id: &str,
        role: Role,
        namespaces: Vec<String>,
        change: Change,
    ) -> Result<User, StoreError>;
    /// Deletes a user and their API keys.
    async fn delete_user(&self, id: &str, change: Change) -> Result<(), StoreError>;
    async fn count_users(&self) -> Result<i64, StoreError>;
    /// First start: if there are no users, creates an account owner and its API key in one
    /// transaction and returns it; otherwise `None`.
    async fn bootstrap_owner(
        &self,
        email: &str,
        secret_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError>;

    // --- API keys ---
    /// Stores a new key; `secret_hash` is the SHA-256 (hex) of the secret token.
    async fn create_api_key(
        &self,
        user_id: &str,
        name: &str,
        secret_hash: &str,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<ApiKey, StoreError>;
    async fn list_api_keys(&self, user_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError>;
    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn revoke_api_key(
        &self,
        id: &str,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<(), StoreError>;
    /// The user and key whose secret hashes to `secret_hash`, if the key is neither revoked nor
    /// expired at `now`.
    async fn authenticate(
        &self,
        secret_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Principal>, StoreError>;

    // --- audit ---
    /// Which namespaces changed (were created, updated or deleted) after audit event `after`:
    /// the last event id seen, and the names. What the gateway polls to hot-reload.
    async fn namespace_changes_since(&self, after: i64) -> Result<(i64, Vec<String>), StoreError>;
    async fn list_audit(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;
    /// Appends an audit event on its own (for events that change no other table).
    async fn append_audit(&self, now: OffsetDateTime, change: Change) -> Result<(), StoreError>;

    // --- change feed ---
    /// Starts waking `wake` whenever a namespace change commits, from any process (PostgreSQL's
    /// LISTEN/NOTIFY), and also after the listener reconnects, since notifications sent while it
    /// was away are lost. Returns false when the backend has no such feed (SQLite: the caller
    /// polls `namespace_changes_since`). The listener stops once `wake` is dropped.
    async fn watch_changes(&self, wake: std::sync::Weak<tokio::sync::Notify>) -> bool {
        let _ = wake;
        false
    }
}

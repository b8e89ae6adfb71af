//! Gatehouse store: the domain model and [`SqlStore`], its one storage, on SQLite (the embedded
//! default) or PostgreSQL. The API, the gateway and the notifier share an `Arc<SqlStore>`.
//!
//! Every change is one transaction that also appends its audit event, so the audit log never
//! disagrees with the data. Namespace updates are compare-and-swap on `resource_version`.
//! Validation is not done here: callers validate the whole resulting state with
//! `gatehouse-policy` first. Every write takes its time from the caller.
//!
//! Where things are:
//! - `model`: the domain types; `error`: [`StoreError`].
//! - `backend`: what differs between the databases — the schema, as `.sql` files per backend
//!   under `schema/` with the same migration numbers, and two SQL functions.
//! - `connect`: opening and migrating, write transactions and the write lock, the change
//!   listener, the notifier lease, shared secrets.
//! - `codec`: how values are stored in rows and read back.
//! - one module per aggregate: `namespaces` (with request ids), `users` (and API keys),
//!   `audit`, `watch` (the notification queue and tickets), `usage` (CA usage).
//! - `dump`: a whole account as JSON (export, import).

mod audit;
mod backend;
mod codec;
mod connect;
mod dump;
mod error;
mod model;
mod namespaces;
#[cfg(test)]
mod replica_tests;
#[cfg(test)]
mod testing;
mod usage;
mod users;
mod watch;

pub use backend::Backend;
pub use connect::{redact_url, Lease, SqlStore};
pub use dump::{ImportReport, DUMP_FORMAT};
pub use error::StoreError;
pub use model::{
    ApiKey, AuditEvent, AuditQuery, Change, LeafDelta, Namespace, NamespaceSpec, NewNotification,
    NewTicket, Notification, NotificationStat, ObservedLeaf, Principal, RecordedRequest,
    ResourceVersion, Role, Ticket, UsageBatch, User,
};

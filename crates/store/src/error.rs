//! Why a store operation failed, and how a database error gets there with what the store was
//! doing.

use std::path::PathBuf;

use crate::model::ResourceVersion;

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
    #[error("the database is unreachable ({context}: {source}); nothing was written, retry later")]
    Unavailable {
        /// What the store was doing.
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// The database failed.
    #[error("storage error: {context}: {source}")]
    Database {
        /// What the store was doing.
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// The connection was lost during a commit, so the outcome is unknown (it may have been
    /// applied): unlike [`StoreError::Unavailable`], retrying blindly is not safe.
    #[error("storage error: the database connection failed while committing ({source}); the change may or may not have been applied: read it back before retrying")]
    CommitUnknown {
        #[source]
        source: sqlx::Error,
    },
    /// A database server could not be reached when opening a connection of the store's own.
    #[error("storage error: cannot connect to {url}: {source}")]
    Connect {
        /// The database URL without its credentials.
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// A value read from the database does not decode (a timestamp, JSON, a role).
    #[error("storage error: {what} in the database: {source}")]
    Corrupt {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The SQLite database file could not be created.
    #[error("storage error: {}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The system's random number generator failed (making a new id).
    #[error("storage error: the random number generator failed")]
    Random {
        #[source]
        source: gatehouse_pki::RandomError,
    },
    /// The database refused a row of an export being imported.
    #[error("storage error: table {table}, row {row}: {source}; nothing was imported")]
    ImportRow {
        table: &'static str,
        row: usize,
        #[source]
        source: sqlx::Error,
    },
    /// What the store will not do, and why: a database URL it does not know, a database newer
    /// than this build, an export that does not load.
    #[error("storage error: {0}")]
    Invalid(String),
}

impl StoreError {
    /// A failed database operation: [`StoreError::Unavailable`] when the database could not be
    /// reached, else [`StoreError::Database`].
    pub(crate) fn sql(context: &'static str, source: sqlx::Error) -> Self {
        match source {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable { context, source },
            _ => StoreError::Database { context, source },
        }
    }

    /// A unique-key violation as "already exists"; any other error as [`StoreError::sql`].
    pub(crate) fn or_exists(
        source: sqlx::Error,
        context: &'static str,
        kind: &'static str,
        name: &str,
    ) -> Self {
        if is_unique_violation(&source) {
            StoreError::AlreadyExists {
                kind,
                name: name.to_owned(),
            }
        } else {
            StoreError::sql(context, source)
        }
    }
}

/// What a write that touched `rows` rows of the thing says: [`StoreError::NotFound`] when it
/// touched none.
pub(crate) fn found(rows: u64, kind: &'static str, name: &str) -> Result<(), StoreError> {
    if rows == 0 {
        return Err(StoreError::NotFound {
            kind,
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Whether a statement failed on a unique key.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Says what the store was doing when a database call failed (see [`StoreError::sql`]).
pub(crate) trait Context<T> {
    fn context(self, what: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::sql(what, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn a_database_error_keeps_its_source_and_says_what_failed() {
        let e = StoreError::sql("listing namespaces", sqlx::Error::RowNotFound);
        assert!(matches!(e, StoreError::Database { .. }), "{e:?}");
        assert!(e
            .to_string()
            .starts_with("storage error: listing namespaces: "));
        assert!(e.source().is_some_and(|s| s.is::<sqlx::Error>()));
    }

    #[test]
    fn a_lost_connection_is_unavailable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = StoreError::sql("creating a namespace", sqlx::Error::Io(io));
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.starts_with("the database is unreachable (creating a namespace: "));
        assert!(text.ends_with("nothing was written, retry later"), "{text}");
        assert!(e.source().is_some());
    }
}

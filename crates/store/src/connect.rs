//! The store's connections: opening either database and migrating it, write transactions, the
//! change listener, and what replicas share (the notifier lease, shared secrets).
//!
//! - **SQLite** (the embedded default) in WAL mode with `synchronous=FULL`, so an acknowledged
//!   write survives a crash of the process (and of the machine). SQLite has one writer at a time.
//! - **PostgreSQL** (`postgres://…`), for several API replicas and gateways. Every control-plane
//!   write takes one transaction-scoped advisory lock first ([`SqlStore::begin_write`]), so
//!   writes are serialized as they are on SQLite: the checks made inside a transaction (the last
//!   account owner, a compare-and-swap) hold, and audit event ids commit in increasing order,
//!   which is what lets a gateway follow the audit log by id without missing a change. A
//!   namespace write also sends a `NOTIFY` on commit; see [`SqlStore::watch_changes`].

use std::path::Path;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor, Transaction};
use time::OffsetDateTime;

use crate::backend::Backend;
use crate::codec::{ts, AnyQuery, Decoded};
use crate::error::{Context, StoreError};

/// The advisory lock every PostgreSQL control-plane write holds until it commits.
const WRITE_LOCK: i64 = 0x6761_7465_0001;
/// The session advisory lock the replica that sends expiry notices holds.
const NOTIFIER_LOCK: i64 = 0x6761_7465_0002;
/// The channel a namespace write notifies on commit.
pub(crate) const CHANGES_CHANNEL: &str = "gatehouse_namespace_changes";

/// The store on SQLite or PostgreSQL: one implementation for both, through sqlx's `Any`
/// driver. Its operations are grouped by aggregate in this crate's modules.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// The PostgreSQL URL, for the change listener (`None` on SQLite).
    pub(crate) url: Option<String>,
}

impl std::fmt::Debug for SqlStore {
    // By hand: the URL may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .field("url", &self.url.as_deref().map(redact_url))
            .finish_non_exhaustive()
    }
}

/// A URL without its credentials, query or fragment, for messages and logs: a database URL's
/// password (in the user info or a `?password=` parameter), a webhook's token.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let rest = match rest.split_once('/') {
        Some((authority, path)) => {
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{host}/{path}")
        }
        None => rest.rsplit('@').next().unwrap_or(rest).to_owned(),
    };
    if scheme.is_empty() {
        rest
    } else {
        format!("{scheme}://{rest}")
    }
}

/// Commits. A connection lost during the commit leaves the outcome unknown (it may have been
/// applied), so that is not reported as `Unavailable` ("nothing was written").
pub(crate) async fn commit(tx: Transaction<'_, sqlx::Any>) -> Result<(), StoreError> {
    tx.commit()
        .await
        .map_err(|source| StoreError::CommitUnknown { source })
}

impl SqlStore {
    /// Opens the store a `--database-url` names: `postgres://…` (or `postgresql://…`), or
    /// `sqlite://PATH` / a plain path for SQLite. Applies migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = Self::sqlite_path(url) {
            Self::open(path).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::postgres(url).await
        } else {
            Err(StoreError::Invalid(format!(
                "{}: unknown database URL scheme; use postgres://… or sqlite://PATH",
                redact_url(url)
            )))
        }
    }

    /// The SQLite file a database URL names (`sqlite://PATH`, or a plain path); `None` for
    /// any other scheme.
    pub fn sqlite_path(url: &str) -> Option<&Path> {
        match url.strip_prefix("sqlite://") {
            Some(path) => Some(Path::new(path)),
            None if !url.contains("://") => Some(Path::new(url)),
            None => None,
        }
    }

    /// Opens (creating if needed) the SQLite database at `path` and applies migrations. A new
    /// database file is created 0600 (SQLite gives its -wal and -shm files the same mode): it
    /// holds the key hashes and the audit log.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|source| StoreError::File {
                    path: path.to_owned(),
                    source,
                })?;
        }
        let name = path.to_str().ok_or_else(|| {
            StoreError::Invalid(format!("{}: the path is not UTF-8", path.display()))
        })?;
        // sqlx percent-decodes the path, so `%`, `?` and `#` are encoded.
        let encoded: String = name
            .chars()
            .map(|c| match c {
                '%' => "%25".to_owned(),
                '?' => "%3F".to_owned(),
                '#' => "%23".to_owned(),
                c => c.to_string(),
            })
            .collect();
        Self::sqlite(&format!("sqlite://{encoded}?mode=rwc"), 8).await
    }

    /// An in-memory SQLite database, for tests.
    pub async fn in_memory() -> Result<Self, StoreError> {
        // One connection: each in-memory connection would otherwise be its own database.
        Self::sqlite("sqlite::memory:", 1).await
    }

    async fn sqlite(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                         PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect(url)
            .await
            .context("opening the SQLite database")?;
        let store = Self {
            pool,
            backend: Backend::Sqlite,
            url: None,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn postgres(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact_url(url),
                source,
            })?;
        let store = Self {
            pool,
            backend: Backend::Postgres,
            url: Some(url.to_owned()),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The schema version: how many migrations have been applied.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM schema_migrations")
            .fetch_one(&self.pool)
            .await
            .context("reading the schema version")
    }

    /// Begins a control-plane write: on PostgreSQL, takes the write lock first (see the module
    /// docs); SQLite's own write lock is taken by the transaction's first write.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Any>, StoreError> {
        let mut tx = self.pool.begin().await.context("beginning a write")?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                .bind(WRITE_LOCK)
                .execute(&mut *tx)
                .await
                .context("taking the write lock")?;
        }
        Ok(tx)
    }

    /// Applies the migrations this database lacks, each in its own transaction, and refuses a
    /// database newer than this build.
    async fn migrate(&self) -> Result<(), StoreError> {
        const CONTEXT: &str = "migrating the schema";
        // Replicas starting together: the first applies each migration, the others wait for
        // the write lock and then find it done.
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .context(CONTEXT)?;
        commit(tx).await?;
        let migrations = self.backend.migrations();
        for (i, sql) in migrations.iter().enumerate() {
            let version = i64::try_from(i + 1).unwrap_or(i64::MAX);
            let mut tx = self.begin_write().await?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await
                    .context(CONTEXT)?;
            if done.is_some() {
                continue;
            }
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .context(CONTEXT)?;
            // The only clock the store reads itself: when this process applied a migration is
            // bookkeeping of the schema, not of the account, and opening a store takes no time.
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(ts(OffsetDateTime::now_utc()))
                .execute(&mut *tx)
                .await
                .context(CONTEXT)?;
            commit(tx).await?;
        }
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&self.pool)
            .await
            .context(CONTEXT)?;
        if newest.unwrap_or(0) > migrations.len() as i64 {
            return Err(StoreError::Invalid(format!(
                "the database is at schema version {}, newer than this gatehouse knows ({}): upgrade gatehouse",
                newest.unwrap_or(0),
                migrations.len()
            )));
        }
        Ok(())
    }

    /// Starts waking `wake` whenever a namespace change commits, from any process (PostgreSQL's
    /// LISTEN/NOTIFY), and also after the listener reconnects, since notifications sent while it
    /// was away are lost. Returns false when the backend has no such feed (SQLite: the caller
    /// polls `namespace_changes_since`). The listener stops once `wake` is dropped.
    pub async fn watch_changes(&self, wake: std::sync::Weak<tokio::sync::Notify>) -> bool {
        let Some(url) = self.url.clone() else {
            return false;
        };
        tokio::spawn(Self::listen(url, wake));
        true
    }

    /// Listens on [`CHANGES_CHANNEL`] until `wake` is dropped (see [`SqlStore::watch_changes`]).
    async fn listen(url: String, wake: std::sync::Weak<tokio::sync::Notify>) {
        let mut listener: Option<sqlx::postgres::PgListener> = None;
        // Logged once per outage, not once a second.
        let mut failing = false;
        let warn = |failing: &mut bool, what: String| {
            if !std::mem::replace(failing, true) {
                tracing::warn!("{what}; retrying every second, and polling meanwhile");
            }
        };
        loop {
            let Some(notify) = wake.upgrade() else { return };
            let Some(l) = listener.as_mut() else {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut l) => match l.listen(CHANGES_CHANNEL).await {
                        Ok(()) => {
                            if std::mem::replace(&mut failing, false) {
                                tracing::info!("change listener connected again");
                            }
                            listener = Some(l);
                            // Changes committed while not listening: look now.
                            notify.notify_one();
                        }
                        Err(e) => warn(
                            &mut failing,
                            format!("LISTEN {CHANGES_CHANNEL} failed: {e}"),
                        ),
                    },
                    Err(e) => warn(
                        &mut failing,
                        format!(
                            "change listener cannot connect to {}: {e}",
                            redact_url(&url)
                        ),
                    ),
                }
                drop(notify);
                if listener.is_none() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                continue;
            };
            drop(notify);
            // Wake up now and then to notice a dropped `wake`.
            match tokio::time::timeout(Duration::from_secs(5), l.try_recv()).await {
                Err(_) => {}
                Ok(Ok(Some(_))) => {
                    if let Some(n) = wake.upgrade() {
                        n.notify_one();
                    }
                }
                // The connection was lost; the next try_recv reconnects. Anything sent
                // meanwhile was missed, so look.
                Ok(Ok(None)) => {
                    if let Some(n) = wake.upgrade() {
                        n.notify_one();
                    }
                }
                Ok(Err(e)) => {
                    warn(&mut failing, format!("change listener: {e}"));
                    listener = None;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Tries to become the one replica that sends expiry notices. On PostgreSQL this is a
    /// session advisory lock on a connection of its own: it is held while that connection
    /// lives, and released by the server when the process dies or the connection drops. On
    /// SQLite (one machine) it always succeeds. Sending stays exactly-once without it (every
    /// send is claimed by compare-and-swap); the lock makes one replica do the work.
    pub async fn try_lead(&self) -> Result<Option<Lease>, StoreError> {
        let Some(url) = &self.url else {
            return Ok(Some(Lease {
                local: true,
                conn: None,
            }));
        };
        let connect = <sqlx::AnyConnection as sqlx::Connection>::connect(url);
        let mut conn = tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .unwrap_or_else(|_| {
                Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connecting timed out after 5 s",
                )))
            })
            .map_err(|source| StoreError::Connect {
                url: redact_url(url),
                source,
            })?;
        // If this host vanishes without closing the connection, the server ends the session
        // (and frees the lock) after this long without a query; the holder pings every tick
        // (a minute at most). PostgreSQL 14 and later; older servers rely on TCP keepalives.
        let _ = sqlx::query("SET idle_session_timeout = '180s'")
            .execute(&mut conn)
            .await;
        let won: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(NOTIFIER_LOCK)
            .fetch_one(&mut conn)
            .await
            .context("taking the notifier lock")?;
        Ok(won.then_some(Lease {
            local: false,
            conn: Some(conn),
        }))
    }

    /// The secret called `name` that every replica shares: `candidate` if none was stored yet
    /// (the first replica to ask stores its own, created at `now`), else the stored one. Not
    /// exported: an imported account gets new secrets.
    pub async fn shared_secret(
        &self,
        name: &str,
        candidate: &str,
        now: OffsetDateTime,
    ) -> Result<String, StoreError> {
        const CONTEXT: &str = "storing a shared secret";
        sqlx::query(
            "INSERT INTO shared_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .context(CONTEXT)?;
        sqlx::query_scalar("SELECT value FROM shared_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .context(CONTEXT)
    }
}

/// The notifier's lock (see [`SqlStore::try_lead`]). Dropping it releases the lock.
#[derive(Debug)]
pub struct Lease {
    /// SQLite: nothing to hold.
    local: bool,
    conn: Option<sqlx::AnyConnection>,
}

impl Lease {
    /// Whether the lock is still held: its connection still answers. After `false` the lease
    /// is gone for good (another replica may hold the lock already); call `try_lead` again.
    pub async fn held(&mut self) -> bool {
        if self.local {
            return true;
        }
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let alive = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::query("SELECT 1").execute(&mut *conn),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        if !alive {
            self.conn = None;
        }
        alive
    }
}

// Reads, for every aggregate module: a query and the type its rows decode into.
impl SqlStore {
    /// Runs `query` and decodes every row it returns; `what` says what the store was doing.
    pub(crate) async fn read_all<T: Decoded>(
        &self,
        query: AnyQuery<'_>,
        what: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        let rows = query.fetch_all(&self.pool).await.context(what)?;
        rows.iter().map(T::from_row).collect()
    }

    /// Runs `query` and decodes the row it returns, if any.
    pub(crate) async fn read_optional<T: Decoded>(
        &self,
        query: AnyQuery<'_>,
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        let row = query.fetch_optional(&self.pool).await.context(what)?;
        row.as_ref().map(T::from_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Change, NamespaceSpec};

    #[tokio::test]
    async fn survives_reopen_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let now = OffsetDateTime::now_utc();
        {
            let s = SqlStore::open(&path).await.unwrap();
            let spec = NamespaceSpec {
                accepted_client_ca: "A".into(),
                certificate_filters: vec![],
            };
            s.create_namespace("a", spec, now, Change::default())
                .await
                .unwrap();
        }
        let s = SqlStore::open(&path).await.unwrap();
        assert_eq!(s.list_namespaces().await.unwrap().len(), 1);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let versions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations")
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert_eq!(versions, Backend::Sqlite.migrations().len() as i64);
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_url("postgres://u:secret@db:5432/g?password=x"),
            "postgres://db:5432/g"
        );
        assert_eq!(redact_url("/var/lib/g.db"), "/var/lib/g.db");
    }
}

//! The store on SQL: one implementation for both backends, through sqlx's `Any` driver.
//!
//! - **SQLite** (the embedded default) in WAL mode with `synchronous=FULL`, so an acknowledged
//!   write survives a crash of the process (and of the machine). SQLite has one writer at a time.
//! - **PostgreSQL** (`postgres://…`), for several API replicas and gateways. Every control-plane
//!   write takes one transaction-scoped advisory lock first, so writes are serialized as they are
//!   on SQLite: the checks made inside a transaction (the last account owner, a compare-and-swap)
//!   hold, and audit event ids commit in increasing order, which is what lets a gateway follow
//!   the audit log by id without missing a change. A namespace write also sends a `NOTIFY` on
//!   commit; see [`SqlStore::subscribe`].
//!
//! The SQL is the same for both except the schema (per-backend DDL, same version numbers) and
//! the few functions named by [`Backend`].

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row, Transaction};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::model::*;
use crate::{Principal, RecordedRequest, Store, StoreError};

/// Schema migrations, applied in order, each once. Never edit one that has shipped: add a new
/// one, to both lists, under the same number.
const SQLITE_MIGRATIONS: &[&str] = &[
    // 1: the control plane, and the tables the gateway and notifier will fill.
    r#"
    CREATE TABLE namespaces (
        name TEXT PRIMARY KEY,
        accepted_client_ca TEXT NOT NULL,
        certificate_filters TEXT NOT NULL,
        resource_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        namespaces TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT
    );
    CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        namespace TEXT,
        request_id TEXT,
        before TEXT NOT NULL,
        after TEXT NOT NULL
    );
    CREATE INDEX audit_events_namespace ON audit_events(namespace, id);
    CREATE TABLE requests (
        request_id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        action TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE ca_usage (
        namespace TEXT NOT NULL,
        ca_fingerprint TEXT NOT NULL,
        leaf_fingerprint TEXT NOT NULL,
        leaf_subject TEXT NOT NULL,
        leaf_not_after TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        connections INTEGER NOT NULL,
        PRIMARY KEY (namespace, ca_fingerprint, leaf_fingerprint)
    );
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        kind TEXT NOT NULL,
        threshold TEXT NOT NULL,
        channel TEXT NOT NULL,
        recipient TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        next_attempt_at TEXT NOT NULL,
        lease_until TEXT,
        claim_token TEXT,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (namespace, fingerprint, threshold, channel, recipient)
    );
    CREATE INDEX notifications_due ON notifications(status, next_attempt_at);
    CREATE TABLE tickets (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        subject TEXT NOT NULL,
        not_after TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        status TEXT NOT NULL,
        UNIQUE (namespace, fingerprint)
    );
    "#,
    // 2: what the gateway aggregates per namespace and CA: handshakes and the last one per
    // observed leaf, requests, and each gateway instance's open connections.
    r#"
    ALTER TABLE ca_usage ADD COLUMN last_handshake TEXT NOT NULL DEFAULT '';
    ALTER TABLE ca_usage ADD COLUMN requests INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE ca_open_connections (
        instance TEXT NOT NULL,
        namespace TEXT NOT NULL,
        ca_fingerprint TEXT NOT NULL,
        open_connections INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (instance, namespace, ca_fingerprint)
    );
    "#,
    // 3: secrets every replica shares (the console's session key), made by the first to ask.
    r#"
    CREATE TABLE shared_secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    "#,
];

/// The same schema on PostgreSQL: 64-bit integers, identity ids, and text compared bytewise
/// (`COLLATE "C"`, as SQLite compares), which the timestamp columns rely on.
const POSTGRES_MIGRATIONS: &[&str] = &[
    // 1
    r#"
    CREATE TABLE namespaces (
        name TEXT COLLATE "C" PRIMARY KEY,
        accepted_client_ca TEXT NOT NULL,
        certificate_filters TEXT NOT NULL,
        resource_version BIGINT NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE users (
        id TEXT COLLATE "C" PRIMARY KEY,
        email TEXT COLLATE "C" NOT NULL UNIQUE,
        role TEXT NOT NULL,
        namespaces TEXT NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT COLLATE "C" PRIMARY KEY,
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at TEXT COLLATE "C" NOT NULL,
        expires_at TEXT COLLATE "C",
        revoked_at TEXT COLLATE "C"
    );
    CREATE TABLE audit_events (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at TEXT COLLATE "C" NOT NULL,
        actor TEXT COLLATE "C" NOT NULL,
        action TEXT NOT NULL,
        namespace TEXT COLLATE "C",
        request_id TEXT,
        before TEXT NOT NULL,
        after TEXT NOT NULL
    );
    CREATE INDEX audit_events_namespace ON audit_events(namespace, id);
    CREATE TABLE requests (
        request_id TEXT COLLATE "C" PRIMARY KEY,
        namespace TEXT NOT NULL,
        action TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE ca_usage (
        namespace TEXT COLLATE "C" NOT NULL,
        ca_fingerprint TEXT COLLATE "C" NOT NULL,
        leaf_fingerprint TEXT COLLATE "C" NOT NULL,
        leaf_subject TEXT NOT NULL,
        leaf_not_after TEXT COLLATE "C" NOT NULL,
        first_seen TEXT COLLATE "C" NOT NULL,
        last_seen TEXT COLLATE "C" NOT NULL,
        connections BIGINT NOT NULL,
        PRIMARY KEY (namespace, ca_fingerprint, leaf_fingerprint)
    );
    CREATE TABLE notifications (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        namespace TEXT COLLATE "C" NOT NULL,
        fingerprint TEXT COLLATE "C" NOT NULL,
        kind TEXT NOT NULL,
        threshold TEXT COLLATE "C" NOT NULL,
        channel TEXT COLLATE "C" NOT NULL,
        recipient TEXT COLLATE "C" NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        failures BIGINT NOT NULL,
        next_attempt_at TEXT COLLATE "C" NOT NULL,
        lease_until TEXT COLLATE "C",
        claim_token TEXT,
        last_error TEXT,
        created_at TEXT COLLATE "C" NOT NULL,
        sent_at TEXT COLLATE "C",
        UNIQUE (namespace, fingerprint, threshold, channel, recipient)
    );
    CREATE INDEX notifications_due ON notifications(status, next_attempt_at);
    CREATE TABLE tickets (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        namespace TEXT COLLATE "C" NOT NULL,
        fingerprint TEXT COLLATE "C" NOT NULL,
        subject TEXT NOT NULL,
        not_after TEXT COLLATE "C" NOT NULL,
        opened_at TEXT COLLATE "C" NOT NULL,
        status TEXT NOT NULL,
        UNIQUE (namespace, fingerprint)
    );
    "#,
    // 2
    r#"
    ALTER TABLE ca_usage ADD COLUMN last_handshake TEXT COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE ca_usage ADD COLUMN requests BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE ca_open_connections (
        instance TEXT COLLATE "C" NOT NULL,
        namespace TEXT COLLATE "C" NOT NULL,
        ca_fingerprint TEXT COLLATE "C" NOT NULL,
        open_connections BIGINT NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (instance, namespace, ca_fingerprint)
    );
    "#,
    // 3
    r#"
    CREATE TABLE shared_secrets (
        name TEXT COLLATE "C" PRIMARY KEY,
        value TEXT NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL
    );
    "#,
];

/// The advisory lock every PostgreSQL control-plane write holds until it commits.
const WRITE_LOCK: i64 = 0x6761_7465_0001;
/// The session advisory lock the replica that sends expiry notices holds.
const NOTIFIER_LOCK: i64 = 0x6761_7465_0002;
/// The channel a namespace write notifies on commit.
pub(crate) const CHANGES_CHANNEL: &str = "gatehouse_namespace_changes";

/// Which database a [`SqlStore`] is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The larger of two values: `MAX(a, b)` on SQLite, `GREATEST(a, b)` on PostgreSQL.
    pub(crate) fn greatest(self) -> &'static str {
        match self {
            Backend::Sqlite => "MAX",
            Backend::Postgres => "GREATEST",
        }
    }

    /// The smaller of two values: `MIN(a, b)` on SQLite, `LEAST(a, b)` on PostgreSQL.
    pub(crate) fn least(self) -> &'static str {
        match self {
            Backend::Sqlite => "MIN",
            Backend::Postgres => "LEAST",
        }
    }

    fn migrations(self) -> &'static [&'static str] {
        match self {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        }
    }
}

/// The [`Store`] on SQLite or PostgreSQL.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// The PostgreSQL URL, for the change listener (`None` on SQLite).
    pub(crate) url: Option<String>,
}

/// Timestamps are stored as fixed-width UTC RFC 3339 text (always nine fraction digits), so
/// SQL compares them correctly as strings.
pub(crate) fn ts(t: OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::FormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_default()
}

pub(crate) fn parse_ts(s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| StoreError::Database(format!("bad timestamp {s:?} in database: {e}")))
}

pub(crate) fn parse_opt_ts(s: Option<String>) -> Result<Option<OffsetDateTime>, StoreError> {
    s.as_deref().map(parse_ts).transpose()
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Database(format!("bad JSON in database: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A random identifier: a prefix and 128 random bits in hex.
pub(crate) fn new_id(prefix: &str) -> Result<String, StoreError> {
    use std::fmt::Write;
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| StoreError::Database("random number generator failed".into()))?;
    Ok(bytes.iter().fold(format!("{prefix}_"), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
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
    tx.commit().await.map_err(|e| {
        StoreError::Database(format!(
            "the database connection failed while committing ({e}); the change may or may not have been applied: read it back before retrying"
        ))
    })
}

/// Text from a certificate, storable anywhere: PostgreSQL's text type refuses NUL, which a
/// certificate's subject may carry (it is shown as U+FFFD instead).
pub(crate) fn text(s: &str) -> String {
    s.replace('\0', "\u{fffd}")
}

/// A unique-key violation as "already exists"; any other error as a database error.
fn already_exists(e: sqlx::Error, kind: &'static str, name: &str) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::AlreadyExists {
            kind,
            name: name.to_owned(),
        }
    } else {
        e.into()
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
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

impl SqlStore {
    /// Opens the store a `--database-url` names: `postgres://…` (or `postgresql://…`), or
    /// `sqlite://PATH` / a plain path for SQLite. Applies migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = Self::sqlite_path(url) {
            Self::open(path).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::postgres(url).await
        } else {
            Err(StoreError::Database(format!(
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
                .map_err(|e| StoreError::Database(format!("{}: {e}", path.display())))?;
        }
        let name = path.to_str().ok_or_else(|| {
            StoreError::Database(format!("{}: the path is not UTF-8", path.display()))
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
            .await?;
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
            .map_err(|e| {
                StoreError::Database(format!("cannot connect to {}: {e}", redact_url(url)))
            })?;
        let store = Self {
            pool,
            backend: Backend::Postgres,
            url: Some(url.to_owned()),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Listens on [`CHANGES_CHANNEL`] until `wake` is dropped (see `Store::watch_changes`).
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
            .map_err(|_| {
                StoreError::Unavailable(format!("connecting to {} timed out", redact_url(url)))
            })?
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot connect to {}: {e}", redact_url(url)))
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
            .await?;
        Ok(won.then_some(Lease {
            local: false,
            conn: Some(conn),
        }))
    }

    /// The secret called `name` that every replica shares: `candidate` if none was stored yet
    /// (the first replica to ask stores its own), else the stored one. Not exported: an
    /// imported account gets new secrets.
    pub async fn shared_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO shared_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(ts(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM shared_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The schema version: how many migrations have been applied.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM schema_migrations")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Begins a control-plane write: on PostgreSQL, takes the write lock first (see the module
    /// docs); SQLite's own write lock is taken by the transaction's first write.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Any>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                .bind(WRITE_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // Replicas starting together: the first applies each migration, the others wait for
        // the write lock and then find it done.
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        commit(tx).await?;
        let migrations = self.backend.migrations();
        for (i, sql) in migrations.iter().enumerate() {
            let version = i64::try_from(i + 1).unwrap_or(i64::MAX);
            let mut tx = self.begin_write().await?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if done.is_some() {
                continue;
            }
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(ts(OffsetDateTime::now_utc()))
                .execute(&mut *tx)
                .await?;
            commit(tx).await?;
        }
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&self.pool)
            .await?;
        if newest.unwrap_or(0) > migrations.len() as i64 {
            return Err(StoreError::Database(format!(
                "the database is at schema version {}, newer than this gatehouse knows ({}): upgrade gatehouse",
                newest.unwrap_or(0),
                migrations.len()
            )));
        }
        Ok(())
    }

    pub(crate) async fn audit(
        &self,
        tx: &mut Transaction<'_, sqlx::Any>,
        now: OffsetDateTime,
        namespace: Option<&str>,
        change: &Change,
    ) -> Result<(), StoreError> {
        if namespace.is_some() && self.backend == Backend::Postgres {
            // Delivered to every listener when (and only if) the transaction commits.
            sqlx::query(&format!("NOTIFY {CHANGES_CHANNEL}"))
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO audit_events (at, actor, action, namespace, request_id, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ts(now))
        .bind(&change.actor)
        .bind(&change.action)
        .bind(namespace)
        .bind(&change.request_id)
        .bind(change.before.to_string())
        .bind(change.after.to_string())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn record_request(
        tx: &mut Transaction<'_, sqlx::Any>,
        change: &Change,
        namespace: &str,
        response: Option<&Namespace>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let Some(request_id) = &change.request_id else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO requests (request_id, namespace, action, response, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(request_id)
        .bind(namespace)
        .bind(&change.action)
        .bind(to_json(&response))
        .bind(ts(now))
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::DuplicateRequest {
                        request_id: request_id.clone(),
                    }
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    fn namespace_from_row(row: &AnyRow) -> Result<Namespace, StoreError> {
        Ok(Namespace {
            name: row.try_get("name")?,
            spec: NamespaceSpec {
                accepted_client_ca: row.try_get("accepted_client_ca")?,
                certificate_filters: json(&row.try_get::<String, _>("certificate_filters")?)?,
            },
            resource_version: row.try_get("resource_version")?,
            created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
            updated_at: parse_ts(&row.try_get::<String, _>("updated_at")?)?,
        })
    }

    fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
        let role: String = row.try_get("role")?;
        Ok(User {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            role: role.parse().map_err(StoreError::Database)?,
            namespaces: json(&row.try_get::<String, _>("namespaces")?)?,
            created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        })
    }

    fn key_from_row(row: &AnyRow) -> Result<ApiKey, StoreError> {
        Ok(ApiKey {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            name: row.try_get("name")?,
            created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
            expires_at: parse_opt_ts(row.try_get("expires_at")?)?,
            revoked_at: parse_opt_ts(row.try_get("revoked_at")?)?,
        })
    }

    /// Inside a transaction that changed or deleted an account owner: the account must still
    /// have one. (Checked after the write, in the same transaction, so two admins removing each
    /// other at once cannot both succeed.)
    async fn keep_an_owner(
        tx: &mut Transaction<'_, sqlx::Any>,
        was_owner: bool,
    ) -> Result<(), StoreError> {
        if !was_owner {
            return Ok(());
        }
        let owners: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM users WHERE role = 'account-owner'",
        )
        .fetch_one(&mut **tx)
        .await?;
        if owners == 0 {
            return Err(StoreError::LastOwner);
        }
        Ok(())
    }

    /// Whether `id` is an account owner. Takes the write lock first (a no-op write), so the
    /// answer cannot change before this transaction commits.
    async fn is_owner(tx: &mut Transaction<'_, sqlx::Any>, id: &str) -> Result<bool, StoreError> {
        sqlx::query("UPDATE users SET id = id WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(role.as_deref() == Some("account-owner"))
    }

    /// After a compare-and-swap touched no row: the namespace is gone, or at another version.
    async fn why_not_swapped(
        tx: &mut Transaction<'_, sqlx::Any>,
        name: &str,
        expected: ResourceVersion,
    ) -> Result<StoreError, StoreError> {
        Ok(match Self::current_version(tx, name).await? {
            None => StoreError::NotFound {
                kind: "namespace",
                name: name.to_owned(),
            },
            Some(actual) => StoreError::Conflict {
                name: name.to_owned(),
                expected,
                actual,
            },
        })
    }

    async fn current_version(
        tx: &mut Transaction<'_, sqlx::Any>,
        name: &str,
    ) -> Result<Option<ResourceVersion>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT resource_version FROM namespaces WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut **tx)
                .await?,
        )
    }
}

const NAMESPACE_COLUMNS: &str =
    "name, accepted_client_ca, certificate_filters, resource_version, created_at, updated_at";
const KEY_COLUMNS: &str = "id, user_id, name, created_at, expires_at, revoked_at";

#[async_trait]
impl Store for SqlStore {
    async fn list_namespaces(&self) -> Result<Vec<Namespace>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {NAMESPACE_COLUMNS} FROM namespaces ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::namespace_from_row).collect()
    }

    async fn get_namespace(&self, name: &str) -> Result<Option<Namespace>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {NAMESPACE_COLUMNS} FROM namespaces WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::namespace_from_row).transpose()
    }

    async fn create_namespace(
        &self,
        name: &str,
        spec: NamespaceSpec,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<Namespace, StoreError> {
        let ns = Namespace {
            name: name.to_owned(),
            spec,
            resource_version: 1,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO namespaces ({NAMESPACE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&ns.name)
        .bind(&ns.spec.accepted_client_ca)
        .bind(to_json(&ns.spec.certificate_filters))
        .bind(ns.resource_version)
        .bind(ts(now))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| already_exists(e, "namespace", name))?;
        Self::record_request(&mut tx, &change, &ns.name, Some(&ns), now).await?;
        self.audit(&mut tx, now, Some(name), &change).await?;
        commit(tx).await?;
        Ok(ns)
    }

    async fn update_namespace(
        &self,
        name: &str,
        expected: ResourceVersion,
        spec: NamespaceSpec,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<Namespace, StoreError> {
        let mut tx = self.begin_write().await?;
        // The write comes first, so the transaction holds SQLite's write lock from its first
        // statement and the compare-and-swap cannot race.
        let updated = sqlx::query(
            "UPDATE namespaces SET accepted_client_ca = $1, certificate_filters = $2, resource_version = resource_version + 1, updated_at = $3 WHERE name = $4 AND resource_version = $5",
        )
        .bind(&spec.accepted_client_ca)
        .bind(to_json(&spec.certificate_filters))
        .bind(ts(now))
        .bind(name)
        .bind(expected)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(Self::why_not_swapped(&mut tx, name, expected).await?);
        }
        let row = sqlx::query(&format!(
            "SELECT {NAMESPACE_COLUMNS} FROM namespaces WHERE name = $1"
        ))
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        let ns = Self::namespace_from_row(&row)?;
        Self::record_request(&mut tx, &change, &ns.name, Some(&ns), now).await?;
        self.audit(&mut tx, now, Some(name), &change).await?;
        commit(tx).await?;
        Ok(ns)
    }

    async fn delete_namespace(
        &self,
        name: &str,
        expected: ResourceVersion,
        change: Change,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted =
            sqlx::query("DELETE FROM namespaces WHERE name = $1 AND resource_version = $2")
                .bind(name)
                .bind(expected)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if deleted == 0 {
            return Err(Self::why_not_swapped(&mut tx, name, expected).await?);
        }
        // Namespace admins lose their grant with the namespace: a namespace created later
        // under the same name must not inherit them.
        let admins: Vec<(String, String)> =
            sqlx::query_as("SELECT id, namespaces FROM users WHERE role = 'namespace-admin'")
                .fetch_all(&mut *tx)
                .await?;
        for (id, list) in admins {
            let mut namespaces: Vec<String> = json(&list)?;
            let before = namespaces.len();
            namespaces.retain(|n| n != name);
            if namespaces.len() != before {
                sqlx::query("UPDATE users SET namespaces = $1 WHERE id = $2")
                    .bind(to_json(&namespaces))
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let now = OffsetDateTime::now_utc();
        Self::record_request(&mut tx, &change, name, None, now).await?;
        self.audit(&mut tx, now, Some(name), &change).await?;
        commit(tx).await?;
        Ok(())
    }

    async fn recorded_request(
        &self,
        request_id: &str,
    ) -> Result<Option<RecordedRequest>, StoreError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT namespace, action, response FROM requests WHERE request_id = $1",
        )
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(namespace, action, response)| {
            Ok(RecordedRequest {
                namespace,
                action,
                namespace_after: json::<serde_json::Value>(&response)?,
            })
        })
        .transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows =
            sqlx::query("SELECT id, email, role, namespaces, created_at FROM users ORDER BY email")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(Self::user_from_row).collect()
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, role, namespaces, created_at FROM users WHERE id = $1 OR email = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::user_from_row).transpose()
    }

    async fn create_user(
        &self,
        email: &str,
        role: Role,
        namespaces: Vec<String>,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<User, StoreError> {
        let user = User {
            id: new_id("u")?,
            email: email.to_owned(),
            role,
            namespaces,
            created_at: now,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (id, email, role, namespaces, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(user.role.as_str())
        .bind(to_json(&user.namespaces))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| already_exists(e, "user", email))?;
        self.audit(&mut tx, now, None, &change).await?;
        commit(tx).await?;
        Ok(user)
    }

    async fn update_user(
        &self,
        id: &str,
        role: Role,
        namespaces: Vec<String>,
        change: Change,
    ) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        let was_owner = Self::is_owner(&mut tx, id).await?;
        let n = sqlx::query("UPDATE users SET role = $1, namespaces = $2 WHERE id = $3")
            .bind(role.as_str())
            .bind(to_json(&namespaces))
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound {
                kind: "user",
                name: id.to_owned(),
            });
        }
        Self::keep_an_owner(&mut tx, was_owner).await?;
        let row =
            sqlx::query("SELECT id, email, role, namespaces, created_at FROM users WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let user = Self::user_from_row(&row)?;
        self.audit(&mut tx, OffsetDateTime::now_utc(), None, &change)
            .await?;
        commit(tx).await?;
        Ok(user)
    }

    async fn delete_user(&self, id: &str, change: Change) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let was_owner = Self::is_owner(&mut tx, id).await?;
        let n = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound {
                kind: "user",
                name: id.to_owned(),
            });
        }
        Self::keep_an_owner(&mut tx, was_owner).await?;
        self.audit(&mut tx, OffsetDateTime::now_utc(), None, &change)
            .await?;
        commit(tx).await?;
        Ok(())
    }

    async fn bootstrap_owner(
        &self,
        email: &str,
        secret_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        let mut tx = self.begin_write().await?;
        // Write first, so this transaction holds the write lock before it looks.
        sqlx::query("UPDATE schema_migrations SET applied_at = applied_at WHERE version = 1")
            .execute(&mut *tx)
            .await?;
        let users: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM users")
            .fetch_one(&mut *tx)
            .await?;
        if users > 0 {
            return Ok(None);
        }
        let user = User {
            id: new_id("u")?,
            email: email.to_owned(),
            role: Role::AccountOwner,
            namespaces: vec![],
            created_at: now,
        };
        sqlx::query(
            "INSERT INTO users (id, email, role, namespaces, created_at) VALUES ($1, $2, $3, '[]', $4)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(user.role.as_str())
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}, secret_hash) VALUES ($1, $2, 'bootstrap', $3, NULL, NULL, $4)"
        ))
        .bind(new_id("k")?)
        .bind(&user.id)
        .bind(ts(now))
        .bind(secret_hash)
        .execute(&mut *tx)
        .await?;
        let change = Change {
            actor: "gatehouse serve (bootstrap)".into(),
            action: "user.bootstrap".into(),
            after: serde_json::json!({ "email": email, "role": "account-owner" }),
            ..Change::default()
        };
        self.audit(&mut tx, now, None, &change).await?;
        commit(tx).await?;
        Ok(Some(user))
    }

    async fn count_users(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM users")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn create_api_key(
        &self,
        user_id: &str,
        name: &str,
        secret_hash: &str,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<ApiKey, StoreError> {
        let key = ApiKey {
            id: new_id("k")?,
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}, secret_hash) VALUES ($1, $2, $3, $4, $5, NULL, $6)"
        ))
        .bind(&key.id)
        .bind(&key.user_id)
        .bind(&key.name)
        .bind(ts(now))
        .bind(expires_at.map(ts))
        .bind(secret_hash)
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound {
                kind: "user",
                name: user_id.to_owned(),
            },
            _ => e.into(),
        })?;
        self.audit(&mut tx, now, None, &change).await?;
        commit(tx).await?;
        Ok(key)
    }

    async fn list_api_keys(&self, user_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        let rows = match user_id {
            Some(u) => {
                sqlx::query(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at, id"
                ))
                .bind(u)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(Self::key_from_row).collect()
    }

    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::key_from_row).transpose()
    }

    async fn revoke_api_key(
        &self,
        id: &str,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let n =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(ts(now))
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound {
                kind: "API key",
                name: id.to_owned(),
            });
        }
        self.audit(&mut tx, now, None, &change).await?;
        commit(tx).await?;
        Ok(())
    }

    async fn authenticate(
        &self,
        secret_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Principal>, StoreError> {
        let row = sqlx::query(
            "SELECT k.id AS key_id, k.user_id, k.name AS key_name, k.created_at AS key_created, k.expires_at, k.revoked_at, \
                    u.id, u.email, u.role, u.namespaces, u.created_at \
             FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.secret_hash = $1",
        )
        .bind(secret_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let key = ApiKey {
            id: row.try_get("key_id")?,
            user_id: row.try_get("user_id")?,
            name: row.try_get("key_name")?,
            created_at: parse_ts(&row.try_get::<String, _>("key_created")?)?,
            expires_at: parse_opt_ts(row.try_get("expires_at")?)?,
            revoked_at: parse_opt_ts(row.try_get("revoked_at")?)?,
        };
        if key.revoked_at.is_some() || key.expires_at.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        let user = Self::user_from_row(&row)?;
        Ok(Some(Principal { user, key }))
    }

    async fn namespace_changes_since(&self, after: i64) -> Result<(i64, Vec<String>), StoreError> {
        let rows = sqlx::query(
            "SELECT MAX(id) AS id, namespace FROM audit_events WHERE id > $1 AND namespace IS NOT NULL GROUP BY namespace",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        let mut last = after;
        let mut names = Vec::with_capacity(rows.len());
        for row in &rows {
            last = last.max(row.try_get::<i64, _>("id")?);
            names.push(row.try_get::<String, _>("namespace")?);
        }
        Ok((last, names))
    }

    async fn list_audit(&self, q: AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let limit = q.limit.clamp(1, 1000);
        // Namespace admins see their namespaces' events only; that filter is applied while
        // reading, so the SQL limit applies only when everything is visible.
        let sql_limit = if q.visible_namespaces.is_none() && !q.namespaces_only {
            limit
        } else {
            i64::MAX
        };
        let rows = sqlx::query(
            "SELECT id, at, actor, action, namespace, request_id, before, after FROM audit_events \
             WHERE ($1 IS NULL OR namespace = $1) AND ($2 IS NULL OR id < $2) \
             AND ($4 IS NULL OR actor = $4 OR substr(actor, 1, length($4) + 2) = $4 || ' (') \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(&q.namespace)
        .bind(q.before_id)
        .bind(sql_limit)
        .bind(&q.actor_email)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in rows {
            let namespace: Option<String> = row.try_get("namespace")?;
            if q.namespaces_only && namespace.is_none() {
                continue;
            }
            if let Some(visible) = &q.visible_namespaces {
                if !namespace.as_ref().is_some_and(|n| visible.contains(n)) {
                    continue;
                }
            }
            out.push(AuditEvent {
                id: row.try_get("id")?,
                at: parse_ts(&row.try_get::<String, _>("at")?)?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                namespace,
                request_id: row.try_get("request_id")?,
                before: json(&row.try_get::<String, _>("before")?)?,
                after: json(&row.try_get::<String, _>("after")?)?,
            });
            if out.len() as i64 >= limit {
                break;
            }
        }
        Ok(out)
    }

    async fn append_audit(&self, now: OffsetDateTime, change: Change) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        self.audit(&mut tx, now, None, &change).await?;
        commit(tx).await?;
        Ok(())
    }

    async fn watch_changes(&self, wake: std::sync::Weak<tokio::sync::Notify>) -> bool {
        let Some(url) = self.url.clone() else {
            return false;
        };
        tokio::spawn(Self::listen(url, wake));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{change, spec};
    use serde_json::json;

    #[tokio::test]
    async fn namespace_compare_and_swap_and_audit() {
        for s in crate::testing::stores().await {
            eprintln!("backend: {:?}", s.backend());
            let now = OffsetDateTime::now_utc();
            let ns = s
                .create_namespace("payments", spec("A"), now, change("namespace.create"))
                .await
                .unwrap();
            assert_eq!(ns.resource_version, 1);
            assert!(matches!(
                s.create_namespace("payments", spec("B"), now, change("namespace.create"))
                    .await,
                Err(StoreError::AlreadyExists { .. })
            ));
            let ns2 = s
                .update_namespace("payments", 1, spec("B"), now, change("namespace.update"))
                .await
                .unwrap();
            assert_eq!(ns2.resource_version, 2);
            assert_eq!(ns2.spec.accepted_client_ca, "B");
            // A stale version is refused and changes nothing.
            let e = s
                .update_namespace("payments", 1, spec("C"), now, change("namespace.update"))
                .await
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    StoreError::Conflict {
                        expected: 1,
                        actual: 2,
                        ..
                    }
                ),
                "{e}"
            );
            assert_eq!(
                s.get_namespace("payments")
                    .await
                    .unwrap()
                    .unwrap()
                    .spec
                    .accepted_client_ca,
                "B"
            );
            assert!(matches!(
                s.update_namespace("nope", 1, spec("C"), now, change("x"))
                    .await,
                Err(StoreError::NotFound { .. })
            ));
            let events = s
                .list_audit(AuditQuery {
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(
                events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
                ["namespace.update", "namespace.create"]
            );
            // Paging.
            let older = s
                .list_audit(AuditQuery {
                    limit: 10,
                    before_id: Some(events[0].id),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(older.len(), 1);
            // By user: the email in "email (key k_…)" or the bare actor; never a prefix of another.
            for (email, n) in [("owner@example.com", 2), ("owner@example.co", 0), ("x", 0)] {
                let by = s
                    .list_audit(AuditQuery {
                        limit: 10,
                        actor_email: Some(email.into()),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                assert_eq!(by.len(), n, "{email}");
            }
            assert!(matches!(
                s.delete_namespace("payments", 1, change("namespace.delete"))
                    .await,
                Err(StoreError::Conflict { .. })
            ));
            let admin = s
                .create_user(
                    "p@example.com",
                    Role::NamespaceAdmin,
                    vec!["payments".into(), "b".into()],
                    now,
                    change("user.create"),
                )
                .await
                .unwrap();
            s.delete_namespace("payments", 2, change("namespace.delete"))
                .await
                .unwrap();
            assert!(s.get_namespace("payments").await.unwrap().is_none());
            assert_eq!(
                s.get_user(&admin.id).await.unwrap().unwrap().namespaces,
                ["b"],
                "grants go with the namespace"
            );
        }
    }

    #[tokio::test]
    async fn request_ids_are_recorded_with_the_write() {
        for s in crate::testing::stores().await {
            eprintln!("backend: {:?}", s.backend());
            let now = OffsetDateTime::now_utc();
            s.create_namespace("a", spec("A"), now, change("namespace.create"))
                .await
                .unwrap();
            let mut c = change("namespace.update");
            c.request_id = Some("req-1".into());
            let ns = s
                .update_namespace("a", 1, spec("B"), now, c.clone())
                .await
                .unwrap();
            let recorded = s.recorded_request("req-1").await.unwrap().unwrap();
            assert_eq!(
                (recorded.namespace.as_str(), recorded.action.as_str()),
                ("a", "namespace.update")
            );
            assert_eq!(recorded.namespace_after["resourceVersion"], json!(2));
            // Re-using the id fails and rolls the write back.
            let e = s
                .update_namespace("a", 2, spec("C"), now, c)
                .await
                .unwrap_err();
            assert!(matches!(e, StoreError::DuplicateRequest { .. }));
            assert_eq!(s.get_namespace("a").await.unwrap().unwrap(), ns);
        }
    }

    #[tokio::test]
    async fn users_keys_and_authentication() {
        for s in crate::testing::stores().await {
            eprintln!("backend: {:?}", s.backend());
            let now = OffsetDateTime::now_utc();
            let u = s
                .create_user(
                    "admin@example.com",
                    Role::NamespaceAdmin,
                    vec!["a".into()],
                    now,
                    change("user.create"),
                )
                .await
                .unwrap();
            assert!(u.administers("a") && !u.administers("b"));
            assert!(matches!(
                s.create_user(
                    "admin@example.com",
                    Role::ReadOnly,
                    vec![],
                    now,
                    change("user.create")
                )
                .await,
                Err(StoreError::AlreadyExists { .. })
            ));
            let k = s
                .create_api_key(&u.id, "laptop", "hash1", None, now, change("apikey.create"))
                .await
                .unwrap();
            let p = s.authenticate("hash1", now).await.unwrap().unwrap();
            assert_eq!(p.user.email, "admin@example.com");
            assert!(s.authenticate("other", now).await.unwrap().is_none());
            let expiring = s
                .create_api_key(
                    &u.id,
                    "ci",
                    "hash2",
                    Some(now + time::Duration::hours(1)),
                    now,
                    change("apikey.create"),
                )
                .await
                .unwrap();
            assert!(s.authenticate("hash2", now).await.unwrap().is_some());
            assert!(s
                .authenticate("hash2", now + time::Duration::hours(2))
                .await
                .unwrap()
                .is_none());
            s.revoke_api_key(&k.id, now, change("apikey.revoke"))
                .await
                .unwrap();
            assert!(s.authenticate("hash1", now).await.unwrap().is_none());
            assert!(matches!(
                s.revoke_api_key(&k.id, now, change("apikey.revoke")).await,
                Err(StoreError::NotFound { .. })
            ));
            assert!(matches!(
                s.create_api_key(
                    "u_missing",
                    "x",
                    "hash3",
                    None,
                    now,
                    change("apikey.create")
                )
                .await,
                Err(StoreError::NotFound { .. })
            ));
            s.delete_user(&u.id, change("user.delete")).await.unwrap();
            assert!(
                s.get_api_key(&expiring.id).await.unwrap().is_none(),
                "keys go with their user"
            );
            assert_eq!(s.count_users().await.unwrap(), 0);
            // Bootstrap happens once, atomically; the last owner cannot go.
            let owner = s
                .bootstrap_owner("root@example.com", "h0", now)
                .await
                .unwrap()
                .unwrap();
            assert!(s
                .bootstrap_owner("again@example.com", "h1", now)
                .await
                .unwrap()
                .is_none());
            assert!(s.authenticate("h0", now).await.unwrap().is_some());
            assert!(matches!(
                s.delete_user(&owner.id, change("user.delete")).await,
                Err(StoreError::LastOwner)
            ));
            assert!(matches!(
                s.update_user(&owner.id, Role::ReadOnly, vec![], change("user.update"))
                    .await,
                Err(StoreError::LastOwner)
            ));
            assert_eq!(
                s.get_user(&owner.id).await.unwrap().unwrap().role,
                Role::AccountOwner
            );
        }
    }

    #[tokio::test]
    async fn survives_reopen_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let now = OffsetDateTime::now_utc();
        {
            let s = SqlStore::open(&path).await.unwrap();
            s.create_namespace("a", spec("A"), now, change("namespace.create"))
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
        assert_eq!(versions, SQLITE_MIGRATIONS.len() as i64);
    }
}

//! The stores every store test runs against: SQLite (in memory) always, and PostgreSQL when
//! `GATEHOUSE_TEST_POSTGRES_URL` names a server (`scripts/test` starts one and sets it; with
//! `GATEHOUSE_REQUIRE_POSTGRES` set, its absence fails the test instead of skipping it). Each
//! PostgreSQL store is a fresh database.

use time::OffsetDateTime;

use crate::{ApiKey, AuditEvent, AuditQuery, Change, NamespaceSpec, Role, SqlStore, User};

/// A change by the test's account owner.
pub(crate) fn change(action: &str) -> Change {
    Change {
        actor: "owner@example.com".into(),
        action: action.into(),
        ..Change::default()
    }
}

/// A spec with this bundle and no filters.
pub(crate) fn spec(pem: &str) -> NamespaceSpec {
    NamespaceSpec {
        accepted_client_ca: pem.into(),
        certificate_filters: vec![],
    }
}

/// A new user with these namespaces, created at `now`.
pub(crate) async fn new_user(
    s: &SqlStore,
    email: &str,
    role: Role,
    namespaces: &[&str],
    now: OffsetDateTime,
) -> User {
    let namespaces = namespaces.iter().map(|n| (*n).to_owned()).collect();
    s.create_user(email, role, namespaces, now, change("user.create"))
        .await
        .unwrap()
}

/// A new API key of `user_id` whose secret hashes to `secret_hash`, created at `now`.
pub(crate) async fn new_key(
    s: &SqlStore,
    user_id: &str,
    name: &str,
    secret_hash: &str,
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> ApiKey {
    let c = change("apikey.create");
    s.create_api_key(user_id, name, secret_hash, expires_at, now, c)
        .await
        .unwrap()
}

/// The `limit` newest audit events.
pub(crate) async fn newest_events(s: &SqlStore, limit: i64) -> Vec<AuditEvent> {
    let q = AuditQuery {
        limit,
        ..AuditQuery::default()
    };
    s.list_audit(q).await.unwrap()
}

/// A fresh, empty PostgreSQL database on the test server: its URL.
pub(crate) async fn fresh_postgres_url() -> Option<String> {
    let Ok(admin) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("GATEHOUSE_REQUIRE_POSTGRES").is_none(),
            "GATEHOUSE_REQUIRE_POSTGRES is set but GATEHOUSE_TEST_POSTGRES_URL is not (scripts/postgres start)"
        );
        return None;
    };
    sqlx::any::install_default_drivers();
    let name = crate::codec::new_id("gh_test").unwrap();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("connect to GATEHOUSE_TEST_POSTGRES_URL");
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').expect("a database URL with a path");
    Some(format!("{base}/{name}"))
}

/// One store per backend.
pub(crate) async fn stores() -> Vec<SqlStore> {
    let mut out = vec![SqlStore::in_memory().await.unwrap()];
    if let Some(url) = fresh_postgres_url().await {
        out.push(SqlStore::connect(&url).await.unwrap());
    }
    out
}

/// Three stores on one database per backend — three replicas, as processes would open it. (The
/// directory holds the SQLite file.)
pub(crate) async fn replicas() -> (tempfile::TempDir, Vec<[SqlStore; 3]>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let mut out = vec![[
        SqlStore::open(&path).await.unwrap(),
        SqlStore::open(&path).await.unwrap(),
        SqlStore::open(&path).await.unwrap(),
    ]];
    if let Some(url) = fresh_postgres_url().await {
        out.push([
            SqlStore::connect(&url).await.unwrap(),
            SqlStore::connect(&url).await.unwrap(),
            SqlStore::connect(&url).await.unwrap(),
        ]);
    }
    (dir, out)
}

//! What differs between the two databases: the schema (per-backend DDL under the same
//! migration numbers, in `schema/{sqlite,postgres}/NNN_name.sql`) and two SQL functions.
//! Everything else is the same SQL on both.

/// Schema migrations, applied in order, each once; the position is the version number. Never
/// edit one that has shipped: add a new file to both directories, under the same number.
const SQLITE_MIGRATIONS: &[&str] = &[
    // 1: the control plane, and the tables the gateway and notifier fill.
    include_str!("schema/sqlite/001_control_plane.sql"),
    // 2: what the gateway aggregates per namespace and CA: handshakes and the last one per
    // observed leaf, requests, and each gateway instance's open connections.
    include_str!("schema/sqlite/002_gateway_usage.sql"),
    // 3: secrets every replica shares (the console's session key), made by the first to ask.
    include_str!("schema/sqlite/003_shared_secrets.sql"),
];

/// The same schema on PostgreSQL: 64-bit integers, identity ids, and text compared bytewise
/// (`COLLATE "C"`, as SQLite compares), which the timestamp columns rely on.
const POSTGRES_MIGRATIONS: &[&str] = &[
    include_str!("schema/postgres/001_control_plane.sql"),
    include_str!("schema/postgres/002_gateway_usage.sql"),
    include_str!("schema/postgres/003_shared_secrets.sql"),
];

/// Which database a `SqlStore` is on.
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

    /// This backend's migrations, version 1 first.
    pub(crate) fn migrations(self) -> &'static [&'static str] {
        match self {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migration_numbers() {
        assert_eq!(
            Backend::Sqlite.migrations().len(),
            Backend::Postgres.migrations().len()
        );
        for backend in [Backend::Sqlite, Backend::Postgres] {
            assert!(backend.migrations().iter().all(|m| !m.trim().is_empty()));
        }
    }
}

//! A whole account as JSON: `gatehouse export` and `gatehouse import`, and so `gatehouse
//! migrate` between SQLite and PostgreSQL. Table by table, column by column, so the dump holds
//! exactly what the database holds (ids, key hashes, the audit log, the notification queue and
//! the usage record), and an import reproduces it.

use serde_json::{Map, Value};
use sqlx::{Column, Row};

use crate::backend::Backend;
use crate::connect::{commit, SqlStore};
use crate::error::{Context, StoreError};

/// What an export file says it is.
pub const DUMP_FORMAT: &str = "gatehouse-account-export";

/// The tables a dump holds, in an order that satisfies foreign keys, each with the column it
/// is ordered by. (Not included: `schema_migrations`, and `ca_open_connections`, which is each
/// running gateway's live count.)
const TABLES: &[(&str, &str)] = &[
    ("namespaces", "name"),
    ("users", "id"),
    ("api_keys", "id"),
    ("audit_events", "id"),
    ("requests", "request_id"),
    ("ca_usage", "namespace, ca_fingerprint, leaf_fingerprint"),
    ("notifications", "id"),
    ("tickets", "id"),
];

/// Tables whose `id` is generated: after an import the generator continues past the largest.
const GENERATED_IDS: &[&str] = &["audit_events", "notifications", "tickets"];

fn bad(msg: String) -> StoreError {
    StoreError::Invalid(msg)
}

impl SqlStore {
    /// The whole account as one JSON document.
    pub async fn export(&self) -> Result<Value, StoreError> {
        // One read-only snapshot (SQLite's read transaction in WAL mode; REPEATABLE READ on
        // PostgreSQL), without blocking writers.
        const CONTEXT: &str = "exporting the account";
        let mut tx = self.pool.begin().await.context(CONTEXT)?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await
                .context(CONTEXT)?;
        }
        let mut tables = Map::new();
        for (table, order) in TABLES {
            let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY {order}"))
                .fetch_all(&mut *tx)
                .await
                .context(CONTEXT)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut object = Map::new();
                for (i, column) in row.columns().iter().enumerate() {
                    let value = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                        v.map_or(Value::Null, Value::from)
                    } else {
                        let v: Option<String> = row.try_get(i).context(CONTEXT)?;
                        v.map_or(Value::Null, Value::from)
                    };
                    object.insert(column.name().to_owned(), value);
                }
                out.push(Value::Object(object));
            }
            tables.insert((*table).to_owned(), Value::Array(out));
        }
        commit(tx).await?;
        Ok(serde_json::json!({
            "format": DUMP_FORMAT,
            "schemaVersion": self.schema_version().await?,
            "tables": tables,
        }))
    }

    /// Loads an export into this store, which must be empty (no namespaces, users or audit
    /// events). All or nothing: one transaction.
    pub async fn import(&self, dump: &Value) -> Result<ImportReport, StoreError> {
        if dump.get("format").and_then(Value::as_str) != Some(DUMP_FORMAT) {
            return Err(bad(format!(
                "not a gatehouse export: \"format\" is not {DUMP_FORMAT:?}"
            )));
        }
        let version = self.schema_version().await?;
        let theirs = dump.get("schemaVersion").and_then(Value::as_i64);
        if theirs != Some(version) {
            return Err(bad(format!(
                "the export is at schema version {}, this database at {version}: export and import with the same gatehouse version",
                theirs.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
            )));
        }
        let Some(tables) = dump.get("tables").and_then(Value::as_object) else {
            return Err(bad("the export has no \"tables\" object".into()));
        };
        if let Some(unknown) = tables
            .keys()
            .find(|t| !TABLES.iter().any(|(name, _)| name == t))
        {
            return Err(bad(format!("the export has an unknown table {unknown:?}")));
        }
        // A truncated file must not load as a smaller account.
        if let Some((missing, _)) = TABLES.iter().find(|(t, _)| !tables.contains_key(*t)) {
            return Err(bad(format!(
                "the export has no table {missing:?} (an empty one is written as []): is the file complete?"
            )));
        }
        let mut tx = self.begin_write().await?;
        for (table, _) in TABLES {
            let n: i64 =
                sqlx::query_scalar(&format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}"))
                    .fetch_one(&mut *tx)
                    .await
                    .context("importing an account")?;
            if n > 0 {
                return Err(bad(format!(
                    "the target database is not empty ({table} has {n} rows): import into a new database; nothing was changed"
                )));
            }
        }
        let mut report = ImportReport::default();
        for (table, _) in TABLES {
            let Some(rows) = tables.get(*table) else {
                return Err(bad(format!("the export has no table {table:?}")));
            };
            let Some(rows) = rows.as_array() else {
                return Err(bad(format!("table {table}: not a list of rows")));
            };
            for (i, row) in rows.iter().enumerate() {
                let Some(object) = row.as_object() else {
                    return Err(bad(format!("table {table}, row {i}: not an object")));
                };
                let columns: Vec<&str> = object.keys().map(String::as_str).collect();
                if let Some(c) = columns.iter().find(|c| {
                    c.is_empty() || !c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                }) {
                    return Err(bad(format!(
                        "table {table}, row {i}: bad column name {c:?}"
                    )));
                }
                let placeholders: Vec<String> =
                    (1..=columns.len()).map(|n| format!("${n}")).collect();
                let sql = format!(
                    "INSERT INTO {table} ({}) VALUES ({})",
                    columns.join(", "),
                    placeholders.join(", ")
                );
                let mut query = sqlx::query(&sql);
                for (column, value) in object {
                    query = match value {
                        Value::Null => query.bind(None::<String>),
                        Value::String(s) => query.bind(s.clone()),
                        Value::Number(n) => match n.as_i64() {
                            Some(n) => query.bind(n),
                            None => {
                                return Err(bad(format!(
                                    "table {table}, row {i}, column {column}: not a 64-bit integer"
                                )))
                            }
                        },
                        _ => {
                            return Err(bad(format!(
                                "table {table}, row {i}, column {column}: not a string, integer or null"
                            )))
                        }
                    };
                }
                query
                    .execute(&mut *tx)
                    .await
                    .map_err(|source| StoreError::ImportRow {
                        table,
                        row: i,
                        source,
                    })?;
            }
            report.rows.push(((*table).to_owned(), rows.len()));
        }
        if self.backend == Backend::Postgres {
            // Imported ids were given explicitly: move each generator past them.
            for table in GENERATED_IDS {
                sqlx::query(&format!(
                    "SELECT CAST(setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) AS BIGINT) FROM {table}"
                ))
                .execute(&mut *tx)
                .await
                .context("importing an account")?;
            }
        }
        commit(tx).await?;
        Ok(report)
    }
}

/// What an import loaded: rows per table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: Vec<(String, usize)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{new_key, new_user, newest_events};
    use crate::*;
    use time::OffsetDateTime;

    async fn populate(s: &SqlStore) {
        let now = OffsetDateTime::now_utc();
        let change = |a: &str| Change {
            actor: "owner@example.com".into(),
            action: a.into(),
            request_id: None,
            before: serde_json::json!(null),
            after: serde_json::json!({"x": 1}),
        };
        let owner = s
            .bootstrap_owner("root@example.com", "hash0", now)
            .await
            .unwrap()
            .unwrap();
        s.create_namespace(
            "payments",
            NamespaceSpec {
                accepted_client_ca: "PEM".into(),
                certificate_filters: vec![],
            },
            now,
            change("namespace.create"),
        )
        .await
        .unwrap();
        let mut c = change("namespace.update");
        c.request_id = Some("req-1".into());
        s.update_namespace(
            "payments",
            1,
            NamespaceSpec {
                accepted_client_ca: "PEM2".into(),
                certificate_filters: vec![],
            },
            now,
            c,
        )
        .await
        .unwrap();
        let admin = new_user(s, "a@example.com", Role::NamespaceAdmin, &["payments"], now).await;
        let tomorrow = Some(now + time::Duration::days(1));
        new_key(s, &admin.id, "laptop", "hash1", tomorrow, now).await;
        let _ = owner;
        s.enqueue(
            &[NewNotification {
                namespace: "payments".into(),
                fingerprint: "fp".into(),
                kind: "ca".into(),
                threshold: "15d".into(),
                channel: "email".into(),
                recipient: "a@example.com".into(),
                payload: serde_json::json!({"subject": "s"}),
            }],
            &[NewTicket {
                namespace: "payments".into(),
                fingerprint: "fp".into(),
                subject: "CN=x".into(),
                not_after: now,
            }],
            now,
        )
        .await
        .unwrap();
        s.record_usage(
            &UsageBatch {
                instance: "gw".into(),
                leaves: vec![LeafDelta {
                    namespace: "payments".into(),
                    ca_fingerprint: "ca".into(),
                    leaf_fingerprint: "leaf".into(),
                    leaf_subject: "CN=c".into(),
                    leaf_not_after: now,
                    last_seen: now,
                    last_handshake: None,
                    handshakes: 3,
                    requests: 7,
                }],
                open: vec![],
            },
            now,
        )
        .await
        .unwrap();
    }

    /// Why `s` refuses to import `dump`.
    async fn refusal(s: &SqlStore, dump: &Value) -> String {
        s.import(dump).await.unwrap_err().to_string()
    }

    #[tokio::test]
    async fn sqlite_to_postgres_and_back_round_trips() {
        let from = SqlStore::in_memory().await.unwrap();
        populate(&from).await;
        let dump = from.export().await.unwrap();
        assert_eq!(dump["tables"]["audit_events"].as_array().unwrap().len(), 5);
        // Through every backend there is, and back to SQLite.
        let mut targets = Vec::new();
        if let Some(url) = crate::testing::fresh_postgres_url().await {
            targets.push(SqlStore::connect(&url).await.unwrap());
        }
        targets.push(SqlStore::in_memory().await.unwrap());
        let mut current = dump.clone();
        for target in targets {
            eprintln!("backend: {:?}", target.backend());
            let report = target.import(&current).await.unwrap();
            assert_eq!(report.rows.iter().find(|(t, _)| t == "users").unwrap().1, 2);
            let again = target.export().await.unwrap();
            assert_eq!(
                again,
                dump,
                "{:?}: the export of the import is the export",
                target.backend()
            );
            // The imported store works: keys authenticate, ids continue, the CAS version holds.
            let now = OffsetDateTime::now_utc();
            assert!(target.authenticate("hash1", now).await.unwrap().is_some());
            assert!(matches!(
                target
                    .update_namespace(
                        "payments",
                        1,
                        NamespaceSpec::default(),
                        now,
                        Change::default()
                    )
                    .await,
                Err(StoreError::Conflict { actual: 2, .. })
            ));
            // Importing twice is refused, and changes nothing.
            let e = refusal(&target, &current).await;
            assert!(e.contains("not empty"), "{e}");
            target
                .append_audit(
                    now,
                    Change {
                        actor: "x".into(),
                        action: "user.login".into(),
                        ..Change::default()
                    },
                )
                .await
                .unwrap();
            let events = newest_events(&target, 1).await;
            assert_eq!(events[0].id, 6, "ids continue after the imported ones");
            current = again;
        }
    }

    #[tokio::test]
    async fn a_bad_export_is_refused_whole() {
        for s in crate::testing::stores().await {
            let good = {
                let from = SqlStore::in_memory().await.unwrap();
                populate(&from).await;
                from.export().await.unwrap()
            };
            let mut bad = good.clone();
            bad["tables"]["api_keys"][0]["user_id"] = serde_json::json!("u_nobody");
            let e = refusal(&s, &bad).await;
            assert!(e.contains("table api_keys, row 0"), "{e}");
            assert_eq!(s.count_users().await.unwrap(), 0, "nothing imported");
            let mut wrong = good.clone();
            wrong["schemaVersion"] = serde_json::json!(99);
            assert!(refusal(&s, &wrong).await.contains("schema version 99"));
            let mut injected = good.clone();
            injected["tables"]["users"][0]["id) VALUES ('x'); --"] = serde_json::json!("x");
            assert!(refusal(&s, &injected).await.contains("bad column name"));
            assert!(s.import(&serde_json::json!({"format": "x"})).await.is_err());
            s.import(&good).await.unwrap();
        }
    }
}

//! Namespaces: created at resource version 1, updated and deleted by compare-and-swap on it,
//! each write audited and, with a request id, recorded for idempotent retries, all in one
//! transaction.

use sqlx::Transaction;
use time::OffsetDateTime;

use crate::codec::{json, read_one, to_json, ts, AnyQuery, NAMESPACE_COLUMNS};
use crate::connect::SqlStore;
use crate::error::{is_unique_violation, Context, StoreError};
use crate::model::{Change, Namespace, NamespaceSpec, RecordedRequest, ResourceVersion};

impl SqlStore {
    /// Every namespace, by name.
    pub async fn list_namespaces(&self) -> Result<Vec<Namespace>, StoreError> {
        let sql = format!("SELECT {NAMESPACE_COLUMNS} FROM namespaces ORDER BY name");
        self.read_all(sqlx::query(&sql), "listing namespaces").await
    }

    pub async fn get_namespace(&self, name: &str) -> Result<Option<Namespace>, StoreError> {
        let sql = format!("SELECT {NAMESPACE_COLUMNS} FROM namespaces WHERE name = $1");
        let query = sqlx::query(&sql).bind(name);
        self.read_optional(query, "reading a namespace").await
    }

    /// Creates a namespace at resource version 1.
    pub async fn create_namespace(
        &self,
        name: &str,
        spec: NamespaceSpec,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<Namespace, StoreError> {
        const CONTEXT: &str = "creating a namespace";
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
        .map_err(|e| StoreError::or_exists(e, CONTEXT, "namespace", name))?;
        self.commit_namespace(tx, &change, ns, now).await
    }

    /// Replaces a namespace's spec if it is still at `expected` (compare-and-swap), bumping the
    /// resource version.
    pub async fn update_namespace(
        &self,
        name: &str,
        expected: ResourceVersion,
        spec: NamespaceSpec,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<Namespace, StoreError> {
        const CONTEXT: &str = "updating a namespace";
        let mut tx = self.begin_write().await?;
        // The write comes first, so the transaction holds SQLite's write lock from its first
        // statement and the compare-and-swap cannot race.
        let update = sqlx::query(
            "UPDATE namespaces SET accepted_client_ca = $1, certificate_filters = $2, resource_version = resource_version + 1, updated_at = $3 WHERE name = $4 AND resource_version = $5",
        )
        .bind(&spec.accepted_client_ca)
        .bind(to_json(&spec.certificate_filters))
        .bind(ts(now));
        swap(&mut tx, update, name, expected, CONTEXT).await?;
        let sql = format!("SELECT {NAMESPACE_COLUMNS} FROM namespaces WHERE name = $1");
        let query = sqlx::query(&sql).bind(name);
        let ns: Namespace = read_one(&mut tx, query, CONTEXT).await?;
        self.commit_namespace(tx, &change, ns, now).await
    }

    /// Deletes a namespace if it is still at `expected`, and its namespace admins' grants.
    pub async fn delete_namespace(
        &self,
        name: &str,
        expected: ResourceVersion,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "deleting a namespace";
        let mut tx = self.begin_write().await?;
        let delete =
            sqlx::query("DELETE FROM namespaces WHERE name = $1 AND resource_version = $2");
        swap(&mut tx, delete, name, expected, CONTEXT).await?;
        // Namespace admins lose their grant with the namespace: a namespace created later
        // under the same name must not inherit them.
        let admins: Vec<(String, String)> =
            sqlx::query_as("SELECT id, namespaces FROM users WHERE role = 'namespace-admin'")
                .fetch_all(&mut *tx)
                .await
                .context(CONTEXT)?;
        for (id, list) in admins {
            let mut namespaces: Vec<String> = json(&list)?;
            let before = namespaces.len();
            namespaces.retain(|n| n != name);
            if namespaces.len() != before {
                sqlx::query("UPDATE users SET namespaces = $1 WHERE id = $2")
                    .bind(to_json(&namespaces))
                    .bind(&id)
                    .execute(&mut *tx)
                    .await
                    .context(CONTEXT)?;
            }
        }
        self.record_and_commit(tx, &change, name, None, now).await
    }

    /// What a request id was used for, for idempotent retries. A namespace write whose
    /// `Change::request_id` is set records it in the same transaction.
    pub async fn recorded_request(
        &self,
        request_id: &str,
    ) -> Result<Option<RecordedRequest>, StoreError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT namespace, action, response FROM requests WHERE request_id = $1",
        )
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await
        .context("reading a request id")?;
        row.map(|(namespace, action, response)| {
            Ok(RecordedRequest {
                namespace,
                action,
                namespace_after: json::<serde_json::Value>(&response)?,
            })
        })
        .transpose()
    }

    /// Ends a namespace write: records its request id (see [`record_request`]), appends its
    /// audit event and commits.
    async fn record_and_commit(
        &self,
        mut tx: Transaction<'_, sqlx::Any>,
        change: &Change,
        name: &str,
        response: Option<&Namespace>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        record_request(&mut tx, change, name, response, now).await?;
        self.audit_and_commit(tx, now, Some(name), change).await
    }

    /// Ends a namespace write that leaves `ns` (see [`SqlStore::record_and_commit`]).
    async fn commit_namespace(
        &self,
        tx: Transaction<'_, sqlx::Any>,
        change: &Change,
        ns: Namespace,
        now: OffsetDateTime,
    ) -> Result<Namespace, StoreError> {
        self.record_and_commit(tx, change, &ns.name, Some(&ns), now)
            .await?;
        Ok(ns)
    }
}

/// Records the write's request id, if it has one, with the namespace it left (`None`: deleted).
/// A request id already used fails the whole write.
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
            StoreError::sql("recording the request id", e)
        }
    })?;
    Ok(())
}

/// The compare-and-swap write `query`, its `name` and `expected` version bound last (`$4` and
/// `$5`…): refused as [`why_not_swapped`] says when it touched no row.
async fn swap<'q>(
    tx: &mut Transaction<'_, sqlx::Any>,
    query: AnyQuery<'q>,
    name: &'q str,
    expected: ResourceVersion,
    context: &'static str,
) -> Result<(), StoreError> {
    let swapped = query
        .bind(name)
        .bind(expected)
        .execute(&mut **tx)
        .await
        .context(context)?
        .rows_affected();
    if swapped == 0 {
        return Err(why_not_swapped(tx, name, expected).await?);
    }
    Ok(())
}

/// After a compare-and-swap touched no row: the namespace is gone, or at another version.
async fn why_not_swapped(
    tx: &mut Transaction<'_, sqlx::Any>,
    name: &str,
    expected: ResourceVersion,
) -> Result<StoreError, StoreError> {
    let current: Option<ResourceVersion> =
        sqlx::query_scalar("SELECT resource_version FROM namespaces WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await
            .context("reading a namespace's resource version")?;
    Ok(match current {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AuditQuery, Role};
    use crate::testing::{change, new_user, newest_events, spec};
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
            let events = newest_events(&s, 10).await;
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
                s.delete_namespace("payments", 1, now, change("namespace.delete"))
                    .await,
                Err(StoreError::Conflict { .. })
            ));
            let admin = new_user(
                &s,
                "p@example.com",
                Role::NamespaceAdmin,
                &["payments", "b"],
                now,
            )
            .await;
            s.delete_namespace("payments", 2, now, change("namespace.delete"))
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
    async fn a_delete_is_audited_and_recorded_at_the_callers_time() {
        for s in crate::testing::stores().await {
            let created = time::macros::datetime!(2031-01-01 00:00 UTC);
            let deleted = time::macros::datetime!(2031-03-01 00:00 UTC);
            s.create_namespace("a", spec("A"), created, change("namespace.create"))
                .await
                .unwrap();
            let mut c = change("namespace.delete");
            c.request_id = Some("req-delete".into());
            s.delete_namespace("a", 1, deleted, c).await.unwrap();
            let events = newest_events(&s, 1).await;
            assert_eq!(
                (events[0].action.as_str(), events[0].at),
                ("namespace.delete", deleted),
                "{:?}",
                s.backend()
            );
            let created_at: String =
                sqlx::query_scalar("SELECT created_at FROM requests WHERE request_id = $1")
                    .bind("req-delete")
                    .fetch_one(&s.pool)
                    .await
                    .unwrap();
            assert_eq!(created_at, ts(deleted));
        }
    }
}

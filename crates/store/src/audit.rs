//! The audit log: every control-plane write appends its event in its own transaction (and a
//! namespace write notifies listeners on commit); gateways follow it by id to hot-reload.

use sqlx::Transaction;
use time::OffsetDateTime;

use crate::backend::Backend;
use crate::codec::{col, ts, Decoded, AUDIT_COLUMNS};
use crate::connect::{commit, SqlStore, CHANGES_CHANNEL};
use crate::error::{Context, StoreError};
use crate::model::{AuditEvent, AuditQuery, Change};

impl SqlStore {
    /// Appends `change` to the audit log inside the write `tx`; about `namespace`, it also
    /// tells every listener once the transaction commits.
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
                .await
                .context("notifying the change")?;
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
        .await
        .context("appending an audit event")?;
        Ok(())
    }

    /// Which namespaces changed (were created, updated or deleted) after audit event `after`:
    /// the last event id seen, and the names. What the gateway polls to hot-reload.
    pub async fn namespace_changes_since(
        &self,
        after: i64,
    ) -> Result<(i64, Vec<String>), StoreError> {
        let rows = sqlx::query(
            "SELECT MAX(id) AS id, namespace FROM audit_events WHERE id > $1 AND namespace IS NOT NULL GROUP BY namespace",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .context("reading namespace changes")?;
        let mut last = after;
        let mut names = Vec::with_capacity(rows.len());
        for row in &rows {
            last = last.max(col::<i64>(row, "id")?);
            names.push(col::<String>(row, "namespace")?);
        }
        Ok((last, names))
    }

    /// Audit events, newest first, as `q` selects.
    pub async fn list_audit(&self, q: AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let limit = q.limit.clamp(1, 1000);
        // Namespace admins see their namespaces' events only; that filter is applied while
        // reading, so the SQL limit applies only when everything is visible.
        let sql_limit = if q.visible_namespaces.is_none() && !q.namespaces_only {
            limit
        } else {
            i64::MAX
        };
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events \
             WHERE ($1 IS NULL OR namespace = $1) AND ($2 IS NULL OR id < $2) \
             AND ($4 IS NULL OR actor = $4 OR substr(actor, 1, length($4) + 2) = $4 || ' (') \
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(&q.namespace)
        .bind(q.before_id)
        .bind(sql_limit)
        .bind(&q.actor_email)
        .fetch_all(&self.pool)
        .await
        .context("listing audit events")?;
        let mut out = Vec::new();
        for row in rows {
            let namespace: Option<String> = col(&row, "namespace")?;
            if q.namespaces_only && namespace.is_none() {
                continue;
            }
            if let Some(visible) = &q.visible_namespaces {
                if !namespace.as_ref().is_some_and(|n| visible.contains(n)) {
                    continue;
                }
            }
            out.push(AuditEvent::from_row(&row)?);
            if out.len() as i64 >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Ends the write `tx`: appends its audit event (see [`SqlStore::audit`]) and commits.
    pub(crate) async fn audit_and_commit(
        &self,
        mut tx: Transaction<'_, sqlx::Any>,
        now: OffsetDateTime,
        namespace: Option<&str>,
        change: &Change,
    ) -> Result<(), StoreError> {
        self.audit(&mut tx, now, namespace, change).await?;
        commit(tx).await
    }

    /// Appends an audit event on its own (for events that change no other table).
    pub async fn append_audit(
        &self,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<(), StoreError> {
        let tx = self.begin_write().await?;
        self.audit_and_commit(tx, now, None, &change).await
    }
}

//! CA usage: what gateways observed per (namespace, CA, leaf) — handshakes, requests, first
//! and last seen — merged from every gateway by atomic upserts, and each gateway instance's
//! open connections (replaced whole at each flush, fresh only while it keeps flushing).

use time::OffsetDateTime;

use crate::codec::{col, text, ts, LEAF_COLUMNS};
use crate::connect::{commit, SqlStore};
use crate::error::{Context, StoreError};
use crate::model::{LeafDelta, ObservedLeaf, UsageBatch};

impl SqlStore {
    /// Records a gateway's usage batch in one transaction.
    pub async fn record_usage(
        &self,
        batch: &UsageBatch,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording usage";
        // Upserts in one order in every gateway, so two flushing the same leaves at once wait
        // for each other instead of deadlocking (PostgreSQL).
        let mut leaves: Vec<&LeafDelta> = batch.leaves.iter().collect();
        leaves.sort_by(|a, b| {
            (&a.namespace, &a.ca_fingerprint, &a.leaf_fingerprint).cmp(&(
                &b.namespace,
                &b.ca_fingerprint,
                &b.leaf_fingerprint,
            ))
        });
        let mut tx = self.pool.begin().await.context(CONTEXT)?;
        for leaf in leaves {
            // One atomic upsert per leaf: gateways flushing at once each add their counts; first and
            // last seen are the min and max over gateways.
            sqlx::query(&format!(
                "INSERT INTO ca_usage (namespace, ca_fingerprint, leaf_fingerprint, leaf_subject, leaf_not_after, first_seen, last_seen, connections, last_handshake, requests) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9) \
                 ON CONFLICT (namespace, ca_fingerprint, leaf_fingerprint) DO UPDATE SET \
                   first_seen = {least}(ca_usage.first_seen, excluded.first_seen), \
                   last_seen = {greatest}(ca_usage.last_seen, excluded.last_seen), \
                   last_handshake = {greatest}(ca_usage.last_handshake, excluded.last_handshake), \
                   connections = ca_usage.connections + excluded.connections, \
                   requests = ca_usage.requests + excluded.requests",
                greatest = self.backend.greatest(),
                least = self.backend.least(),
            ))
            .bind(&leaf.namespace)
            .bind(&leaf.ca_fingerprint)
            .bind(&leaf.leaf_fingerprint)
            .bind(text(&leaf.leaf_subject))
            .bind(ts(leaf.leaf_not_after))
            .bind(ts(leaf.last_seen))
            .bind(leaf.handshakes)
            .bind(leaf.last_handshake.map(ts).unwrap_or_default())
            .bind(leaf.requests)
            .execute(&mut *tx)
            .await
            .context(CONTEXT)?;
        }
        sqlx::query("DELETE FROM ca_open_connections WHERE instance = $1")
            .bind(&batch.instance)
            .execute(&mut *tx)
            .await
            .context(CONTEXT)?;
        for (namespace, ca, open) in &batch.open {
            sqlx::query(
                "INSERT INTO ca_open_connections (instance, namespace, ca_fingerprint, open_connections, updated_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&batch.instance)
            .bind(namespace)
            .bind(ca)
            .bind(open)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .context(CONTEXT)?;
        }
        // The instance's heartbeat, so that zero open connections is still fresh.
        sqlx::query(
            "INSERT INTO ca_open_connections (instance, namespace, ca_fingerprint, open_connections, updated_at) VALUES ($1, '', '', 0, $2)",
        )
        .bind(&batch.instance)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .context(CONTEXT)?;
        commit(tx).await?;
        Ok(())
    }

    /// Leaves seen since `since` (all namespaces, or one).
    pub async fn observed_leaves(
        &self,
        since: OffsetDateTime,
        namespace: Option<&str>,
    ) -> Result<Vec<ObservedLeaf>, StoreError> {
        let sql = format!(
            "SELECT {LEAF_COLUMNS} \
             FROM ca_usage WHERE last_seen >= $1 AND ($2 IS NULL OR namespace = $2) ORDER BY leaf_not_after"
        );
        let query = sqlx::query(&sql).bind(ts(since)).bind(namespace);
        self.read_all(query, "listing observed leaves").await
    }

    /// Open connections per CA of a namespace, summed over gateway instances that flushed
    /// since `fresh_since` (an instance that stopped flushing no longer counts).
    pub async fn open_connections(
        &self,
        namespace: &str,
        fresh_since: OffsetDateTime,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT ca_fingerprint, CAST(SUM(open_connections) AS BIGINT) AS open FROM ca_open_connections \
             WHERE namespace = $1 AND updated_at >= $2 GROUP BY ca_fingerprint ORDER BY ca_fingerprint",
        )
        .bind(namespace)
        .bind(ts(fresh_since))
        .fetch_all(&self.pool)
        .await
        .context("counting open connections")?;
        rows.iter()
            .map(|row| Ok((col(row, "ca_fingerprint")?, col(row, "open")?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_certificate_subject_with_nul_is_stored() {
        for s in crate::testing::stores().await {
            let now = OffsetDateTime::now_utc();
            let batch = UsageBatch {
                instance: "gw".into(),
                leaves: vec![LeafDelta {
                    namespace: "a".into(),
                    ca_fingerprint: "ca".into(),
                    leaf_fingerprint: "leaf".into(),
                    leaf_subject: "CN=evil\0tail".into(),
                    leaf_not_after: now,
                    last_seen: now,
                    last_handshake: None,
                    handshakes: 1,
                    requests: 0,
                }],
                open: vec![],
            };
            s.record_usage(&batch, now).await.unwrap();
            let leaves = s.observed_leaves(now, None).await.unwrap();
            assert_eq!(
                leaves[0].leaf_subject,
                "CN=evil\u{fffd}tail",
                "{:?}",
                s.backend()
            );
        }
    }
}

//! Storage for the expiry watch: the notification queue (exactly once per namespace,
//! certificate, threshold, channel and recipient), tickets, and observed client leaves.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use time::OffsetDateTime;

use crate::sql::{json, parse_opt_ts, parse_ts, to_json, ts};
use crate::{SqlStore, StoreError};

/// A notification to queue. Queuing the same (namespace, fingerprint, threshold, channel,
/// recipient) twice is a no-op: that is what makes every message go out once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewNotification {
    pub namespace: String,
    pub fingerprint: String,
    /// "ca" or "leaf".
    pub kind: String,
    /// "15d", "10d", "5d" for CAs; "leaf-15d" for client leaves.
    pub threshold: String,
    /// "email" or "webhook".
    pub channel: String,
    /// Email address or webhook URL.
    pub recipient: String,
    /// What to send (subject and body, or the webhook JSON).
    pub payload: serde_json::Value,
}

/// A queued notification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: i64,
    #[serde(flatten)]
    pub item: NewNotification,
    /// "pending", "sending", "sent" or "cancelled".
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
}

/// A ticket opened when a CA is 5 days or less from expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub id: i64,
    pub namespace: String,
    pub fingerprint: String,
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    pub status: String,
}

/// A ticket to open (once per namespace and certificate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTicket {
    pub namespace: String,
    pub fingerprint: String,
    pub subject: String,
    pub not_after: OffsetDateTime,
}

/// A client leaf the gateway saw, with the CA it chained to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedLeaf {
    pub namespace: String,
    pub ca_fingerprint: String,
    pub leaf_fingerprint: String,
    pub leaf_subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub leaf_not_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// The last handshake or request.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_handshake: Option<OffsetDateTime>,
    /// Handshakes (connections opened).
    pub connections: i64,
    pub requests: i64,
}

/// What a gateway instance observed since its last flush: per-leaf deltas, and a full snapshot
/// of its open connections per namespace and CA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageBatch {
    /// Which gateway instance this is (its open-connection rows are replaced as a whole).
    pub instance: String,
    pub leaves: Vec<LeafDelta>,
    /// (namespace, CA fingerprint, open connections).
    pub open: Vec<(String, String, i64)>,
}

/// A leaf's activity since the last flush.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafDelta {
    pub namespace: String,
    pub ca_fingerprint: String,
    pub leaf_fingerprint: String,
    pub leaf_subject: String,
    pub leaf_not_after: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    pub last_handshake: Option<OffsetDateTime>,
    pub handshakes: i64,
    pub requests: i64,
}

/// Counts for the notifications metric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationStat {
    pub threshold: String,
    pub channel: String,
    pub sent: i64,
    pub failed_attempts: i64,
    pub pending: i64,
}

/// Storage the expiry watch needs.
#[async_trait]
pub trait WatchStore: Send + Sync + std::fmt::Debug {
    /// Queues notifications and opens tickets in one transaction, skipping any already queued
    /// or open. Returns the tickets opened now.
    async fn enqueue(
        &self,
        notifications: &[NewNotification],
        tickets: &[NewTicket],
        now: OffsetDateTime,
    ) -> Result<Vec<Ticket>, StoreError>;
    /// Cancels these notifications if they are still pending (not being sent, not sent).
    async fn cancel_pending(&self, ids: &[i64]) -> Result<u64, StoreError>;
    /// Claims one notification due at `due_at` (pending, or claimed by a notifier whose lease
    /// has lapsed by the wall clock `clock_now`), on a channel `serves` accepts. The claim is a
    /// compare-and-swap that records `token`, so two notifiers never hold the same one.
    async fn claim_next(
        &self,
        due_at: OffsetDateTime,
        clock_now: OffsetDateTime,
        lease: time::Duration,
        token: &str,
        serves: &(dyn for<'x> Fn(&'x str, &'x str) -> bool + Send + Sync),
    ) -> Result<Option<Notification>, StoreError>;
    /// Marks a notification sent — only if `token` still holds the claim.
    async fn mark_sent(
        &self,
        id: i64,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Returns a claimed notification to the queue after a failed send, to retry at `retry_at`.
    async fn mark_failed(
        &self,
        id: i64,
        token: &str,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn list_notifications(&self) -> Result<Vec<Notification>, StoreError>;
    async fn notification_stats(&self) -> Result<Vec<NotificationStat>, StoreError>;
    async fn list_tickets(&self) -> Result<Vec<Ticket>, StoreError>;
    /// Records a gateway's usage batch in one transaction.
    async fn record_usage(&self, batch: &UsageBatch, now: OffsetDateTime)
        -> Result<(), StoreError>;
    /// Leaves seen since `since` (all namespaces, or one).
    async fn observed_leaves(
        &self,
        since: OffsetDateTime,
        namespace: Option<&str>,
    ) -> Result<Vec<ObservedLeaf>, StoreError>;
    /// Open connections per CA of a namespace, summed over gateway instances that flushed
    /// since `fresh_since` (an instance that stopped flushing no longer counts).
    async fn open_connections(
        &self,
        namespace: &str,
        fresh_since: OffsetDateTime,
    ) -> Result<Vec<(String, i64)>, StoreError>;
}

const NOTIFICATION_COLUMNS: &str = "id, namespace, fingerprint, kind, threshold, channel, recipient, payload, status, attempts, last_error, sent_at";

fn notification_from_row(row: &sqlx::any::AnyRow) -> Result<Notification, StoreError> {
    Ok(Notification {
        id: row.try_get("id")?,
        item: NewNotification {
            namespace: row.try_get("namespace")?,
            fingerprint: row.try_get("fingerprint")?,
            kind: row.try_get("kind")?,
            threshold: row.try_get("threshold")?,
            channel: row.try_get("channel")?,
            recipient: row.try_get("recipient")?,
            payload: json(&row.try_get::<String, _>("payload")?)?,
        },
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        sent_at: parse_opt_ts(row.try_get("sent_at")?)?,
    })
}

fn ticket_from_row(row: &sqlx::any::AnyRow) -> Result<Ticket, StoreError> {
    Ok(Ticket {
        id: row.try_get("id")?,
        namespace: row.try_get("namespace")?,
        fingerprint: row.try_get("fingerprint")?,
        subject: row.try_get("subject")?,
        not_after: parse_ts(&row.try_get::<String, _>("not_after")?)?,
        opened_at: parse_ts(&row.try_get::<String, _>("opened_at")?)?,
        status: row.try_get("status")?,
    })
}

#[async_trait]
impl WatchStore for SqlStore {
    async fn enqueue(
        &self,
        notifications: &[NewNotification],
        tickets: &[NewTicket],
        now: OffsetDateTime,
    ) -> Result<Vec<Ticket>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut opened = Vec::new();
        for t in tickets {
            let inserted = sqlx::query(
                "INSERT INTO tickets (namespace, fingerprint, subject, not_after, opened_at, status) \
                 VALUES ($1, $2, $3, $4, $5, 'open') ON CONFLICT (namespace, fingerprint) DO NOTHING",
            )
            .bind(&t.namespace)
            .bind(&t.fingerprint)
            .bind(crate::sql::text(&t.subject))
            .bind(ts(t.not_after))
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 1 {
                let row = sqlx::query(
                    "SELECT id, namespace, fingerprint, subject, not_after, opened_at, status FROM tickets WHERE namespace = $1 AND fingerprint = $2",
                )
                .bind(&t.namespace)
                .bind(&t.fingerprint)
                .fetch_one(&mut *tx)
                .await?;
                opened.push(ticket_from_row(&row)?);
            }
        }
        for n in notifications {
            sqlx::query(
                "INSERT INTO notifications (namespace, fingerprint, kind, threshold, channel, recipient, payload, status, attempts, failures, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, 0, $8, $8) \
                 ON CONFLICT (namespace, fingerprint, threshold, channel, recipient) DO UPDATE SET \
                   payload = excluded.payload, \
                   next_attempt_at = CASE WHEN notifications.status = 'cancelled' THEN excluded.next_attempt_at ELSE notifications.next_attempt_at END, \
                   status = 'pending' \
                 WHERE notifications.status IN ('pending', 'cancelled')",
            )
            .bind(&n.namespace)
            .bind(&n.fingerprint)
            .bind(&n.kind)
            .bind(&n.threshold)
            .bind(&n.channel)
            .bind(&n.recipient)
            .bind(to_json(&n.payload))
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        }
        crate::sql::commit(tx).await?;
        Ok(opened)
    }

    async fn cancel_pending(&self, ids: &[i64]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut cancelled = 0;
        for id in ids {
            cancelled += sqlx::query(
                "UPDATE notifications SET status = 'cancelled' WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        crate::sql::commit(tx).await?;
        Ok(cancelled)
    }

    async fn claim_next(
        &self,
        due_at: OffsetDateTime,
        clock_now: OffsetDateTime,
        lease: time::Duration,
        token: &str,
        serves: &(dyn for<'x> Fn(&'x str, &'x str) -> bool + Send + Sync),
    ) -> Result<Option<Notification>, StoreError> {
        let candidates: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, channel, recipient FROM notifications WHERE (status = 'pending' AND next_attempt_at <= $1) \
             OR (status = 'sending' AND lease_until <= $2) ORDER BY id",
        )
        .bind(ts(due_at))
        .bind(ts(clock_now))
        .fetch_all(&self.pool)
        .await?;
        for (id, channel, recipient) in candidates {
            if !serves(&channel, &recipient) {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            let won = sqlx::query(
                "UPDATE notifications SET status = 'sending', lease_until = $1, claim_token = $2, attempts = attempts + 1 \
                 WHERE id = $3 AND ((status = 'pending' AND next_attempt_at <= $4) OR (status = 'sending' AND lease_until <= $5))",
            )
            .bind(ts(clock_now + lease))
            .bind(token)
            .bind(id)
            .bind(ts(due_at))
            .bind(ts(clock_now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if won == 1 {
                let row = sqlx::query(&format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1"
                ))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                let n = notification_from_row(&row)?;
                crate::sql::commit(tx).await?;
                return Ok(Some(n));
            }
            crate::sql::commit(tx).await?;
        }
        Ok(None)
    }

    async fn mark_sent(
        &self,
        id: i64,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE notifications SET status = 'sent', sent_at = $1, lease_until = NULL, claim_token = NULL, last_error = NULL \
             WHERE id = $2 AND status = 'sending' AND claim_token = $3",
        )
        .bind(ts(now))
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn mark_failed(
        &self,
        id: i64,
        token: &str,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notifications SET status = 'pending', failures = failures + 1, last_error = $1, next_attempt_at = $2, lease_until = NULL, claim_token = NULL \
             WHERE id = $3 AND status = 'sending' AND claim_token = $4",
        )
        .bind(error)
        .bind(ts(retry_at))
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_notifications(&self) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(notification_from_row).collect()
    }

    async fn notification_stats(&self) -> Result<Vec<NotificationStat>, StoreError> {
        let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT threshold, channel, \
                    CAST(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END) AS BIGINT), \
                    CAST(SUM(failures) AS BIGINT), \
                    CAST(SUM(CASE WHEN status IN ('pending', 'sending') THEN 1 ELSE 0 END) AS BIGINT) \
             FROM notifications GROUP BY threshold, channel ORDER BY threshold, channel",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(threshold, channel, sent, failed_attempts, pending)| NotificationStat {
                    threshold,
                    channel,
                    sent,
                    failed_attempts,
                    pending,
                },
            )
            .collect())
    }

    async fn list_tickets(&self) -> Result<Vec<Ticket>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, namespace, fingerprint, subject, not_after, opened_at, status FROM tickets ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    async fn record_usage(
        &self,
        batch: &UsageBatch,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
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
        let mut tx = self.pool.begin().await?;
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
            .bind(crate::sql::text(&leaf.leaf_subject))
            .bind(ts(leaf.leaf_not_after))
            .bind(ts(leaf.last_seen))
            .bind(leaf.handshakes)
            .bind(leaf.last_handshake.map(ts).unwrap_or_default())
            .bind(leaf.requests)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM ca_open_connections WHERE instance = $1")
            .bind(&batch.instance)
            .execute(&mut *tx)
            .await?;
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
            .await?;
        }
        // The instance's heartbeat, so that zero open connections is still fresh.
        sqlx::query(
            "INSERT INTO ca_open_connections (instance, namespace, ca_fingerprint, open_connections, updated_at) VALUES ($1, '', '', 0, $2)",
        )
        .bind(&batch.instance)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        crate::sql::commit(tx).await?;
        Ok(())
    }

    async fn observed_leaves(
        &self,
        since: OffsetDateTime,
        namespace: Option<&str>,
    ) -> Result<Vec<ObservedLeaf>, StoreError> {
        let rows = sqlx::query(
            "SELECT namespace, ca_fingerprint, leaf_fingerprint, leaf_subject, leaf_not_after, first_seen, last_seen, last_handshake, connections, requests \
             FROM ca_usage WHERE last_seen >= $1 AND ($2 IS NULL OR namespace = $2) ORDER BY leaf_not_after",
        )
        .bind(ts(since))
        .bind(namespace)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let last_handshake: String = row.try_get("last_handshake")?;
                Ok(ObservedLeaf {
                    namespace: row.try_get("namespace")?,
                    ca_fingerprint: row.try_get("ca_fingerprint")?,
                    leaf_fingerprint: row.try_get("leaf_fingerprint")?,
                    leaf_subject: row.try_get("leaf_subject")?,
                    leaf_not_after: parse_ts(&row.try_get::<String, _>("leaf_not_after")?)?,
                    first_seen: parse_ts(&row.try_get::<String, _>("first_seen")?)?,
                    last_seen: parse_ts(&row.try_get::<String, _>("last_seen")?)?,
                    last_handshake: if last_handshake.is_empty() {
                        None
                    } else {
                        Some(parse_ts(&last_handshake)?)
                    },
                    connections: row.try_get("connections")?,
                    requests: row.try_get("requests")?,
                })
            })
            .collect()
    }

    async fn open_connections(
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
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("ca_fingerprint")?, row.try_get("open")?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(recipient: &str, threshold: &str) -> NewNotification {
        NewNotification {
            namespace: "a".into(),
            fingerprint: "fp".into(),
            kind: "ca".into(),
            threshold: threshold.into(),
            channel: "email".into(),
            recipient: recipient.into(),
            payload: json!({"subject": "s"}),
        }
    }

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

    #[tokio::test]
    async fn queue_is_exactly_once_with_leases_and_retries() {
        for s in crate::testing::stores().await {
            eprintln!("backend: {:?}", s.backend());
            let now = OffsetDateTime::now_utc();
            let ticket = NewTicket {
                namespace: "a".into(),
                fingerprint: "fp".into(),
                subject: "CN=x".into(),
                not_after: now,
            };
            let opened = s
                .enqueue(
                    &[item("x@a.io", "15d"), item("y@a.io", "15d")],
                    std::slice::from_ref(&ticket),
                    now,
                )
                .await
                .unwrap();
            assert_eq!(opened.len(), 1);
            // Queuing again is a no-op; the ticket is not opened twice.
            assert!(s
                .enqueue(&[item("x@a.io", "15d")], &[ticket], now)
                .await
                .unwrap()
                .is_empty());
            assert_eq!(s.list_notifications().await.unwrap().len(), 2);
            let lease = time::Duration::minutes(5);
            let all = |_: &str, _: &str| true;
            let a = s
                .claim_next(now, now, lease, "t1", &all)
                .await
                .unwrap()
                .unwrap();
            let b = s
                .claim_next(now, now, lease, "t1", &all)
                .await
                .unwrap()
                .unwrap();
            assert_ne!(a.id, b.id);
            // A second notifier finds nothing to claim while the leases hold.
            assert!(s
                .claim_next(now, now, lease, "t2", &all)
                .await
                .unwrap()
                .is_none());
            // Only the claim holder can complete it.
            assert!(!s.mark_sent(a.id, "t2", now).await.unwrap());
            assert!(s.mark_sent(a.id, "t1", now).await.unwrap());
            s.mark_failed(b.id, "t1", "smtp down", now + time::Duration::minutes(1))
                .await
                .unwrap();
            assert!(
                s.claim_next(now, now, lease, "t2", &all)
                    .await
                    .unwrap()
                    .is_none(),
                "not due yet"
            );
            let later = now + time::Duration::minutes(2);
            let retry = s
                .claim_next(later, later, lease, "t2", &all)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(retry.attempts, 2);
            // A lapsed lease (by the wall clock) is claimable again; the old holder can no longer
            // complete it.
            let much_later = now + time::Duration::minutes(10);
            let again = s
                .claim_next(later, much_later, lease, "t3", &all)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(again.id, retry.id);
            assert!(!s.mark_sent(retry.id, "t2", much_later).await.unwrap());
            // Notifiers only take channels they serve.
            let none = |_: &str, _: &str| false;
            s.enqueue(&[item("w@a.io", "5d")], &[], now).await.unwrap();
            assert!(s
                .claim_next(much_later, much_later, lease, "t4", &none)
                .await
                .unwrap()
                .is_none());
            let stats = s.notification_stats().await.unwrap();
            let fifteen = stats.iter().find(|x| x.threshold == "15d").unwrap();
            assert_eq!(
                (fifteen.sent, fifteen.failed_attempts, fifteen.pending),
                (1, 1, 1)
            );
            // Cancel what is no longer needed.
            s.enqueue(&[item("z@a.io", "10d")], &[], now).await.unwrap();
            let z = s
                .list_notifications()
                .await
                .unwrap()
                .into_iter()
                .find(|n| n.item.recipient == "z@a.io")
                .unwrap();
            assert_eq!(
                s.cancel_pending(&[a.id]).await.unwrap(),
                0,
                "sent ones stay sent"
            );
            assert_eq!(s.cancel_pending(&[z.id]).await.unwrap(), 1);
            // A cancelled notice comes back when it is planned again.
            s.enqueue(&[item("z@a.io", "10d")], &[], much_later)
                .await
                .unwrap();
            let z = s
                .list_notifications()
                .await
                .unwrap()
                .into_iter()
                .find(|n| n.id == z.id)
                .unwrap();
            assert_eq!(z.status, "pending");
        }
    }
}

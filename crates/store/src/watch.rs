//! Storage for the expiry watch: the notification queue (exactly once per namespace,
//! certificate, threshold, channel and recipient), tickets, and observed client leaves.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use time::OffsetDateTime;

use crate::sqlite::{json, parse_opt_ts, parse_ts, to_json, ts};
use crate::{SqliteStore, StoreError};

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
    pub last_seen: OffsetDateTime,
    pub connections: i64,
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
    /// Cancels pending notifications whose certificate is no longer in its namespace's bundle
    /// (`live` lists the (namespace, fingerprint) pairs still there) — "only if still necessary".
    async fn cancel_stale(&self, live: &[(String, String)]) -> Result<u64, StoreError>;
    /// Claims up to `limit` due notifications for sending: each claim is a compare-and-swap, so
    /// two notifiers never take the same one. A claim lapses after `lease`.
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError>;
    /// Marks a claimed notification sent.
    async fn mark_sent(&self, id: i64, now: OffsetDateTime) -> Result<(), StoreError>;
    /// Returns a claimed notification to the queue after a failed send, to retry at `retry_at`.
    async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn list_notifications(&self) -> Result<Vec<Notification>, StoreError>;
    async fn notification_stats(&self) -> Result<Vec<NotificationStat>, StoreError>;
    async fn list_tickets(&self) -> Result<Vec<Ticket>, StoreError>;
    /// Records that the gateway saw a client leaf (called by the gateway, batched).
    async fn record_leaf(&self, leaf: &ObservedLeaf) -> Result<(), StoreError>;
    /// Leaves seen since `since`.
    async fn observed_leaves(&self, since: OffsetDateTime)
        -> Result<Vec<ObservedLeaf>, StoreError>;
}

const NOTIFICATION_COLUMNS: &str = "id, namespace, fingerprint, kind, threshold, channel, recipient, payload, status, attempts, last_error, sent_at";

fn notification_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Notification, StoreError> {
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

fn ticket_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Ticket, StoreError> {
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
impl WatchStore for SqliteStore {
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
            .bind(&t.subject)
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
                 ON CONFLICT (namespace, fingerprint, threshold, channel, recipient) DO NOTHING",
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
        tx.commit().await?;
        Ok(opened)
    }

    async fn cancel_stale(&self, live: &[(String, String)]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let pending: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, namespace, fingerprint FROM notifications WHERE status = 'pending'",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut cancelled = 0;
        for (id, ns, fp) in pending {
            if !live.iter().any(|(n, f)| *n == ns && *f == fp) {
                cancelled += sqlx::query(
                    "UPDATE notifications SET status = 'cancelled' WHERE id = $1 AND status = 'pending'",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
        }
        tx.commit().await?;
        Ok(cancelled)
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let candidates: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM notifications WHERE (status = 'pending' AND next_attempt_at <= $1) \
             OR (status = 'sending' AND lease_until <= $1) ORDER BY id LIMIT $2",
        )
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::new();
        for id in candidates {
            let mut tx = self.pool.begin().await?;
            let won = sqlx::query(
                "UPDATE notifications SET status = 'sending', lease_until = $1, attempts = attempts + 1 \
                 WHERE id = $2 AND ((status = 'pending' AND next_attempt_at <= $3) OR (status = 'sending' AND lease_until <= $3))",
            )
            .bind(ts(now + lease))
            .bind(id)
            .bind(ts(now))
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
                claimed.push(notification_from_row(&row)?);
            }
            tx.commit().await?;
        }
        Ok(claimed)
    }

    async fn mark_sent(&self, id: i64, now: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notifications SET status = 'sent', sent_at = $1, lease_until = NULL, last_error = NULL WHERE id = $2 AND status = 'sending'",
        )
        .bind(ts(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notifications SET status = 'pending', failures = failures + 1, last_error = $1, next_attempt_at = $2, lease_until = NULL \
             WHERE id = $3 AND status = 'sending'",
        )
        .bind(error)
        .bind(ts(retry_at))
        .bind(id)
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
                    SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), \
                    SUM(failures), \
                    SUM(CASE WHEN status IN ('pending', 'sending') THEN 1 ELSE 0 END) \
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

    async fn record_leaf(&self, leaf: &ObservedLeaf) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ca_usage (namespace, ca_fingerprint, leaf_fingerprint, leaf_subject, leaf_not_after, first_seen, last_seen, connections) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7) \
             ON CONFLICT (namespace, ca_fingerprint, leaf_fingerprint) DO UPDATE SET \
               last_seen = MAX(last_seen, excluded.last_seen), connections = connections + excluded.connections",
        )
        .bind(&leaf.namespace)
        .bind(&leaf.ca_fingerprint)
        .bind(&leaf.leaf_fingerprint)
        .bind(&leaf.leaf_subject)
        .bind(ts(leaf.leaf_not_after))
        .bind(ts(leaf.last_seen))
        .bind(leaf.connections)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn observed_leaves(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<ObservedLeaf>, StoreError> {
        let rows = sqlx::query(
            "SELECT namespace, ca_fingerprint, leaf_fingerprint, leaf_subject, leaf_not_after, last_seen, connections \
             FROM ca_usage WHERE last_seen >= $1 ORDER BY leaf_not_after",
        )
        .bind(ts(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ObservedLeaf {
                    namespace: row.try_get("namespace")?,
                    ca_fingerprint: row.try_get("ca_fingerprint")?,
                    leaf_fingerprint: row.try_get("leaf_fingerprint")?,
                    leaf_subject: row.try_get("leaf_subject")?,
                    leaf_not_after: parse_ts(&row.try_get::<String, _>("leaf_not_after")?)?,
                    last_seen: parse_ts(&row.try_get::<String, _>("last_seen")?)?,
                    connections: row.try_get("connections")?,
                })
            })
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
    async fn queue_is_exactly_once_with_leases_and_retries() {
        let s = SqliteStore::in_memory().await.unwrap();
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
        let first = s.claim_due(now, lease, 10).await.unwrap();
        assert_eq!(first.len(), 2);
        // A second notifier finds nothing to claim while the lease holds.
        assert!(s.claim_due(now, lease, 10).await.unwrap().is_empty());
        s.mark_sent(first[0].id, now).await.unwrap();
        s.mark_failed(first[1].id, "smtp down", now + time::Duration::minutes(1))
            .await
            .unwrap();
        assert!(
            s.claim_due(now, lease, 10).await.unwrap().is_empty(),
            "not due yet"
        );
        let retry = s
            .claim_due(now + time::Duration::minutes(2), lease, 10)
            .await
            .unwrap();
        assert_eq!(retry.len(), 1);
        assert_eq!(retry[0].attempts, 2);
        // A lapsed lease (a notifier that died mid-send) is claimable again.
        let later = now + time::Duration::minutes(10);
        assert_eq!(s.claim_due(later, lease, 10).await.unwrap().len(), 1);
        let stats = s.notification_stats().await.unwrap();
        assert_eq!(
            (stats[0].sent, stats[0].failed_attempts, stats[0].pending),
            (1, 1, 1)
        );
        // Cancel what is no longer needed.
        s.enqueue(&[item("z@a.io", "10d")], &[], now).await.unwrap();
        assert_eq!(s.cancel_stale(&[]).await.unwrap(), 1);
    }
}

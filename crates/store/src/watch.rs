//! Storage for the expiry watch: the notification queue (exactly once per namespace,
//! certificate, threshold, channel and recipient; claimed by compare-and-swap with a lease),
//! and tickets. These writes take no write lock: they are upserts and compare-and-swap claims.

use time::OffsetDateTime;

use crate::codec::{read_one, text, to_json, ts, NOTIFICATION_COLUMNS, TICKET_COLUMNS};
use crate::connect::{commit, SqlStore};
use crate::error::{Context, StoreError};
use crate::model::{NewNotification, NewTicket, Notification, NotificationStat, Ticket};

impl SqlStore {
    /// Queues notifications and opens tickets in one transaction, skipping any already queued
    /// or open. Returns the tickets opened now.
    pub async fn enqueue(
        &self,
        notifications: &[NewNotification],
        tickets: &[NewTicket],
        now: OffsetDateTime,
    ) -> Result<Vec<Ticket>, StoreError> {
        const CONTEXT: &str = "queuing notifications";
        let mut tx = self.pool.begin().await.context(CONTEXT)?;
        let mut opened = Vec::new();
        for t in tickets {
            let inserted = sqlx::query(
                "INSERT INTO tickets (namespace, fingerprint, subject, not_after, opened_at, status) \
                 VALUES ($1, $2, $3, $4, $5, 'open') ON CONFLICT (namespace, fingerprint) DO NOTHING",
            )
            .bind(&t.namespace)
            .bind(&t.fingerprint)
            .bind(text(&t.subject))
            .bind(ts(t.not_after))
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .context("opening a ticket")?;
            if inserted.rows_affected() == 1 {
                let sql = format!(
                    "SELECT {TICKET_COLUMNS} FROM tickets WHERE namespace = $1 AND fingerprint = $2"
                );
                let query = sqlx::query(&sql).bind(&t.namespace).bind(&t.fingerprint);
                let ticket: Ticket = read_one(&mut tx, query, "opening a ticket").await?;
                opened.push(ticket);
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
            .await
            .context(CONTEXT)?;
        }
        commit(tx).await?;
        Ok(opened)
    }

    /// Cancels these notifications if they are still pending (not being sent, not sent).
    pub async fn cancel_pending(&self, ids: &[i64]) -> Result<u64, StoreError> {
        const CONTEXT: &str = "cancelling notifications";
        let mut tx = self.pool.begin().await.context(CONTEXT)?;
        let mut cancelled = 0;
        for id in ids {
            cancelled += sqlx::query(
                "UPDATE notifications SET status = 'cancelled' WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .context(CONTEXT)?
            .rows_affected();
        }
        commit(tx).await?;
        Ok(cancelled)
    }

    /// Claims one notification due at `due_at` (pending, or claimed by a notifier whose lease
    /// has lapsed by the wall clock `clock_now`), on a channel `serves` accepts. The claim is a
    /// compare-and-swap that records `token`, so two notifiers never hold the same one.
    pub async fn claim_next(
        &self,
        due_at: OffsetDateTime,
        clock_now: OffsetDateTime,
        lease: time::Duration,
        token: &str,
        serves: &(dyn for<'x> Fn(&'x str, &'x str) -> bool + Send + Sync),
    ) -> Result<Option<Notification>, StoreError> {
        const CONTEXT: &str = "claiming a notification";
        let candidates: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, channel, recipient FROM notifications WHERE (status = 'pending' AND next_attempt_at <= $1) \
             OR (status = 'sending' AND lease_until <= $2) ORDER BY id",
        )
        .bind(ts(due_at))
        .bind(ts(clock_now))
        .fetch_all(&self.pool)
        .await
        .context(CONTEXT)?;
        for (id, channel, recipient) in candidates {
            if !serves(&channel, &recipient) {
                continue;
            }
            let mut tx = self.pool.begin().await.context(CONTEXT)?;
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
            .await
            .context(CONTEXT)?
            .rows_affected();
            if won == 1 {
                let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1");
                let query = sqlx::query(&sql).bind(id);
                let n: Notification = read_one(&mut tx, query, CONTEXT).await?;
                commit(tx).await?;
                return Ok(Some(n));
            }
            commit(tx).await?;
        }
        Ok(None)
    }

    /// Marks a notification sent — only if `token` still holds the claim.
    pub async fn mark_sent(
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
        .await
        .context("marking a notification sent")?
        .rows_affected();
        Ok(n == 1)
    }

    /// Returns a claimed notification to the queue after a failed send, to retry at `retry_at`.
    pub async fn mark_failed(
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
        .await
        .context("marking a notification failed")?;
        Ok(())
    }

    /// Every queued notification, oldest first.
    pub async fn list_notifications(&self) -> Result<Vec<Notification>, StoreError> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications ORDER BY id");
        let query = sqlx::query(&sql);
        self.read_all(query, "listing notifications").await
    }

    /// Counts per threshold and channel, for the notifications metric.
    pub async fn notification_stats(&self) -> Result<Vec<NotificationStat>, StoreError> {
        let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT threshold, channel, \
                    CAST(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END) AS BIGINT), \
                    CAST(SUM(failures) AS BIGINT), \
                    CAST(SUM(CASE WHEN status IN ('pending', 'sending') THEN 1 ELSE 0 END) AS BIGINT) \
             FROM notifications GROUP BY threshold, channel ORDER BY threshold, channel",
        )
        .fetch_all(&self.pool)
        .await
        .context("counting notifications")?;
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

    /// Every ticket, oldest first.
    pub async fn list_tickets(&self) -> Result<Vec<Ticket>, StoreError> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets ORDER BY id");
        self.read_all(sqlx::query(&sql), "listing tickets").await
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

    /// What the notifier `token` claims with a five-minute lease, due at `due_at`, by the wall
    /// clock `clock_now`; `serves` says whether it takes the channel.
    async fn claim(
        s: &SqlStore,
        due_at: OffsetDateTime,
        clock_now: OffsetDateTime,
        token: &str,
        serves: bool,
    ) -> Option<Notification> {
        let serves = move |_: &str, _: &str| serves;
        let lease = time::Duration::minutes(5);
        s.claim_next(due_at, clock_now, lease, token, &serves)
            .await
            .unwrap()
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
            let a = claim(&s, now, now, "t1", true).await.unwrap();
            let b = claim(&s, now, now, "t1", true).await.unwrap();
            assert_ne!(a.id, b.id);
            // A second notifier finds nothing to claim while the leases hold.
            assert!(claim(&s, now, now, "t2", true).await.is_none());
            // Only the claim holder can complete it.
            assert!(!s.mark_sent(a.id, "t2", now).await.unwrap());
            assert!(s.mark_sent(a.id, "t1", now).await.unwrap());
            s.mark_failed(b.id, "t1", "smtp down", now + time::Duration::minutes(1))
                .await
                .unwrap();
            assert!(
                claim(&s, now, now, "t2", true).await.is_none(),
                "not due yet"
            );
            let later = now + time::Duration::minutes(2);
            let retry = claim(&s, later, later, "t2", true).await.unwrap();
            assert_eq!(retry.attempts, 2);
            // A lapsed lease (by the wall clock) is claimable again; the old holder can no longer
            // complete it.
            let much_later = now + time::Duration::minutes(10);
            let again = claim(&s, later, much_later, "t3", true).await.unwrap();
            assert_eq!(again.id, retry.id);
            assert!(!s.mark_sent(retry.id, "t2", much_later).await.unwrap());
            // Notifiers only take channels they serve.
            s.enqueue(&[item("w@a.io", "5d")], &[], now).await.unwrap();
            assert!(claim(&s, much_later, much_later, "t4", false)
                .await
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

//! The notifier's schedule: a full pass every so often, due retries in between, and with
//! several replicas on one PostgreSQL, only the one that holds the notifier lease sends.

use std::time::{Duration, Instant};

use gatehouse_store::{Backend, Lease, SqlStore};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::Notifier;

/// How often due retries are delivered between full passes, so backoff works as documented.
const RETRY_TICK: Duration = Duration::from_secs(60);

impl Notifier {
    /// Runs until `token` is cancelled: a full [`pass`](Self::pass) every `every`; in between,
    /// due retries are [delivered](Self::deliver) every `min(every, 1 min)`. A replica that does
    /// not hold the notifier lease sends nothing and tries to take the lease every tick.
    /// Cancelling stops between two sends, never inside one.
    pub async fn run(&self, every: Duration, token: CancellationToken) {
        let tick = every.min(RETRY_TICK);
        let mut last_pass: Option<Instant> = None;
        let mut lease: Option<Lease> = None;
        while !token.is_cancelled() {
            if leading(&self.store, &mut lease).await {
                let now = OffsetDateTime::now_utc();
                let result = if last_pass.is_none_or(|t| t.elapsed() >= every) {
                    last_pass = Some(Instant::now());
                    self.pass(now, &token)
                        .await
                        .map(|r| (r.sent, r.failed, r.tickets_opened))
                } else {
                    self.deliver(now, &token).await.map(|(s, f)| (s, f, 0))
                };
                match result {
                    Ok((s, f, t)) if s + f + t > 0 => {
                        tracing::info!(sent = s, failed = f, tickets = t, "expiry watch");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "expiry watch pass failed"),
                }
            } else {
                // Whoever takes the lease next starts with a full pass.
                last_pass = None;
            }
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep(tick) => {}
            }
        }
    }
}

/// Whether this replica holds the notifier lease, taking it if it is free (see
/// `SqlStore::try_lead`). Logs when that changes.
async fn leading(store: &SqlStore, lease: &mut Option<Lease>) -> bool {
    if let Some(l) = lease.as_mut() {
        if l.held().await {
            return true;
        }
        *lease = None;
        tracing::warn!("expiry watch: lost the notifier lease (database connection lost); another replica may send now");
    }
    match store.try_lead().await {
        Ok(Some(l)) => {
            if store.backend() == Backend::Postgres {
                tracing::info!(
                    "expiry watch: this replica holds the notifier lease and sends the notices"
                );
            }
            *lease = Some(l);
            true
        }
        Ok(None) => false,
        Err(e) => {
            tracing::debug!(error = %e, "expiry watch: cannot reach the database for the notifier lease");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A real SQLite store with no namespaces: `run` stops when its token is cancelled, even
    /// with an hour to wait before the next pass.
    #[tokio::test]
    async fn run_stops_when_its_token_is_cancelled() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(
            SqlStore::open(&tmp.path().join("g.db"))
                .await
                .expect("store"),
        );
        let notifier = Notifier::new(store, crate::Config::default()).expect("notifier");
        let token = CancellationToken::new();
        let running = tokio::spawn({
            let token = token.clone();
            async move { notifier.run(Duration::from_secs(3600), token).await }
        });
        token.cancel();
        // A deadline that only catches a hang: the wait is an hour long.
        tokio::time::timeout(Duration::from_secs(30), running)
            .await
            .expect("run stopped")
            .expect("no panic");
    }
}

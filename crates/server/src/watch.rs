//! The expiry watch's settings, and its schedule until `Notifier::run` owns it.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_notify::Notifier;
use gatehouse_store::SqlStore;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::{DataDir, StartError};

/// Where expiry notices go, and how often the notifier looks.
#[derive(Clone)]
pub struct WatchConfig {
    /// A full pass every so often (15/10/5-day notices, tickets); due retries in between.
    pub every: Duration,
    pub smtp_url: Option<String>,
    pub smtp_from: String,
    pub webhook_urls: Vec<String>,
    /// The webhook signing key; `None` uses `<data-dir>/webhook.secret`, made on first use.
    pub webhook_secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for WatchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchConfig")
            .field("every", &self.every)
            .field(
                "smtp_url",
                &self.smtp_url.as_deref().map(gatehouse_notify::redact_url),
            )
            .field("smtp_from", &self.smtp_from)
            .field(
                "webhook_urls",
                &self
                    .webhook_urls
                    .iter()
                    .map(|u| gatehouse_notify::redact_url(u))
                    .collect::<Vec<_>>(),
            )
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "[elided]"),
            )
            .finish()
    }
}

impl WatchConfig {
    /// The notifier's settings, reading (or making) the data dir's webhook secret when webhooks
    /// are configured without one.
    pub fn notifier_config(
        &self,
        data_dir: &DataDir,
    ) -> Result<gatehouse_notify::Config, StartError> {
        let webhook_secret = match (&self.webhook_secret, self.webhook_urls.is_empty()) {
            (Some(s), _) => s.clone(),
            (None, true) => Vec::new(),
            (None, false) => crate::secrets::webhook_secret(data_dir)?,
        };
        Ok(gatehouse_notify::Config {
            smtp_url: self.smtp_url.clone(),
            smtp_from: Some(self.smtp_from.clone()),
            webhook_urls: self.webhook_urls.clone(),
            webhook_secret,
        })
    }

    /// A notifier over `store` with these settings.
    pub fn notifier(
        &self,
        data_dir: &DataDir,
        store: Arc<SqlStore>,
    ) -> Result<Notifier, StartError> {
        Notifier::new(store, self.notifier_config(data_dir)?)
            .map_err(|e| StartError::input(e.to_string()))
    }
}

/// A full pass every `every`; in between, due retries are delivered every minute, so backoff
/// works as documented. With several replicas on PostgreSQL, one holds the notifier lease and
/// sends; the others try to take it every tick.
pub(crate) async fn run(
    notifier: Notifier,
    store: Arc<SqlStore>,
    every: Duration,
    token: CancellationToken,
) {
    // Delivery checks this between two sends: a send in progress finishes and is recorded, so a
    // restart does not repeat it.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn({
        let (stop, token) = (stop.clone(), token.clone());
        async move {
            token.cancelled().await;
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let tick = every.min(Duration::from_secs(60));
    let mut last_pass: Option<std::time::Instant> = None;
    let mut lease: Option<gatehouse_store::Lease> = None;
    while !token.is_cancelled() {
        if leading(&store, &mut lease).await {
            let now = OffsetDateTime::now_utc();
            let result = if last_pass.is_none_or(|t| t.elapsed() >= every) {
                last_pass = Some(std::time::Instant::now());
                notifier
                    .pass(now, &stop)
                    .await
                    .map(|r| (r.sent, r.failed, r.tickets_opened))
            } else {
                notifier.deliver(now, &stop).await.map(|(s, f)| (s, f, 0))
            };
            match result {
                Ok((s, f, t)) if s + f + t > 0 => {
                    tracing::info!(sent = s, failed = f, tickets = t, "expiry watch");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "expiry watch pass failed"),
            }
        } else {
            last_pass = None;
        }
        tokio::select! {
            () = token.cancelled() => break,
            () = tokio::time::sleep(tick) => {}
        }
    }
}

/// Whether this replica holds the notifier lease, taking it if it is free (see
/// `SqlStore::try_lead`). Logs when that changes.
async fn leading(store: &SqlStore, lease: &mut Option<gatehouse_store::Lease>) -> bool {
    if let Some(l) = lease.as_mut() {
        if l.held().await {
            return true;
        }
        *lease = None;
        tracing::warn!("expiry watch: lost the notifier lease (database connection lost); another replica may send now");
    }
    match store.try_lead().await {
        Ok(Some(l)) => {
            if store.backend() == gatehouse_store::Backend::Postgres {
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

//! The expiry watch's settings, and its schedule until `Notifier::run` owns it.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_notify::Notifier;
use gatehouse_store::SqlStore;

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
                &gatehouse_notify::redact_urls(&self.webhook_urls),
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

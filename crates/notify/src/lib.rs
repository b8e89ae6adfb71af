//! Gatehouse expiry watch.
//!
//! A pass plans what is due ([`plan()`]), queues it in the store (each namespace, certificate,
//! threshold, channel and recipient once), cancels what is no longer needed (the certificate
//! left the bundle), then delivers what is due: SMTP mail and signed webhooks. A failed send
//! stays queued and is retried with backoff; claims are leased, so a restart, a second pass or a
//! second notifier never sends twice.

mod plan;
mod schedule;

use std::sync::Arc;

use gatehouse_pki::Backoff;
use gatehouse_store::{Notification, SqlStore, StoreError};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use time::{Duration, OffsetDateTime};
use tokio_util::sync::CancellationToken;

pub use plan::{
    ca_threshold, days_left, expirations, namespace_admins, plan, recipients, Channels,
    ExpiryEntry, Plan, LEAF_SEEN_WINDOW,
};

/// How long a claimed notification is reserved for the notifier that claimed it.
pub const LEASE: Duration = Duration::minutes(5);

/// Why a pass failed as a whole (individual send failures are retried, not errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("SMTP configuration: {0}")]
    Smtp(String),
    #[error("webhook configuration: {0}")]
    Webhook(String),
    #[error("expiry watch: {0}")]
    Random(#[from] gatehouse_pki::RandomError),
}

/// Where notices go.
#[derive(Clone, Default)]
pub struct Config {
    /// `smtp://host:port`, `smtps://…`, with `user:pass@` and `?tls=required` for STARTTLS
    /// (lettre's URL format).
    pub smtp_url: Option<String>,
    pub smtp_from: Option<String>,
    pub webhook_urls: Vec<String>,
    /// Key for the `X-Gatehouse-Signature: sha256=<HMAC>` header.
    pub webhook_secret: Vec<u8>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("smtp_from", &self.smtp_from)
            .field("webhook_urls", &redact_urls(&self.webhook_urls))
            .field("webhook_secret", &"[elided]")
            .finish()
    }
}

/// A URL without credentials, query or fragment (webhook URLs carry tokens).
pub use gatehouse_store::redact_url;

/// Each URL as [`redact_url`] shows it, for `Debug` output of settings.
pub fn redact_urls(urls: &[String]) -> Vec<String> {
    urls.iter().map(|u| redact_url(u)).collect()
}

/// What a pass did.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassReport {
    pub planned: usize,
    pub tickets_opened: usize,
    pub cancelled: u64,
    pub sent: usize,
    pub failed: usize,
}

/// The notifier.
pub struct Notifier {
    store: Arc<SqlStore>,
    config: Config,
    mailer: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn claim_token() -> Result<String, NotifyError> {
    Ok(gatehouse_pki::random_hex(16)?)
}

/// `sha256=<hex HMAC-SHA256 of body>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, body);
    format!("sha256={}", gatehouse_pki::hex(tag.as_ref()))
}

impl Notifier {
    pub fn new(store: Arc<SqlStore>, config: Config) -> Result<Self, NotifyError> {
        let mailer = match &config.smtp_url {
            None => None,
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| NotifyError::Smtp(format!("--smtp-url: {e}")))?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build();
                let from = config
                    .smtp_from
                    .as_deref()
                    .unwrap_or("gatehouse@localhost")
                    .parse::<Mailbox>()
                    .map_err(|e| NotifyError::Smtp(format!("--smtp-from: {e}")))?;
                Some((transport, from))
            }
        };
        for url in &config.webhook_urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(NotifyError::Webhook(format!(
                    "{url:?} is not an http(s) URL"
                )));
            }
        }
        if !config.webhook_urls.is_empty() && config.webhook_secret.is_empty() {
            return Err(NotifyError::Webhook(
                "a webhook secret is required to sign deliveries".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|e| NotifyError::Webhook(e.to_string()))?;
        Ok(Self {
            store,
            config,
            mailer,
            http,
        })
    }

    fn channels(&self) -> Channels {
        Channels {
            email: self.mailer.is_some(),
            webhooks: self.config.webhook_urls.clone(),
        }
    }

    /// What a pass at `now` would queue and open, without queuing, opening or sending anything
    /// (`gatehouse expirations check --dry-run`).
    pub async fn dry_run(&self, now: OffsetDateTime) -> Result<Plan, NotifyError> {
        let namespaces = self.store.list_namespaces().await?;
        let users = self.store.list_users().await?;
        let leaves = self
            .store
            .observed_leaves(now - LEAF_SEEN_WINDOW, None)
            .await?;
        Ok(plan(&namespaces, &users, &leaves, &self.channels(), now))
    }

    /// One pass: plan, queue, cancel, deliver. Cancelling `stop` ends delivery between two
    /// sends (a send in progress finishes and is recorded, so a restart does not repeat it).
    pub async fn pass(
        &self,
        now: OffsetDateTime,
        stop: &CancellationToken,
    ) -> Result<PassReport, NotifyError> {
        let planned = self.dry_run(now).await?;
        let opened = self
            .store
            .enqueue(&planned.notifications, &planned.tickets, now)
            .await?;
        for t in &opened {
            tracing::warn!(namespace = %t.namespace, fingerprint = %t.fingerprint, ticket = t.id, "ticket opened: CA certificate within 5 days of expiry");
        }
        let cancelled = self.cancel_unplanned(&planned.notifications).await?;
        let mut report = PassReport {
            planned: planned.notifications.len(),
            tickets_opened: opened.len(),
            cancelled,
            ..PassReport::default()
        };
        let (sent, failed) = self.deliver(now, stop).await?;
        report.sent = sent;
        report.failed = failed;
        Ok(report)
    }

    /// Cancels pending notices this notifier's plan no longer calls for — the certificate left
    /// its bundle ("only if still necessary"), the recipient lost their role on the namespace,
    /// or a later threshold superseded it. Only channels this notifier serves are touched, so a
    /// notifier without SMTP never cancels another's pending emails.
    async fn cancel_unplanned(
        &self,
        planned: &[gatehouse_store::NewNotification],
    ) -> Result<u64, NotifyError> {
        let serves = |n: &Notification| match n.item.channel.as_str() {
            "email" => self.mailer.is_some(),
            "webhook" => self.config.webhook_urls.contains(&n.item.recipient),
            _ => false,
        };
        let doomed: Vec<i64> = self
            .store
            .list_notifications()
            .await?
            .into_iter()
            .filter(|n| {
                let wanted = planned.iter().any(|p| {
                    p.namespace == n.item.namespace
                        && p.fingerprint == n.item.fingerprint
                        && p.threshold == n.item.threshold
                        && p.channel == n.item.channel
                        && p.recipient == n.item.recipient
                });
                n.status == "pending" && serves(n) && !wanted
            })
            .map(|n| n.id)
            .collect();
        Ok(self.store.cancel_pending(&doomed).await?)
    }

    /// Sends every notification due at `due_at`; returns (sent, failed). Claims are leased by
    /// the wall clock from the moment each send starts, and completed only by their holder.
    pub async fn deliver(
        &self,
        due_at: OffsetDateTime,
        stop: &CancellationToken,
    ) -> Result<(usize, usize), NotifyError> {
        let (mut sent, mut failed) = (0, 0);
        let token = claim_token()?;
        let serves = |channel: &str, recipient: &str| match channel {
            "email" => self.mailer.is_some(),
            "webhook" => self.config.webhook_urls.iter().any(|u| u == recipient),
            _ => false,
        };
        while !stop.is_cancelled() {
            let Some(n) = self
                .store
                .claim_next(due_at, OffsetDateTime::now_utc(), LEASE, &token, &serves)
                .await?
            else {
                break;
            };
            let shown = if n.item.channel == "webhook" {
                redact_url(&n.item.recipient)
            } else {
                n.item.recipient.clone()
            };
            match self.send(&n).await {
                Ok(()) => {
                    if self
                        .store
                        .mark_sent(n.id, &token, OffsetDateTime::now_utc())
                        .await?
                    {
                        tracing::info!(id = n.id, channel = %n.item.channel, recipient = %shown, namespace = %n.item.namespace, threshold = %n.item.threshold, "notification sent");
                        sent += 1;
                    }
                }
                Err(e) => {
                    let failures = u32::try_from(n.attempts.max(0)).unwrap_or(u32::MAX);
                    let retry_at = due_at + Backoff::RETRY.delay(failures);
                    self.store.mark_failed(n.id, &token, &e, retry_at).await?;
                    tracing::warn!(id = n.id, channel = %n.item.channel, recipient = %shown, error = %e, retry_at = %gatehouse_pki::rfc3339(retry_at), "notification failed; will retry");
                    failed += 1;
                }
            }
        }
        Ok((sent, failed))
    }

    async fn send(&self, n: &Notification) -> Result<(), String> {
        match n.item.channel.as_str() {
            "email" => {
                let (mailer, from) = self
                    .mailer
                    .as_ref()
                    .ok_or("SMTP is not configured (--smtp-url)")?;
                let to: Mailbox = n
                    .item
                    .recipient
                    .parse()
                    .map_err(|e| format!("recipient {:?}: {e}", n.item.recipient))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(
                        n.item.payload["subject"]
                            .as_str()
                            .unwrap_or("[Gatehouse] certificate expiry"),
                    )
                    .body(
                        n.item.payload["body"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                    .map_err(|e| e.to_string())?;
                mailer
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            "webhook" => {
                let mut event = n.item.payload.clone();
                if n.item.threshold == "5d" {
                    if let Ok(tickets) = self.store.list_tickets().await {
                        if let Some(t) = tickets.iter().find(|t| {
                            t.namespace == n.item.namespace && t.fingerprint == n.item.fingerprint
                        }) {
                            event["ticket"] = serde_json::to_value(t).unwrap_or_default();
                        }
                    }
                }
                event["deliveryId"] = serde_json::json!(n.id);
                let body = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
                let resp = self
                    .http
                    .post(&n.item.recipient)
                    .header("Content-Type", "application/json")
                    .header(
                        "X-Gatehouse-Signature",
                        signature(&self.config.webhook_secret, &body),
                    )
                    .header("X-Gatehouse-Delivery", n.id.to_string())
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("webhook answered {}", resp.status()))
                }
            }
            other => Err(format!("unknown channel {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn urls_are_redacted_for_logs() {
        assert_eq!(
            redact_url("https://bob:pw@hooks.acme.io/x?token=t"),
            "https://hooks.acme.io/x"
        );
        assert_eq!(redact_url("smtp://user:pw@mail:25"), "smtp://mail:25");
        assert_eq!(redact_url("http://h/p"), "http://h/p");
    }
}

//! What the gateways saw (usage per CA and client certificate), tickets and the expiry report,
//! as each role may see them.

use gatehouse_notify::ExpiryEntry;
use gatehouse_pki::{parse_certificates, ValidityPeriod};
use gatehouse_store::{ObservedLeaf, Ticket};
use time::{Duration, OffsetDateTime};

use super::error::ControlError;
use super::{Caller, Control};

/// How long a gateway instance's open-connection counts stay current without a new flush.
pub const USAGE_FRESH: Duration = Duration::seconds(30);

/// What one CA saw through the gateways.
#[derive(Clone, Debug, Default)]
pub struct CaTraffic {
    /// The CA's SHA-256 fingerprint (hex).
    pub sha256: String,
    /// Its subject while it is in the bundle; `None` for a CA that traffic used but the bundle
    /// no longer holds.
    pub subject: Option<String>,
    pub last_handshake: Option<OffsetDateTime>,
    pub last_seen: Option<OffsetDateTime>,
    pub handshakes: i64,
    pub requests: i64,
    /// Open connections, from gateway instances that flushed within [`USAGE_FRESH`].
    pub open_connections: i64,
}

impl CaTraffic {
    pub fn in_bundle(&self) -> bool {
        self.subject.is_some()
    }

    /// Used in the last hour, or still connected: removing the CA would cut someone off.
    pub fn recently_used(&self, now: OffsetDateTime) -> bool {
        self.open_connections > 0 || self.last_seen.is_some_and(|t| t > now - Duration::hours(1))
    }
}

/// A namespace's usage: every CA of its bundle (in bundle order), then any CA that traffic used
/// but the bundle no longer holds; and every client leaf seen.
#[derive(Clone, Debug)]
pub struct NamespaceUsage {
    pub namespace: String,
    pub cas: Vec<CaTraffic>,
    pub leaves: Vec<ObservedLeaf>,
}

impl Control {
    /// What answers "has traffic on the old CA stopped?" during a rotation.
    pub async fn usage(&self, caller: &Caller, name: &str) -> Result<NamespaceUsage, ControlError> {
        let ns = self.namespace(caller, name).await?;
        let now = self.now();
        let leaves = self
            .store
            .observed_leaves(OffsetDateTime::UNIX_EPOCH, Some(name))
            .await?;
        let open = self.store.open_connections(name, now - USAGE_FRESH).await?;
        let mut order: Vec<(String, Option<String>)> =
            parse_certificates(ns.spec.accepted_client_ca.as_bytes(), "bundle")
                .unwrap_or_default()
                .iter()
                .map(|c| (c.fingerprint.to_string(), Some(c.subject.clone())))
                .collect();
        for l in &leaves {
            if !order.iter().any(|(fp, _)| *fp == l.ca_fingerprint) {
                order.push((l.ca_fingerprint.clone(), None));
            }
        }
        let cas = order
            .into_iter()
            .map(|(sha256, subject)| {
                let mine = leaves.iter().filter(|l| l.ca_fingerprint == sha256);
                CaTraffic {
                    last_handshake: mine.clone().filter_map(|l| l.last_handshake).max(),
                    last_seen: mine.clone().map(|l| l.last_seen).max(),
                    handshakes: mine.clone().map(|l| l.connections).sum(),
                    requests: mine.map(|l| l.requests).sum(),
                    open_connections: open
                        .iter()
                        .filter(|(ca, _)| *ca == sha256)
                        .map(|(_, n)| n)
                        .sum(),
                    sha256,
                    subject,
                }
            })
            .collect();
        Ok(NamespaceUsage {
            namespace: name.to_owned(),
            cas,
            leaves,
        })
    }

    /// Client leaves seen since `since` in the namespaces the caller may read.
    pub async fn observed_leaves(
        &self,
        caller: &Caller,
        since: OffsetDateTime,
    ) -> Result<Vec<ObservedLeaf>, ControlError> {
        let leaves = self.store.observed_leaves(since, None).await?;
        Ok(caller.readable(leaves, |l| l.namespace.as_str()))
    }

    /// Expiry tickets of the namespaces the caller may read.
    pub async fn tickets(&self, caller: &Caller) -> Result<Vec<Ticket>, ControlError> {
        let tickets = self.store.list_tickets().await?;
        Ok(caller.readable(tickets, |t| t.namespace.as_str()))
    }

    /// Every CA and recently seen client certificate expiring within `within` (tcld's duration
    /// grammar; all when `None`), soonest first, with the time it was computed at.
    pub async fn expirations(
        &self,
        caller: &Caller,
        within: Option<&str>,
    ) -> Result<(OffsetDateTime, Vec<ExpiryEntry>), ControlError> {
        let within = within
            .map(|w| {
                ValidityPeriod::parse(w)
                    .map(ValidityPeriod::to_duration)
                    .map_err(|e| ControlError::invalid(format!("within: {e}")))
            })
            .transpose()?;
        let now = self.now();
        let namespaces = self.list_namespaces(caller).await?;
        let leaves = self
            .observed_leaves(caller, OffsetDateTime::UNIX_EPOCH)
            .await?;
        Ok((
            now,
            gatehouse_notify::expirations(&namespaces, &leaves, now, within),
        ))
    }
}

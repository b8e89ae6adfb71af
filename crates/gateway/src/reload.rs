//! Hot reload: namespace changes are read from the store's change log (woken by its
//! notifications, and polled) and swapped into the registry; open connections are verified
//! again against the state that replaced theirs.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gatehouse_pki::CertificateInfo;
use gatehouse_policy::{CaBundle, CertificateFilters, Permissions};
use gatehouse_store::{Namespace, SqlStore};
use time::OffsetDateTime;
use tokio::sync::{watch, Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::tls::{NamespacePolicy, Registry};

/// Keeps the registry in step with the store.
#[derive(Debug)]
pub(crate) struct Reloader {
    store: Arc<SqlStore>,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    /// Bumped after every change applied, so connections look at their namespace again.
    generation: watch::Sender<u64>,
    /// The last audit event applied.
    position: AtomicI64,
    /// Serializes reloads (the poll loop and [`Reloader::apply_changes`]).
    lock: Mutex<()>,
}

fn policy_of(ns: &Namespace) -> Result<NamespacePolicy, String> {
    let bundle = CaBundle::from_pem(
        ns.spec.accepted_client_ca.as_bytes(),
        "accepted client CA bundle",
    )
    .map_err(|e| e.to_string())?;
    let filters =
        CertificateFilters::new(ns.spec.certificate_filters.clone()).map_err(|e| e.to_string())?;
    Ok(NamespacePolicy {
        name: Arc::from(ns.name.as_str()),
        bundle,
        filters,
    })
}

impl Reloader {
    /// Loads every namespace from the store into `registry`.
    pub(crate) async fn load(
        store: Arc<SqlStore>,
        registry: Arc<Registry>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, GatewayError> {
        let reloader = Self {
            store,
            registry,
            metrics,
            generation: watch::Sender::new(0),
            position: AtomicI64::new(0),
            lock: Mutex::new(()),
        };
        // The change-log position first: a change made during the load is applied again.
        let position = reloader.last_audit_id().await?;
        reloader.reload_all().await?;
        reloader.position.store(position, Ordering::SeqCst);
        Ok(reloader)
    }

    /// Changes whenever a reload was applied.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    async fn reload_all(&self) -> Result<(), GatewayError> {
        let mut policies = Vec::new();
        for ns in self.store.list_namespaces().await? {
            match policy_of(&ns) {
                Ok(p) => policies.push(p),
                Err(e) => {
                    tracing::error!(namespace = %ns.name, error = %e, "namespace not served: its stored bundle or filters do not load")
                }
            }
        }
        let n = policies.len();
        self.registry.replace_all(policies)?;
        self.generation.send_modify(|g| *g += 1);
        tracing::info!(namespaces = n, "gateway loaded namespaces");
        Ok(())
    }

    async fn last_audit_id(&self) -> Result<i64, GatewayError> {
        Ok(self.store.namespace_changes_since(0).await?.0)
    }

    /// Applies every namespace change committed so far.
    pub(crate) async fn apply_changes(&self) {
        let _serial = self.lock.lock().await;
        let position = self.position.load(Ordering::SeqCst);
        match self.reload_changed(position).await {
            Ok(p) => {
                self.position.store(p, Ordering::SeqCst);
                if !self.metrics.store_reached(true) {
                    tracing::info!("the store is reachable again: caught up with every change");
                }
            }
            Err(e) => {
                if self.metrics.store_reached(false) {
                    tracing::error!(error = %e, "cannot read changes from the store: serving the last configuration loaded until it is back (gatehouse_gateway_store_up 0)");
                } else {
                    tracing::debug!(error = %e, "the store is still unreachable");
                }
            }
        }
    }

    /// Applies the namespaces changed since audit event `after`; returns the new position.
    async fn reload_changed(&self, after: i64) -> Result<i64, GatewayError> {
        let (position, names) = self.store.namespace_changes_since(after).await?;
        if names.is_empty() {
            return Ok(position.max(after));
        }
        let mut changes = Vec::with_capacity(names.len());
        for name in names {
            let policy = match self.store.get_namespace(&name).await? {
                Some(ns) => match policy_of(&ns) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::error!(namespace = %name, error = %e, "namespace no longer served: its stored bundle or filters do not load");
                        None
                    }
                },
                None => None,
            };
            tracing::info!(namespace = %name, removed = policy.is_none(), "namespace reloaded");
            changes.push((name, policy));
        }
        self.registry.apply(changes)?;
        self.generation.send_modify(|g| *g += 1);
        Ok(position)
    }

    /// Applies changes when the store says one committed (PostgreSQL's NOTIFY), and polls as
    /// well: every `interval` without a feed, every second with one (a missed notification
    /// is then found within a second). Returns once `stop` is cancelled.
    pub(crate) async fn run(self: Arc<Self>, interval: Duration, stop: CancellationToken) {
        let wake = Arc::new(Notify::new());
        let fed = self.store.watch_changes(Arc::downgrade(&wake)).await;
        let every = if fed {
            interval.max(Duration::from_secs(1))
        } else {
            interval
        };
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
                () = wake.notified() => {}
            }
            self.apply_changes().await;
        }
    }
}

/// Verifies an open connection's `chain` again against the namespace as it is now: the
/// permissions it grants today, or why it would no longer admit the connection.
pub(crate) fn reverify(
    registry: &Registry,
    namespace: &str,
    chain: &[CertificateInfo],
) -> Result<Permissions, String> {
    let Some(endpoint) = registry.get(namespace) else {
        return Err(format!("namespace {namespace:?} is no longer served"));
    };
    endpoint
        .policy
        .verify(chain, OffsetDateTime::now_utc())
        .map(|v| v.permissions)
        .map_err(|r| format!("{}: {}", r.reason.rule.id(), r.reason.message))
}

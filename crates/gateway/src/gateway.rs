//! The gateway as its callers hold it: built from its settings and the store, it owns the
//! registry, what connections share, CA usage and the reloader. `Gateway::serve` (the accept
//! loop) is in `server.rs`.

use std::sync::Arc;

use gatehouse_store::SqlStore;

use crate::config::Config;
use crate::error::GatewayError;
use crate::jwt;
use crate::metrics::Metrics;
use crate::reload::Reloader;
use crate::shared::Shared;
use crate::tls::{Identity, Registry};
use crate::usage::Usage;

/// The gateway: registry, shared state, and its background loops.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) shared: Arc<Shared>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) usage: Arc<Usage>,
    /// Where usage is flushed.
    pub(crate) store: Arc<SqlStore>,
    pub(crate) reloader: Arc<Reloader>,
}

impl Gateway {
    /// Builds the gateway and loads every namespace from the store.
    pub async fn new(
        config: Config,
        identity: Identity,
        store: Arc<SqlStore>,
    ) -> Result<Arc<Self>, GatewayError> {
        let metrics = Arc::new(Metrics::default());
        let registry = Arc::new(Registry::new(&config.domain, identity, metrics.clone())?);
        let shared = Arc::new(Shared::new(config, metrics.clone())?);
        let reloader = Reloader::load(store.clone(), registry.clone(), metrics).await?;
        Ok(Arc::new(Self {
            shared,
            registry,
            usage: Arc::default(),
            store,
            reloader: Arc::new(reloader),
        }))
    }

    /// The gateway's metrics (for `/metrics`).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    /// The JWKS of the upstream JWT signing keys (with `--upstream-jwt`).
    pub fn jwks(&self) -> Option<serde_json::Value> {
        self.shared.minter.as_ref().map(jwt::Minter::jwks)
    }

    /// The handshake registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Applies every namespace change committed so far, now (the API in this process calls it
    /// after each namespace write, before answering).
    pub async fn apply_changes(&self) {
        self.reloader.apply_changes().await;
    }
}

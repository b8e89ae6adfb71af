//! What every connection and call shares: the settings, the metrics, the upstream client,
//! the buffer budget and the JWT minter.

use std::sync::Arc;

use http::Uri;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::error::GatewayError;
use crate::jwt::Minter;
use crate::metrics::Metrics;
use crate::upstream::{self, Client};

/// What all connections together may hold of partly received request messages.
const BUFFER_BUDGET_BYTES: usize = 256 * 1024 * 1024;

/// What connections and requests share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) client: Client,
    pub(crate) upstream_base: Uri,
    /// Bytes of partly received request messages the whole gateway may hold.
    pub(crate) budget: Arc<Semaphore>,
    /// Mints upstream JWTs (`--upstream-jwt`).
    pub(crate) minter: Option<Minter>,
}

impl Shared {
    /// Builds the upstream client, the buffer budget and (with `--upstream-jwt`) the minter.
    pub(crate) fn new(config: Config, metrics: Arc<Metrics>) -> Result<Self, GatewayError> {
        let (client, upstream_base) = upstream::client(&config)?;
        let budget = Arc::new(Semaphore::new(
            BUFFER_BUDGET_BYTES.max(2 * config.max_message_bytes),
        ));
        let minter = if config.upstream_jwt {
            Some(
                Minter::new("gatehouse", config.jwt_key_file.clone())
                    .map_err(|e| GatewayError::Upstream(config.upstream.clone(), e))?,
            )
        } else {
            None
        };
        Ok(Self {
            config,
            metrics,
            client,
            upstream_base,
            budget,
            minter,
        })
    }
}

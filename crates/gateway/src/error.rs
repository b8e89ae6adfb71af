//! Why the gateway could not start.

/// Errors starting the gateway.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("store: {0}")]
    Store(#[from] gatehouse_store::StoreError),
    #[error("--upstream {0:?}: {1}")]
    Upstream(String, String),
}

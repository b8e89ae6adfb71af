//! The gateway's settings, as the composition root builds them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_pki::CertificateAuthority;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::limits::Limits;

/// The mTLS settings for a TLS upstream.
#[derive(Debug)]
pub struct UpstreamTls {
    /// CA certificates that sign the upstream's server certificate (PEM).
    pub ca: Vec<CertificateDer<'static>>,
    /// The gateway's client certificate and key, if the upstream requires mTLS.
    pub client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    /// The name to verify (and send as SNI); default: the upstream's host.
    pub server_name: Option<String>,
}

/// Gateway settings.
#[derive(Debug)]
pub struct Config {
    /// SNI is `<namespace>.<domain>`.
    pub domain: String,
    /// The Temporal frontend, `host:port`.
    pub upstream: String,
    pub upstream_tls: Option<UpstreamTls>,
    /// Largest request message accepted (after decompression).
    pub max_message_bytes: usize,
    /// How often the store is polled for bundle and filter changes.
    pub reload_interval: Duration,
    /// How often usage is flushed to the store.
    pub usage_flush_interval: Duration,
    /// This gateway instance's name in the usage table.
    pub instance: String,
    /// Send each connection's roles upstream as a JWT (Temporal's default claim mapper).
    pub upstream_jwt: bool,
    /// Where the JWT signing keys are kept (shared by gateways on one data dir).
    pub jwt_key_file: Option<PathBuf>,
    /// Namespaces whose clients may renew their certificates here, with the CA that signs.
    pub renewal_cas: Vec<(String, Arc<CertificateAuthority>)>,
    /// Connection, handshake and HTTP/2 limits.
    pub limits: Limits,
}

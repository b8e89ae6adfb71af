//! The pooled HTTP/2 client to the Temporal frontend: plain, or TLS with the upstream's CA and
//! optionally the gateway's own client certificate.

use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::Config;
use crate::error::GatewayError;
use crate::request_body::CheckedBody;

/// The client every connection's calls share.
pub(crate) type Client =
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, CheckedBody>;

/// The pooled HTTP/2 client to the upstream, and the base URI requests are sent to.
pub(crate) fn client(config: &Config) -> Result<(Client, Uri), GatewayError> {
    let bad = |why: String| GatewayError::Upstream(config.upstream.clone(), why);
    let scheme = if config.upstream_tls.is_some() {
        "https"
    } else {
        "http"
    };
    let base: Uri = format!("{scheme}://{}/", config.upstream)
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(e.to_string()))?;
    if base.port_u16().is_none() {
        return Err(bad("give host:port".into()));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let connector = match &config.upstream_tls {
        None => {
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            let mut http = HttpConnector::new();
            http.set_nodelay(true);
            http.enforce_http(false);
            builder
                .with_tls_config(tls)
                .https_or_http()
                .enable_http2()
                .wrap_connector(http)
        }
        Some(t) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in &t.ca {
                roots
                    .add(c.clone())
                    .map_err(|e| bad(format!("--upstream-ca: {e}")))?;
            }
            let b = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots);
            // ALPN h2 is set by the connector builder (it refuses a config that has one).
            let tls = match &t.client {
                Some((chain, key)) => b.with_client_auth_cert(chain.clone(), key.clone_key())?,
                None => b.with_no_client_auth(),
            };
            let mut http = HttpConnector::new();
            http.set_nodelay(true);
            http.enforce_http(false);
            let b = builder.with_tls_config(tls).https_only();
            let b = match &t.server_name {
                Some(name) => {
                    let name = rustls::pki_types::ServerName::try_from(name.clone())
                        .map_err(|e| bad(format!("--upstream-server-name: {e}")))?;
                    b.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
                }
                None => b,
            };
            b.enable_http2().wrap_connector(http)
        }
    };
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .http2_only(true)
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .http2_keep_alive_interval(Some(Duration::from_secs(30)))
        .http2_keep_alive_while_idle(true)
        .build(connector);
    Ok((client, base))
}

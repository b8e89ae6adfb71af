//! The mTLS gateway as a server: its identity, its listener, and the small HTTP routes it
//! brings (JWKS, metrics).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_gateway::{Config, Gateway, Identity};
use gatehouse_pki::{
    read_input_file, write_files, CaParams, CertificateAuthority, CertificateInfo, FileKind,
    KeyAlgorithm, OutputFile, PrivateKey, ValidityPeriod,
};
use gatehouse_store::SqlStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::listen::bind;
use crate::{DataDir, StartError};

/// How long connections are given to finish their calls when the gateway stops.
pub const DRAIN: Duration = Duration::from_secs(30);

/// Where the gateway's server certificate comes from.
#[derive(Debug)]
pub enum ServerIdentity {
    /// One chain and key for every namespace (`--gateway-cert/--gateway-key`).
    Fixed {
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    },
    /// The data dir's gateway CA (made on first start) issues each `<namespace>.<domain>` its
    /// own certificate.
    GatewayCa,
}

/// A gateway to start: where it listens, how it proxies, and its server identity.
#[derive(Debug)]
pub struct GatewayServerConfig {
    pub listen: SocketAddr,
    pub gateway: Config,
    pub identity: ServerIdentity,
}

/// A gateway accepting connections until its token is cancelled.
#[derive(Debug)]
pub struct GatewayServer {
    pub gateway: Arc<Gateway>,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl GatewayServer {
    /// Binds the listener and serves on it; connections are drained for [`DRAIN`] once
    /// `token` is cancelled.
    pub async fn start(
        config: GatewayServerConfig,
        data_dir: &DataDir,
        store: Arc<SqlStore>,
        token: CancellationToken,
    ) -> Result<Self, StartError> {
        let identity = match config.identity {
            ServerIdentity::Fixed { chain, key } => Identity::Fixed { chain, key },
            ServerIdentity::GatewayCa => {
                let (ca, path) = gateway_ca(data_dir)?;
                tracing::info!(
                    ca = %path.display(),
                    "gateway server certificates are issued by the gateway CA: give clients --tls-ca-path {}",
                    path.display()
                );
                Identity::Issuing(Box::new(ca))
            }
        };
        let domain = config.gateway.domain.clone();
        let upstream = config.gateway.upstream.clone();
        let gateway = Gateway::new(config.gateway, identity, store)
            .await
            .map_err(|e| StartError::input(e.to_string()))?;
        let (listener, addr) = bind(config.listen, "--gateway-listen").await?;
        tracing::info!(gateway = %addr, sni = %format!("<namespace>.{domain}"), upstream = %upstream, "gateway serving");
        let task = tokio::spawn(gateway.clone().serve(listener, token, DRAIN));
        Ok(Self {
            gateway,
            addr,
            task,
        })
    }

    /// Waits until every connection has finished (after the token was cancelled).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }

    /// `/.well-known/jwks.json` when the gateway signs upstream JWTs (an empty router
    /// otherwise).
    pub fn jwks_route<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        let router = axum::Router::new();
        if self.gateway.jwks().is_none() {
            return router;
        }
        let g = self.gateway.clone();
        router.route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let g = g.clone();
                async move { axum::Json(g.jwks().unwrap_or_default()) }
            }),
        )
    }

    /// The gateway's own HTTP listener (`gatehouse gateway --metrics-listen`): `/metrics` and
    /// the JWKS, unauthenticated.
    pub async fn serve_metrics(
        &self,
        addr: SocketAddr,
        token: CancellationToken,
    ) -> Result<SocketAddr, StartError> {
        let (listener, local) = bind(addr, "--metrics-listen").await?;
        let metrics = self.gateway.metrics();
        let app = self.jwks_route().route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = metrics.clone();
                async move {
                    let mut out = String::new();
                    metrics.render(&mut out, &|_: &str| true);
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        out,
                    )
                }
            }),
        );
        tracing::info!(metrics = %format!("http://{local}/metrics"), "gateway metrics serving");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await;
        });
        Ok(local)
    }
}

/// The gateway CA in the data dir, generated (once) if absent.
fn gateway_ca(
    data_dir: &DataDir,
) -> Result<(CertificateAuthority, std::path::PathBuf), StartError> {
    let (cert_path, key_path) = data_dir.gateway_ca();
    let now = OffsetDateTime::now_utc();
    if !cert_path.exists() && !key_path.exists() {
        let issued = CaParams {
            organization: "Gatehouse".into(),
            common_name: Some(format!("Gatehouse gateway CA {}", now.unix_timestamp())),
            validity: ValidityPeriod::parse("365d")
                .map_err(|e| StartError::internal(e.to_string()))?,
            algorithm: KeyAlgorithm::EcdsaP384,
            now,
        }
        .self_signed()?;
        let key = issued
            .key
            .as_ref()
            .ok_or_else(|| StartError::internal("CA generated without a key"))?;
        write_files(
            &[
                OutputFile {
                    path: &key_path,
                    contents: key.to_pkcs8_pem().as_bytes(),
                    kind: FileKind::PrivateKey,
                },
                OutputFile {
                    path: &cert_path,
                    contents: issued.pem.as_bytes(),
                    kind: FileKind::Public,
                },
            ],
            &[],
            false,
        )?;
        tracing::info!(ca = %cert_path.display(), "generated the gateway CA");
    }
    let input = |e: &dyn std::fmt::Display| StartError::input(e.to_string());
    let cert = read_input_file(&cert_path).map_err(|e| input(&e))?;
    let info = gatehouse_pki::parse_certificates(&cert, &cert_path.display().to_string())
        .map_err(|e| input(&e))?
        .into_iter()
        .next()
        .ok_or_else(|| StartError::input(format!("{}: empty", cert_path.display())))?;
    let key_pem = read_input_file(&key_path).map_err(|e| input(&e))?;
    let key = PrivateKey::from_pem(&key_pem)
        .map_err(|e| StartError::input(format!("{}: {e}", key_path.display())))?;
    warn_expiry(&info, &cert_path, now);
    let ca = CertificateAuthority::new(info, key, now).map_err(|e| input(&e))?;
    Ok((ca, cert_path))
}

/// A warning when a CA the gateway signs with has under 30 days left.
pub fn warn_expiry(info: &CertificateInfo, path: &std::path::Path, now: OffsetDateTime) {
    let left = info.not_after - now;
    if left < time::Duration::days(30) {
        tracing::warn!(ca = %path.display(), days_left = left.whole_days(), "the gateway CA expires soon; replace it (and give clients the new one) or pass --gateway-cert");
    }
}

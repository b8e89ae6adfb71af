//! The gateway's flags (shared by `gatehouse serve` and `gatehouse gateway`), their conversion
//! into a [`GatewayServerConfig`], and `gatehouse gateway` itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use gatehouse_gateway::{Config, UpstreamTls};
use gatehouse_pki::{read_input_file, CertificateAuthority, ValidityPeriod};
use gatehouse_server::{
    DataDir, GatewayServer, GatewayServerConfig, ServerIdentity, StoreLocation,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::fail::Failure;
use crate::flags::StoreArgs;

#[derive(Debug, Args)]
pub(crate) struct GatewayArgs {
    /// The Temporal frontend the gateway proxies to, host:port (serve runs no gateway without it)
    #[arg(long, env = "GATEHOUSE_UPSTREAM")]
    pub(crate) upstream: Option<String>,
    /// Address the gateway listens on for mTLS clients
    #[arg(long, default_value = "0.0.0.0:7233")]
    pub(crate) gateway_listen: SocketAddr,
    /// Clients connect to <namespace>.<domain> (the SNI picks the namespace)
    #[arg(long, default_value = "localhost")]
    pub(crate) gateway_domain: String,
    /// The gateway's server certificate chain (PEM). Default: a gateway CA in the data dir
    /// issues each <namespace>.<domain> its own certificate
    #[arg(long, requires = "gateway_key")]
    pub(crate) gateway_cert: Option<PathBuf>,
    /// The key of --gateway-cert
    #[arg(long, requires = "gateway_cert")]
    pub(crate) gateway_key: Option<PathBuf>,
    /// CA certificates (PEM) that sign the upstream's server certificate: the upstream speaks TLS
    #[arg(long)]
    pub(crate) upstream_ca: Option<PathBuf>,
    /// Client certificate the gateway presents to an mTLS upstream
    #[arg(long, requires = "upstream_key", requires = "upstream_ca")]
    pub(crate) upstream_cert: Option<PathBuf>,
    /// The key of --upstream-cert
    #[arg(long, requires = "upstream_cert")]
    pub(crate) upstream_key: Option<PathBuf>,
    /// The name the upstream's certificate must carry (default: the --upstream host)
    #[arg(long, requires = "upstream_ca")]
    pub(crate) upstream_server_name: Option<String>,
    /// Largest request message accepted, in bytes (after decompression)
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE_BYTES)]
    pub(crate) max_message_bytes: usize,
    /// Send each connection's role upstream as a short-lived JWT (authorization: Bearer, in the
    /// format of Temporal's default claim mapper); the keys are at /.well-known/jwks.json
    #[arg(long)]
    pub(crate) upstream_jwt: bool,
    /// Let clients of NAMESPACE renew their certificates through the gateway (`gatehouse
    /// renew --gateway`), signed by this CA: NAMESPACE=CA_CERT,CA_KEY where CA_KEY is a key
    /// file (PKCS#8, may be encrypted) or a pkcs11: URI. Repeatable
    #[arg(long, value_name = "NS=CERT,KEY")]
    pub(crate) renewal_ca: Vec<String>,
    /// The passphrase (first line) of encrypted --renewal-ca key files
    #[arg(long, value_name = "FILE")]
    pub(crate) renewal_ca_passphrase_file: Option<PathBuf>,
    /// A client must finish its TLS handshake within this (slowloris)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
    pub(crate) handshake_timeout: Duration,
    /// TCP connections open at once; more are closed as they arrive
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: u32,
    /// New connections a second from one source address, an IPv6 /64 counting as one (a token
    /// bucket; 0 turns it off)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) connections_per_ip_per_second: u32,
    /// New connections one address may open at once before the per-second rate applies
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) connections_per_ip_burst: u32,
    /// TLS handshakes in progress at once from one address (an IPv6 /64 counts as one)
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_handshakes_per_ip: u32,
    /// Calls at once on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS)
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_concurrent_streams: u32,
    /// Largest request header block in bytes (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE)
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024, value_parser = clap::value_parser!(u32).range(1024..))]
    pub(crate) max_header_list_bytes: u32,
    /// Calls a client may cancel on one connection within 10 s before the connection is told
    /// to go away (HTTP/2 rapid reset)
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_cancelled_calls: u32,
    /// A connection with no call in flight for this long is told to go away (GOAWAY)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = positive_duration)]
    pub(crate) idle_timeout: Duration,
}

/// `--max-message-bytes`' default: gRPC's usual 4 MiB.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// A gateway for `upstream` (plaintext) on `<namespace>.<domain>` with every default: what the
/// flags give when only `--upstream` and `--gateway-domain` are set.
pub(crate) fn base_config(upstream: &str, domain: &str, data_dir: &DataDir) -> Config {
    Config {
        domain: domain.trim_end_matches('.').to_owned(),
        upstream: upstream.to_owned(),
        upstream_tls: None,
        max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        reload_interval: Duration::from_millis(250),
        usage_flush_interval: Duration::from_secs(2),
        instance: format!(
            "{}:{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "gateway".into()),
            std::process::id()
        ),
        upstream_jwt: false,
        limits: gatehouse_gateway::Limits::default(),
        jwt_key_file: Some(data_dir.jwt_keys()),
        renewal_cas: Vec::new(),
    }
}

/// A positive duration in tcld's grammar (`10s`, `5m`, `1.5s`).
fn positive_duration(v: &str) -> Result<Duration, String> {
    let d = ValidityPeriod::parse(v).map_err(|e| e.to_string())?;
    u64::try_from(d.as_nanos())
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_nanos)
        .ok_or_else(|| format!("{v:?} is not a positive duration such as 10s or 5m"))
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let bytes = read_input_file(path).map_err(|e| Failure::Input(e.to_string()))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Failure::Input(format!(
            "{}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, Failure> {
    let bytes = read_input_file(path).map_err(|e| Failure::Input(e.to_string()))?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| Failure::Input(format!("{}: not a PEM private key: {e}", path.display())))
}

impl GatewayArgs {
    /// The gateway's configuration, or None when no --upstream was given. Reads the files the
    /// flags name; writes nothing.
    pub(crate) fn server_config(
        &self,
        data_dir: &DataDir,
    ) -> Result<Option<GatewayServerConfig>, Failure> {
        let Some(upstream) = &self.upstream else {
            return Ok(None);
        };
        let identity = match (&self.gateway_cert, &self.gateway_key) {
            (Some(c), Some(k)) => ServerIdentity::Fixed {
                chain: certs(c)?,
                key: key(k)?,
            },
            _ => ServerIdentity::GatewayCa,
        };
        let upstream_tls = match &self.upstream_ca {
            None => None,
            Some(ca) => Some(UpstreamTls {
                ca: certs(ca)?,
                client: match (&self.upstream_cert, &self.upstream_key) {
                    (Some(c), Some(k)) => Some((certs(c)?, key(k)?)),
                    _ => None,
                },
                server_name: self.upstream_server_name.clone(),
            }),
        };
        let mut renewal_cas = Vec::new();
        for spec in &self.renewal_ca {
            let shown = crate::pkcs11::redact(spec);
            let bad = |why: &str| Failure::Input(format!("--renewal-ca {shown}: {why}"));
            let (ns, files) = spec
                .split_once('=')
                .ok_or_else(|| bad("use NAMESPACE=CA_CERT,CA_KEY"))?;
            let (cert, key) = files
                .split_once(',')
                .ok_or_else(|| bad("use NAMESPACE=CA_CERT,CA_KEY"))?;
            let now = OffsetDateTime::now_utc();
            let info = gatehouse_pki::parse_certificates(&read_input_file(Path::new(cert))?, cert)?
                .into_iter()
                .next()
                .ok_or_else(|| bad("no certificate in the CA file"))?;
            let ca = if key.starts_with("pkcs11:") {
                CertificateAuthority::with_external_key(
                    info,
                    Box::new(crate::pkcs11::open(key)?),
                    now,
                )?
            } else {
                let k = crate::gen::read_ca_key(
                    Path::new(key),
                    self.renewal_ca_passphrase_file.as_deref(),
                )?;
                CertificateAuthority::new(info, k, now)?
            };
            gatehouse_server::warn_expiry(ca.certificate(), Path::new(cert), now);
            tracing::info!(namespace = ns, ca = %ca.certificate().display_subject(), "clients of this CA may renew their certificates through the gateway");
            renewal_cas.push((ns.to_owned(), Arc::new(ca)));
        }
        if self.max_message_bytes < 1024 {
            return Err(Failure::Input(
                "--max-message-bytes must be at least 1024".into(),
            ));
        }
        Ok(Some(GatewayServerConfig {
            listen: self.gateway_listen,
            gateway: Config {
                upstream_tls,
                max_message_bytes: self.max_message_bytes,
                upstream_jwt: self.upstream_jwt,
                limits: gatehouse_gateway::Limits {
                    handshake_timeout: self.handshake_timeout,
                    max_connections: self.max_connections as usize,
                    connections_per_ip_per_second: self.connections_per_ip_per_second,
                    connections_per_ip_burst: self.connections_per_ip_burst,
                    max_handshakes_per_ip: self.max_handshakes_per_ip,
                    max_concurrent_streams: self.max_concurrent_streams,
                    max_header_list_bytes: self.max_header_list_bytes,
                    max_cancelled_calls: self.max_cancelled_calls,
                    idle_timeout: self.idle_timeout,
                },
                renewal_cas,
                ..base_config(upstream, &self.gateway_domain, data_dir)
            },
            identity,
        }))
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Runs the gateway alone against the data dir's store (as `gatehouse serve \
    --upstream` does beside the API); bundle and filter changes made through any API reach it \
    within a second.\n\nExamples:\n  \
    gatehouse gateway --upstream 127.0.0.1:7233 --gateway-listen 0.0.0.0:7443 --gateway-domain gw.acme.io \
    --metrics-listen 127.0.0.1:9464\n  \
    gatehouse gateway --upstream 127.0.0.1:7233 --upstream-jwt --metrics-listen 127.0.0.1:9464   # JWKS there too\n  \
    gatehouse gateway --upstream temporal.internal:7233 --upstream-ca frontend-ca.pem \
    --upstream-cert gw.pem --upstream-key gw.key --gateway-cert gw-server.pem --gateway-key gw-server.key\n  \
    gatehouse gateway --upstream 127.0.0.1:7233 --renewal-ca payments=ca.pem,ca.key.enc --renewal-ca-passphrase-file /run/secrets/ca-pass --metrics-listen 127.0.0.1:9464"
)]
pub(crate) struct GatewayCommandArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) gateway: GatewayArgs,
    /// Serve the gateway's Prometheus metrics at http://<addr>/metrics (unauthenticated: bind
    /// it to a private address)
    #[arg(long)]
    pub(crate) metrics_listen: Option<SocketAddr>,
}

/// `gatehouse gateway` as plain data.
#[derive(Debug)]
pub(crate) struct GatewayCommandConfig {
    pub(crate) store: StoreLocation,
    pub(crate) gateway: GatewayServerConfig,
    pub(crate) metrics_listen: Option<SocketAddr>,
}

impl TryFrom<GatewayCommandArgs> for GatewayCommandConfig {
    type Error = Failure;

    fn try_from(args: GatewayCommandArgs) -> Result<Self, Failure> {
        if args.gateway.upstream.is_none() {
            return Err(Failure::Input(
                "--upstream host:port (the Temporal frontend) is required".into(),
            ));
        }
        if args.gateway.upstream_jwt && args.metrics_listen.is_none() {
            return Err(Failure::Input(
                "--upstream-jwt needs --metrics-listen: the Temporal server fetches the JWKS from http://<metrics-listen>/.well-known/jwks.json".into(),
            ));
        }
        let store = args.store.location();
        let gateway = args
            .gateway
            .server_config(&store.data_dir)?
            .ok_or_else(|| Failure::Internal("no gateway without --upstream".into()))?;
        Ok(Self {
            store,
            gateway,
            metrics_listen: args.metrics_listen,
        })
    }
}

pub(crate) fn run(
    args: GatewayCommandArgs,
    shutdown: CancellationToken,
) -> Result<ExitCode, Failure> {
    crate::runtime::init_tracing();
    let config = GatewayCommandConfig::try_from(args)?;
    crate::runtime::until_shutdown(&shutdown, async {
        if !config.store.is_embedded() {
            // The gateway keeps its own files (server identity, JWT keys) in the data dir.
            config.store.data_dir.create()?;
        }
        let store = Arc::new(config.store.open(true).await?);
        let gateway = GatewayServer::start(
            config.gateway,
            &config.store.data_dir,
            store,
            shutdown.clone(),
        )
        .await?;
        if let Some(addr) = config.metrics_listen {
            gateway.serve_metrics(addr, shutdown.clone()).await?;
        }
        gateway.stopped().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(argv: &str) -> Result<GatewayCommandConfig, Failure> {
        GatewayCommandConfig::try_from(crate::flags::parse_flags::<GatewayCommandArgs>(argv)?)
    }

    #[test]
    fn the_gateway_needs_an_upstream() {
        let err = config("").expect_err("no upstream");
        assert!(err.to_string().contains("--upstream host:port"), "{err}");
    }

    #[test]
    fn upstream_jwt_needs_a_metrics_listener_for_the_jwks() {
        let err = config("--upstream u:7233 --upstream-jwt").expect_err("no jwks");
        assert!(err.to_string().contains("--metrics-listen"), "{err}");
        let c = config("--upstream u:7233 --upstream-jwt --metrics-listen 127.0.0.1:9464")
            .expect("config");
        assert!(c.gateway.gateway.upstream_jwt);
        assert_eq!(
            c.metrics_listen,
            Some("127.0.0.1:9464".parse().expect("addr"))
        );
    }

    #[test]
    fn limits_and_the_store_come_from_their_flags() {
        let c = config(
            "--upstream u:7233 --data-dir /d --database-url postgres://gh@db/gh \
             --gateway-listen 127.0.0.1:7443 --gateway-domain gw.acme.io. --max-connections 7 \
             --idle-timeout 90s --handshake-timeout 1.5s",
        )
        .expect("config");
        assert_eq!(c.store.url.as_deref(), Some("postgres://gh@db/gh"));
        assert_eq!(c.gateway.listen, "127.0.0.1:7443".parse().expect("addr"));
        assert_eq!(
            c.gateway.gateway.domain, "gw.acme.io",
            "the trailing dot is dropped"
        );
        let limits = &c.gateway.gateway.limits;
        assert_eq!(limits.max_connections, 7);
        assert_eq!(limits.idle_timeout, Duration::from_secs(90));
        assert_eq!(limits.handshake_timeout, Duration::from_millis(1500));
        let err = config("--upstream u:1 --idle-timeout 0s").expect_err("zero");
        assert!(err.to_string().contains("positive duration"), "{err}");
    }
}

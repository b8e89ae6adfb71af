//! The gateway's command-line settings (shared by `gatehouse serve` and `gatehouse gateway`),
//! its server identity, and `gatehouse gateway` itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use gatehouse_gateway::{Config, Gateway, Identity, UpstreamTls};
use gatehouse_pki::{
    read_input_file, write_files, CaParams, CertificateAuthority, CertificateInfo, FileKind,
    KeyAlgorithm, OutputFile, PrivateKey, ValidityPeriod,
};
use gatehouse_store::SqlStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::fail::Failure;

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
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
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

/// A positive duration in tcld's grammar (`10s`, `5m`, `1.5s`).
fn positive_duration(v: &str) -> Result<Duration, String> {
    let d = ValidityPeriod::parse(v).map_err(|e| e.to_string())?;
    u64::try_from(d.as_nanos())
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_nanos)
        .ok_or_else(|| format!("{v:?} is not a positive duration such as 10s or 5m"))
}

/// Files of the generated gateway CA inside a data dir.
pub(crate) fn gateway_ca_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    (
        data_dir.join("gateway-ca.pem"),
        data_dir.join("gateway-ca.key"),
    )
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

/// The gateway CA in the data dir, generated (once) if absent.
fn gateway_ca(data_dir: &Path) -> Result<(CertificateAuthority, PathBuf), Failure> {
    let (cert_path, key_path) = gateway_ca_paths(data_dir);
    let now = OffsetDateTime::now_utc();
    if !cert_path.exists() && !key_path.exists() {
        let issued = CaParams {
            organization: "Gatehouse".into(),
            common_name: Some(format!("Gatehouse gateway CA {}", now.unix_timestamp())),
            validity: ValidityPeriod::parse("365d")
                .map_err(|e| Failure::Internal(e.to_string()))?,
            algorithm: KeyAlgorithm::EcdsaP384,
            now,
        }
        .self_signed()?;
        let key = issued
            .key
            .as_ref()
            .ok_or_else(|| Failure::Internal("CA generated without a key".into()))?;
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
    let cert = read_input_file(&cert_path).map_err(|e| Failure::Input(e.to_string()))?;
    let info = gatehouse_pki::parse_certificates(&cert, &cert_path.display().to_string())
        .map_err(|e| Failure::Input(e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| Failure::Input(format!("{}: empty", cert_path.display())))?;
    let key_pem = read_input_file(&key_path).map_err(|e| Failure::Input(e.to_string()))?;
    let key = PrivateKey::from_pem(&key_pem)
        .map_err(|e| Failure::Input(format!("{}: {e}", key_path.display())))?;
    warn_expiry(&info, &cert_path, now);
    let ca = CertificateAuthority::new(info, key, now)?;
    Ok((ca, cert_path))
}

fn warn_expiry(info: &CertificateInfo, path: &Path, now: OffsetDateTime) {
    let left = info.not_after - now;
    if left < time::Duration::days(30) {
        tracing::warn!(ca = %path.display(), days_left = left.whole_days(), "the gateway CA expires soon; replace it (and give clients the new one) or pass --gateway-cert");
    }
}

impl GatewayArgs {
    /// The gateway's configuration, or None when no --upstream was given.
    pub(crate) fn config(&self, data_dir: &Path) -> Result<Option<(Config, Identity)>, Failure> {
        let Some(upstream) = &self.upstream else {
            return Ok(None);
        };
        let identity = match (&self.gateway_cert, &self.gateway_key) {
            (Some(c), Some(k)) => Identity::Fixed {
                chain: certs(c)?,
                key: key(k)?,
            },
            _ => {
                let (ca, path) = gateway_ca(data_dir)?;
                tracing::info!(
                    ca = %path.display(),
                    "gateway server certificates are issued by the gateway CA: give clients --tls-ca-path {}",
                    path.display()
                );
                Identity::Issuing(Box::new(ca))
            }
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
            warn_expiry(ca.certificate(), Path::new(cert), now);
            tracing::info!(namespace = ns, ca = %ca.certificate().display_subject(), "clients of this CA may renew their certificates through the gateway");
            renewal_cas.push((ns.to_owned(), Arc::new(ca)));
        }
        if self.max_message_bytes < 1024 {
            return Err(Failure::Input(
                "--max-message-bytes must be at least 1024".into(),
            ));
        }
        Ok(Some((
            Config {
                domain: self.gateway_domain.trim_end_matches('.').to_owned(),
                upstream: upstream.clone(),
                upstream_tls,
                max_message_bytes: self.max_message_bytes,
                reload_interval: Duration::from_millis(250),
                usage_flush_interval: Duration::from_secs(2),
                instance: format!(
                    "{}:{}",
                    std::env::var("HOSTNAME").unwrap_or_else(|_| "gateway".into()),
                    std::process::id()
                ),
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
                jwt_key_file: Some(data_dir.join("upstream-jwt-keys.json")),
                renewal_cas,
            },
            identity,
        )))
    }
}

/// A running gateway.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) gateway: Arc<Gateway>,
    pub(crate) addr: SocketAddr,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

/// Starts the gateway on its listener (None without --upstream).
pub(crate) async fn start(
    args: &GatewayArgs,
    data_dir: &Path,
    store: Arc<SqlStore>,
    shutdown: CancellationToken,
) -> Result<Option<Running>, Failure> {
    let Some((config, identity)) = args.config(data_dir)? else {
        return Ok(None);
    };
    let domain = config.domain.clone();
    let upstream = config.upstream.clone();
    let gateway = Gateway::new(config, identity, store)
        .await
        .map_err(|e| Failure::Input(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(args.gateway_listen)
        .await
        .map_err(|e| {
            Failure::Input(crate::serve::listen_error(
                args.gateway_listen,
                "--gateway-listen",
                &e,
            ))
        })?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Internal(e.to_string()))?;
    tracing::info!(gateway = %local, sni = %format!("<namespace>.{domain}"), upstream = %upstream, "gateway serving");
    let task = tokio::spawn(
        gateway
            .clone()
            .serve(listener, shutdown, Duration::from_secs(30)),
    );
    Ok(Some(Running {
        gateway,
        addr: local,
        task,
    }))
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
    /// Where the database lives (the same as `gatehouse serve`'s)
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "./gatehouse-data")]
    pub(crate) data_dir: PathBuf,
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", help = crate::database::DATABASE_URL_HELP)]
    pub(crate) database_url: Option<String>,
    #[command(flatten)]
    pub(crate) gateway: GatewayArgs,
    /// Serve the gateway's Prometheus metrics at http://<addr>/metrics (unauthenticated: bind
    /// it to a private address)
    #[arg(long)]
    pub(crate) metrics_listen: Option<std::net::SocketAddr>,
}

pub(crate) fn run(args: GatewayCommandArgs) -> Result<ExitCode, Failure> {
    crate::serve::init_tracing();
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        if args.database_url.is_some() {
            // The gateway keeps its own files (server identity, JWT keys) in the data dir.
            crate::serve::create_data_dir(&args.data_dir)?;
        }
        let store = Arc::new(
            crate::database::open_store(&args.data_dir, args.database_url.as_deref(), true).await?,
        );
        let shutdown = CancellationToken::new();
        let started = start(&args.gateway, &args.data_dir, store, shutdown.clone()).await?;
        let Some(Running { gateway, task, .. }) = started else {
            return Ok(ExitCode::SUCCESS);
        };
        if let Some(addr) = args.metrics_listen {
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                Failure::Input(format!("cannot listen on {addr} (--metrics-listen): {e}"))
            })?;
            let metrics = gateway.metrics();
            let app = jwks_route(&gateway).route(
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
            tracing::info!(metrics = %format!("http://{addr}/metrics"), "gateway metrics serving");
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
        }
        crate::serve::shutdown_signal().await;
        shutdown.cancel();
        let _ = task.await;
        Ok(ExitCode::SUCCESS)
    })
}

/// `/.well-known/jwks.json` when the gateway signs upstream JWTs (an empty router otherwise).
pub(crate) fn jwks_route<S: Clone + Send + Sync + 'static>(
    gateway: &Arc<Gateway>,
) -> axum::Router<S> {
    let router = axum::Router::new();
    if gateway.jwks().is_none() {
        return router;
    }
    let g = gateway.clone();
    router.route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            let g = g.clone();
            async move { axum::Json(g.jwks().unwrap_or_default()) }
        }),
    )
}

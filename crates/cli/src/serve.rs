//! `gatehouse serve`: the control plane API, the expiry watch and (with `--upstream`) the mTLS
//! gateway, on the embedded SQLite store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use gatehouse_api::{new_token, router, token_hash, AppState, Control};
use gatehouse_pki::{write_files, FileKind, OutputFile};
use gatehouse_store::SqlStore;
use time::OffsetDateTime;

use crate::fail::Failure;

#[derive(Debug, Args)]
#[command(
    after_help = "On first start an account-owner and its API key are created; the key is \
    written to <data-dir>/admin.key (mode 0600) and never printed. The CLI uses that file when no \
    --api-key is given. The web console is at http://<api-listen>/: sign in with an API key. \
    Browsers keep its Secure session cookie only over HTTPS or on localhost, so reach it through \
    a TLS-terminating proxy, or an SSH tunnel to 127.0.0.1.\n\nExamples:\n  \
    gatehouse serve\n  \
    gatehouse serve --data-dir /var/lib/gatehouse --api-listen 0.0.0.0:8080 --admin-email ops@acme.io\n  \
    gatehouse serve --upstream 127.0.0.1:7233 --gateway-listen 0.0.0.0:7443 --gateway-domain gw.acme.io"
)]
pub(crate) struct ServeArgs {
    /// Where the database and admin.key live
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "./gatehouse-data")]
    pub(crate) data_dir: PathBuf,
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", help = crate::database::DATABASE_URL_HELP)]
    pub(crate) database_url: Option<String>,
    /// Address of the REST API (/api/v1) and the web console (/)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) api_listen: SocketAddr,
    /// Email of the account owner created on first start
    #[arg(long, default_value = "admin@localhost")]
    pub(crate) admin_email: String,
    /// Time between expiry-watch passes (15/10/5-day notices, tickets)
    #[arg(long, default_value = "1h")]
    pub(crate) notify_interval: String,
    #[command(flatten)]
    pub(crate) notify: crate::watch::NotifyArgs,
    #[command(flatten)]
    pub(crate) gateway: crate::gateway::GatewayArgs,
}

/// The database file inside a data dir.
pub(crate) fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("gatehouse.db")
}

/// The bootstrap API key file inside a data dir.
pub(crate) fn admin_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.key")
}

pub(crate) fn create_data_dir(dir: &Path) -> Result<(), Failure> {
    if dir.is_dir() {
        // An existing directory keeps its mode (it may be `.` or a home directory); say so if
        // others can read it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(dir) {
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(
                        data_dir = %dir.display(),
                        "the data dir is readable by other users; consider chmod 700"
                    );
                }
            }
        }
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Failure::Input(format!("{}: cannot create data dir: {e}", dir.display())))
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::Input(format!("{}: cannot create data dir: {e}", dir.display())))
}

/// First start: an account owner, with its key in `<data-dir>/admin.key`. The key file is
/// written first (replacing any left by a bootstrap that crashed before its transaction), then
/// owner and key are created in one transaction; a crash anywhere leaves a state the next start
/// completes.
async fn bootstrap(store: &SqlStore, data_dir: &Path, email: &str) -> Result<(), Failure> {
    let internal = |e: gatehouse_store::StoreError| Failure::Internal(e.to_string());
    let key_path = admin_key_path(data_dir);
    if store.count_users().await.map_err(internal)? > 0 {
        if !key_path.exists() {
            tracing::info!("no admin.key in the data dir: use an API key created with `gatehouse apikey create`");
        }
        return Ok(());
    }
    let token = new_token().map_err(|e| Failure::Internal(e.message))?;
    write_files(
        &[OutputFile {
            path: &key_path,
            contents: format!("{token}\n").as_bytes(),
            kind: FileKind::PrivateKey,
        }],
        &[],
        true,
    )?;
    match store
        .bootstrap_owner(email, &token_hash(&token), OffsetDateTime::now_utc())
        .await
        .map_err(internal)?
    {
        Some(_) => tracing::info!(
            owner = email,
            key_file = %key_path.display(),
            "first start: created the account owner; its API key is in the key file (mode 0600)"
        ),
        None => {
            // Our key was never stored: do not leave a key file that authenticates nobody.
            let _ = std::fs::remove_file(&key_path);
            tracing::info!("another process bootstrapped the account first");
        }
    }
    Ok(())
}

/// The console's session secret, `<data-dir>/console-session.key` (0600): created on first
/// start, shared by every process on the data dir so sessions survive restarts.
pub(crate) fn session_secret(data_dir: &Path) -> Result<Vec<u8>, Failure> {
    let path = data_dir.join("console-session.key");
    let read = || -> Result<Option<Vec<u8>>, Failure> {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let text = text.trim();
                if text.len() < 64 {
                    return Err(Failure::Input(format!(
                        "{}: too short to be a session secret (delete it to make a new one; everyone signs in again)",
                        path.display()
                    )));
                }
                Ok(Some(text.as_bytes().to_vec()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Failure::Input(format!("{}: {e}", path.display()))),
        }
    };
    if let Some(secret) = read()? {
        return Ok(secret);
    }
    let hex = new_session_secret()?;
    // Another process may create it at the same moment: then use theirs.
    let written = write_files(
        &[OutputFile {
            path: &path,
            contents: format!("{hex}\n").as_bytes(),
            kind: FileKind::PrivateKey,
        }],
        &[],
        false,
    );
    match (written, read()?) {
        (_, Some(secret)) => Ok(secret),
        (Err(e), None) => Err(e.into()),
        (Ok(_), None) => Err(Failure::Internal(format!("{} vanished", path.display()))),
    }
}

/// 32 random bytes in hex.
fn new_session_secret() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Failure::Internal("random number generator failed".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

pub(crate) fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// What a started `serve` reports (to `gatehouse dev`).
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) api: SocketAddr,
    pub(crate) gateway: Option<SocketAddr>,
    pub(crate) store: Arc<SqlStore>,
}

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode, Failure> {
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        serve(args, stop_rx, None).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs the API, the expiry watch and (with --upstream) the gateway until `stop` turns true.
pub(crate) async fn serve(
    args: ServeArgs,
    stop: tokio::sync::watch::Receiver<bool>,
    ready: Option<tokio::sync::oneshot::Sender<Started>>,
) -> Result<(), Failure> {
    let every = crate::watch::interval(&args.notify_interval)?;
    create_data_dir(&args.data_dir)?;
    let store =
        crate::database::open_store(&args.data_dir, args.database_url.as_deref(), false).await?;
    bootstrap(&store, &args.data_dir, &args.admin_email).await?;
    let listener = tokio::net::TcpListener::bind(args.api_listen)
        .await
        .map_err(|e| Failure::Input(listen_error(args.api_listen, "--api-listen", &e)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Internal(e.to_string()))?;
    tracing::info!(api = %format!("http://{local}/api/v1"), console = %format!("http://{local}/"), data_dir = %args.data_dir.display(), "gatehouse serving");
    let store = Arc::new(store);
    let notifier = crate::watch::notifier(store.clone(), args.notify.config(&args.data_dir)?)?;
    let watch_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let watch_stop = watch_stop.clone();
        let store = store.clone();
        // A full pass every --notify-interval; in between, due retries are delivered every
        // minute, so backoff works as documented. With several replicas on PostgreSQL, one
        // holds the notifier lease and sends; the others try to take it every tick.
        tokio::spawn(async move {
            let tick = every.min(std::time::Duration::from_secs(60));
            let mut last_pass: Option<std::time::Instant> = None;
            let mut lease: Option<gatehouse_store::Lease> = None;
            while !watch_stop.load(std::sync::atomic::Ordering::SeqCst) {
                if !leading(&store, &mut lease).await {
                    last_pass = None;
                    let mut waited = std::time::Duration::ZERO;
                    while waited < tick && !watch_stop.load(std::sync::atomic::Ordering::SeqCst) {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        waited += std::time::Duration::from_millis(200);
                    }
                    continue;
                }
                let now = OffsetDateTime::now_utc();
                let result = if last_pass.is_none_or(|t| t.elapsed() >= every) {
                    last_pass = Some(std::time::Instant::now());
                    notifier
                        .pass(now, &watch_stop)
                        .await
                        .map(|r| (r.sent, r.failed, r.tickets_opened))
                } else {
                    notifier
                        .deliver(now, &watch_stop)
                        .await
                        .map(|(s, f)| (s, f, 0))
                };
                match result {
                    Ok((s, f, t)) if s + f + t > 0 => {
                        tracing::info!(sent = s, failed = f, tickets = t, "expiry watch");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "expiry watch pass failed"),
                }
                let mut waited = std::time::Duration::ZERO;
                while waited < tick && !watch_stop.load(std::sync::atomic::Ordering::SeqCst) {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    waited += std::time::Duration::from_millis(200);
                }
            }
        })
    };
    let gateway_stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn({
        let mut stop = stop.clone();
        let gateway_stop = gateway_stop.clone();
        async move {
            let _ = stop.wait_for(|s| *s).await;
            gateway_stop.cancel();
        }
    });
    let gateway =
        crate::gateway::start(&args.gateway, &args.data_dir, store.clone(), gateway_stop).await?;
    if gateway.is_none() {
        tracing::info!("no --upstream: the gateway is not running (the API and expiry watch are)");
    }
    // On a shared database every replica must sign and check console sessions with one key,
    // or a browser behind a load balancer is signed out whenever it reaches another replica.
    let secret = match &args.database_url {
        Some(_) => store
            .shared_secret(
                "console-session",
                &new_session_secret()?,
                OffsetDateTime::now_utc(),
            )
            .await
            .map_err(|e| Failure::Internal(e.to_string()))?
            .into_bytes(),
        None => session_secret(&args.data_dir)?,
    };
    let mut control = Control::new(store.clone());
    let mut metrics = Vec::new();
    if let Some(gw) = &gateway {
        let m = gw.gateway.metrics();
        metrics.push(
            Arc::new(move |out: &mut String, visible: &dyn Fn(&str) -> bool| m.render(out, visible))
                as gatehouse_api::MetricsSource,
        );
        let g = gw.gateway.clone();
        control = control.on_namespace_change(Arc::new(move || {
            let g = g.clone();
            Box::pin(async move {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), g.apply_changes())
                    .await;
            })
        }));
    }
    let mut state = AppState::new(control).with_session_secret(&secret);
    state.metrics = metrics;
    if let Some(ready) = ready {
        let _ = ready.send(Started {
            api: local,
            gateway: gateway.as_ref().map(|g| g.addr),
            store: store.clone(),
        });
    }
    let mut app = router(state);
    if let Some(gw) = &gateway {
        app = crate::gateway::jwks_route(&gw.gateway).merge(app);
    }
    let mut api_stop = stop;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = api_stop.wait_for(|s| *s).await;
    })
    .await
    .map_err(|e| Failure::Internal(format!("server error: {e}")))?;
    if let Some(gw) = gateway {
        let _ = gw.task.await;
    }
    // Let a send in progress finish and be recorded, so a restart does not repeat it.
    watch_stop.store(true, std::sync::atomic::Ordering::SeqCst);
    if tokio::time::timeout(std::time::Duration::from_secs(30), watcher)
        .await
        .is_err()
    {
        tracing::warn!("the expiry watch did not stop within 30 s");
    }
    Ok(())
}

/// Whether this replica holds the notifier lease, taking it if it is free (see
/// `SqlStore::try_lead`). Logs when that changes.
async fn leading(store: &SqlStore, lease: &mut Option<gatehouse_store::Lease>) -> bool {
    if let Some(l) = lease.as_mut() {
        if l.held().await {
            return true;
        }
        *lease = None;
        tracing::warn!("expiry watch: lost the notifier lease (database connection lost); another replica may send now");
    }
    match store.try_lead().await {
        Ok(Some(l)) => {
            if store.backend() == gatehouse_store::Backend::Postgres {
                tracing::info!(
                    "expiry watch: this replica holds the notifier lease and sends the notices"
                );
            }
            *lease = Some(l);
            true
        }
        Ok(None) => false,
        Err(e) => {
            tracing::debug!(error = %e, "expiry watch: cannot reach the database for the notifier lease");
            false
        }
    }
}

/// A listen error that says what to do about it.
pub(crate) fn listen_error(addr: SocketAddr, flag: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        format!(
            "cannot listen on {addr}: the port is in use (another gatehouse or Temporal?); stop it, or pass {flag} with a free port, e.g. {flag} {}:0 for any",
            addr.ip()
        )
    } else {
        format!("cannot listen on {addr} ({flag}): {e}")
    }
}

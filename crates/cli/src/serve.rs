//! `gatehouse serve`: the control plane API on the embedded SQLite store (the gateway and the
//! notifier join this process in later releases).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use gatehouse_api::{new_token, router, token_hash, AppState};
use gatehouse_pki::{write_files, FileKind, OutputFile};
use gatehouse_store::{Change, Role, SqliteStore, Store};
use time::OffsetDateTime;

use crate::fail::Failure;

#[derive(Debug, Args)]
#[command(
    after_help = "On first start an account-owner and its API key are created; the key is \
    written to <data-dir>/admin.key (mode 0600) and never printed. The CLI uses that file when no \
    --api-key is given.\n\nExamples:\n  \
    gatehouse serve\n  \
    gatehouse serve --data-dir /var/lib/gatehouse --api-listen 0.0.0.0:8080 --admin-email ops@acme.io"
)]
pub(crate) struct ServeArgs {
    /// Where the database and admin.key live
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "./gatehouse-data")]
    pub(crate) data_dir: PathBuf,
    /// Address of the REST API (and, later, the console)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) api_listen: SocketAddr,
    /// Email of the account owner created on first start
    #[arg(long, default_value = "admin@localhost")]
    pub(crate) admin_email: String,
}

/// The database file inside a data dir.
pub(crate) fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("gatehouse.db")
}

/// The bootstrap API key file inside a data dir.
pub(crate) fn admin_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.key")
}

fn create_data_dir(dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::Input(format!("{}: cannot create data dir: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            Failure::Input(format!("{}: cannot restrict data dir: {e}", dir.display()))
        })?;
    }
    Ok(())
}

/// First start: an account owner, with its key in `<data-dir>/admin.key`.
async fn bootstrap(store: &SqliteStore, data_dir: &Path, email: &str) -> Result<(), Failure> {
    let internal = |e: gatehouse_store::StoreError| Failure::Internal(e.to_string());
    if store.count_users().await.map_err(internal)? > 0 {
        return Ok(());
    }
    let key_path = admin_key_path(data_dir);
    let now = OffsetDateTime::now_utc();
    let change = |action: &str| Change {
        actor: "gatehouse serve (bootstrap)".into(),
        action: action.into(),
        ..Change::default()
    };
    let token = new_token().map_err(|e| Failure::Internal(e.message))?;
    // Write the key first: if that fails (say admin.key exists from another database), no
    // owner is created whose key nobody has.
    write_files(
        &[OutputFile {
            path: &key_path,
            contents: format!("{token}\n").as_bytes(),
            kind: FileKind::PrivateKey,
        }],
        &[],
        false,
    )?;
    let user = store
        .create_user(
            email,
            Role::AccountOwner,
            vec![],
            now,
            change("user.create"),
        )
        .await
        .map_err(internal)?;
    store
        .create_api_key(
            &user.id,
            "bootstrap",
            &token_hash(&token),
            None,
            now,
            change("apikey.create"),
        )
        .await
        .map_err(internal)?;
    tracing::info!(
        owner = email,
        key_file = %key_path.display(),
        "first start: created the account owner; its API key is in the key file (mode 0600)"
    );
    Ok(())
}

async fn shutdown_signal() {
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

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode, Failure> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        create_data_dir(&args.data_dir)?;
        let db = database_path(&args.data_dir);
        let store = SqliteStore::open(&db)
            .await
            .map_err(|e| Failure::Input(format!("{}: {e}", db.display())))?;
        bootstrap(&store, &args.data_dir, &args.admin_email).await?;
        let listener = tokio::net::TcpListener::bind(args.api_listen)
            .await
            .map_err(|e| Failure::Input(format!("cannot listen on {}: {e}", args.api_listen)))?;
        let local = listener
            .local_addr()
            .map_err(|e| Failure::Internal(e.to_string()))?;
        tracing::info!(api = %format!("http://{local}/api/v1"), data_dir = %args.data_dir.display(), "gatehouse serving");
        let app = router(AppState::new(Arc::new(store)));
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| Failure::Internal(format!("server error: {e}")))?;
        Ok(ExitCode::SUCCESS)
    })
}

//! The process's life cycle: tracing to stderr, the one tokio runtime, and the one shutdown
//! token that Ctrl-C and SIGTERM cancel.

use std::future::Future;

use tokio_util::sync::CancellationToken;

use crate::fail::Failure;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
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

/// The one way a command builds its runtime.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("cannot start the runtime: {e}")))
}

/// Runs a command's `work` to the end on the runtime. Ctrl-C and SIGTERM keep their default
/// (the process ends): for commands with nothing to drain.
pub(crate) fn block_on<T>(work: impl Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    runtime()?.block_on(work)
}

/// Runs a long-lived `work` (a server, a daemon) on the runtime. Ctrl-C or SIGTERM cancels
/// `shutdown`, the token `main` made; `work` sees it, winds down, and returns.
pub(crate) fn until_shutdown<T>(
    shutdown: &CancellationToken,
    work: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    runtime()?.block_on(async {
        let token = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = signal() => {
                    tracing::info!("shutting down: finishing requests in flight");
                    token.cancel();
                }
                () = token.cancelled() => {}
            }
        });
        work.await
    })
}

/// Ctrl-C or SIGTERM.
async fn signal() {
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
}

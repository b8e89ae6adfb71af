//! One admitted connection: HTTP/2 over its TLS stream, each call handed to the proxy, and
//! the state machine that decides when the connection must go away. A serving connection is
//! verified again when its namespace changes and every 30 s (expiry); it is told to go away
//! (GOAWAY) when it is no longer admitted, idle, cancelling too many calls, or the gateway
//! shuts down; a draining connection is closed once its calls finish or its deadline passes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_pki::CertificateInfo;
use gatehouse_policy::VerifiedClient;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::conn_ctx::ConnCtx;
use crate::gateway::Gateway;
use crate::limits::{Limits, RESET_WINDOW};
use crate::metrics::Metrics;
use crate::proxy;
use crate::reload::reverify;
use crate::tls::Endpoint;

/// Streams a client may reset before the server has accepted them (h2's own rapid-reset
/// guard; calls reset after acceptance count against `Limits::max_cancelled_calls`).
const MAX_PENDING_ACCEPT_RESETS: usize = 20;
/// How long a connection told to go away may finish its calls before it is closed.
const DRAIN_DEADLINE: Duration = Duration::from_secs(60);
/// How long the in-flight calls of a connection abusing resets get.
const ABUSE_DRAIN_DEADLINE: Duration = Duration::from_secs(1);
/// How often an unchanged connection is verified again (its certificates expire).
const RECHECK_INTERVAL: Duration = Duration::from_secs(30);

/// A connection through its handshake, admitted by its namespace's verifier.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub(crate) peer: SocketAddr,
    /// The namespace as it admitted the connection.
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) tls: TlsStream<TcpStream>,
    /// The client's chain as sent (what is verified again), and its leaf.
    pub(crate) chain: Vec<CertificateInfo>,
    pub(crate) leaf: Arc<CertificateInfo>,
    pub(crate) verified: Arc<VerifiedClient>,
    /// The reloader's generation, subscribed before the handshake (a change made during it
    /// is seen afterwards).
    pub(crate) generation: watch::Receiver<u64>,
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy)]
enum ConnState {
    /// Taking calls; verified again on changes.
    Serving,
    /// Told to go away (GOAWAY): its calls in flight may finish until `deadline`.
    Draining { deadline: Instant },
}

/// Serves `admitted` until it closes, is closed, or has drained after `shutdown`.
pub(crate) async fn serve(gw: Arc<Gateway>, admitted: Admitted, shutdown: CancellationToken) {
    let Admitted {
        peer,
        endpoint,
        tls,
        chain,
        leaf,
        verified,
        mut generation,
    } = admitted;
    let shared = &gw.shared;
    let metrics = &shared.metrics;
    let limits = &shared.config.limits;
    let namespace = endpoint.policy.name.clone();
    metrics.connection_opened(&namespace);
    let cell = gw.usage.admitted(
        &namespace,
        &verified.anchor_fingerprint.to_string(),
        &leaf.fingerprint.to_string(),
        &leaf.subject,
        leaf.not_after,
    );
    tracing::debug!(namespace = %namespace, peer = %peer, leaf = %leaf.fingerprint, ca = %verified.anchor_fingerprint, "connection admitted");
    let ctx = Arc::new(ConnCtx::new(
        shared.clone(),
        namespace.clone(),
        cell.clone(),
        peer.to_string(),
        leaf.clone(),
        verified.anchor_fingerprint.to_string().into(),
        verified.permissions,
    ));
    let service = {
        let ctx = ctx.clone();
        hyper::service::service_fn(move |req| proxy::handle(ctx.clone(), req))
    };
    let conn = http2(limits).serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    let mut recheck = tokio::time::interval(RECHECK_INTERVAL);
    recheck.reset();
    let idle_timeout = limits.idle_timeout;
    let mut idle_check = tokio::time::interval((idle_timeout / 4).max(Duration::from_millis(100)));
    idle_check.reset();
    let activity = ctx.activity.clone();
    let mut admitted_by = endpoint;
    let mut state = ConnState::Serving;
    loop {
        match state {
            ConnState::Serving => {
                // What the connection's calls in flight get if it must go away now.
                let drain = tokio::select! {
                    r = conn.as_mut() => {
                        ended(metrics, &namespace, peer, r);
                        break;
                    }
                    changed = generation.changed() => {
                        if changed.is_err() {
                            continue;
                        }
                        // Only connections whose namespace changed are verified again.
                        let current = gw.registry.get(&namespace);
                        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &admitted_by)) {
                            continue;
                        }
                        if let Some(e) = current {
                            admitted_by = e;
                        }
                        verify_again(&gw, &ctx, &chain, &leaf)
                    }
                    _ = recheck.tick() => verify_again(&gw, &ctx, &chain, &leaf),
                    _ = idle_check.tick() => {
                        if activity.idle_for(std::time::Instant::now()) < idle_timeout {
                            continue;
                        }
                        metrics.limit_tripped("idle-timeout", &format_args!(
                            "closing connection from {peer} (GOAWAY): no call for {idle_timeout:?} (--idle-timeout)"));
                        Some(DRAIN_DEADLINE)
                    }
                    () = activity.calm_down.notified() => {
                        metrics.limit_tripped("cancelled-calls", &format_args!(
                            "closing connection from {peer} (GOAWAY): more than {} calls cancelled within {:?} (--max-cancelled-calls)",
                            limits.max_cancelled_calls, RESET_WINDOW));
                        Some(ABUSE_DRAIN_DEADLINE)
                    }
                    () = shutdown.cancelled() => Some(DRAIN_DEADLINE),
                };
                if let Some(grace) = drain {
                    conn.as_mut().graceful_shutdown();
                    state = ConnState::Draining {
                        deadline: Instant::now() + grace,
                    };
                }
            }
            ConnState::Draining { deadline } => {
                tokio::select! {
                    r = conn.as_mut() => ended(metrics, &namespace, peer, r),
                    () = tokio::time::sleep_until(deadline) => {
                        tracing::info!(namespace = %namespace, peer = %peer, "closing connection: calls did not finish within the drain deadline");
                    }
                }
                break;
            }
        }
    }
    cell.closed();
    metrics.connection_closed(&namespace);
}

/// The HTTP/2 server settings of every connection.
fn http2(limits: &Limits) -> hyper::server::conn::http2::Builder<TokioExecutor> {
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_header_list_size(limits.max_header_list_bytes)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESETS)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_send_buf_size(1 << 20);
    builder
}

/// Verifies the connection again against its namespace as it is now. Still admitted: its
/// (possibly changed) permissions are stored. Otherwise it is revoked and gets the drain
/// deadline.
fn verify_again(
    gw: &Gateway,
    ctx: &ConnCtx,
    chain: &[CertificateInfo],
    leaf: &CertificateInfo,
) -> Option<Duration> {
    match reverify(&gw.registry, &ctx.namespace, chain) {
        Ok(permissions) => {
            ctx.set_permissions(permissions);
            None
        }
        Err(why) => {
            ctx.revoke();
            tracing::info!(namespace = %ctx.namespace, peer = %ctx.peer, leaf = %leaf.fingerprint, reason = %why, "closing connection (GOAWAY): no longer admitted");
            gw.shared.metrics.closed_on_reload();
            Some(DRAIN_DEADLINE)
        }
    }
}

/// Logs why the connection ended, if it ended with an error.
fn ended(metrics: &Metrics, namespace: &str, peer: SocketAddr, r: Result<(), hyper::Error>) {
    let Err(e) = r else { return };
    if calmed_down(&e) {
        metrics.limit_tripped("rapid-reset", &format_args!(
            "closed connection from {peer}: it reset more than {MAX_PENDING_ACCEPT_RESETS} calls before they started (HTTP/2 rapid reset)"));
    } else {
        tracing::debug!(namespace = %namespace, peer = %peer, error = %e, "connection ended with an error");
    }
}

/// Whether hyper ended a connection because h2 told the client to calm down (too many streams
/// reset before they were accepted).
fn calmed_down(e: &hyper::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<h2::Error>())
        .and_then(h2::Error::reason)
        == Some(h2::Reason::ENHANCE_YOUR_CALM)
}

//! Gatehouse's mTLS front door: a gRPC gateway in front of a Temporal frontend.
//!
//! - The SNI `<namespace>.<domain>` picks the namespace; its verifier applies
//!   `gatehouse-policy` to the client chain (see [`tls`]).
//! - Every call must stay inside that namespace (see `namespace_check`, driven by a table
//!   generated from the Temporal API descriptors), then is proxied upstream over pooled HTTP/2.
//! - Bundle and filter changes are polled from the store and swapped in; connections the new
//!   state no longer admits get GOAWAY and close after their in-flight calls.
//! - CA usage is counted in memory and flushed to the store in batches; metrics render as
//!   Prometheus text.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_pki::CertificateInfo;
use gatehouse_policy::{CaBundle, CertificateFilters};
use gatehouse_store::{Namespace, Store, WatchStore};
use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;

mod api_schema;
#[rustfmt::skip]
mod api_table;
mod grpc;
mod jwt;
mod limits;
mod metrics;
mod namespace_check;
mod proxy;
mod renewal;
pub mod tls;
mod usage;

pub use grpc::{Code, ResponseBody, Status};
pub use limits::Limits;
pub use metrics::Metrics;
pub use renewal::{request_renewal, RENEW_PATH};
pub use tls::{namespace_from_sni, Identity, NamespacePolicy, Refusal, Registry};

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
    pub jwt_key_file: Option<std::path::PathBuf>,
    /// Namespaces whose clients may renew their certificates here, with the CA that signs.
    pub renewal_cas: Vec<(String, Arc<gatehouse_pki::CertificateAuthority>)>,
    /// Connection, handshake and HTTP/2 limits.
    pub limits: Limits,
}

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<HttpConnector>,
    proxy::CheckedBody,
>;

/// What connections and requests share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) client: Client,
    pub(crate) upstream_base: Uri,
    /// Bytes of partly received request messages the whole gateway may hold.
    pub(crate) budget: Arc<tokio::sync::Semaphore>,
    /// Mints upstream JWTs (`--upstream-jwt`).
    pub(crate) minter: Option<jwt::Minter>,
    /// New connections per source address.
    ip_rate: limits::IpRate,
    /// Handshakes in progress per source address.
    handshaking: limits::PerAddress,
}

/// One open TCP connection (counted in the metrics until dropped).
#[derive(Debug)]
struct OpenConnection(Arc<Shared>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.metrics.tcp_closed();
    }
}

impl Shared {
    /// Counts a tripped limit, logging its first trip and then every 100th.
    pub(crate) fn limit_tripped(&self, limit: &'static str, detail: &dyn std::fmt::Display) {
        let n = self.metrics.limit(limit);
        if n == 1 || n.is_multiple_of(100) {
            tracing::warn!(limit, trips = n, "{detail}");
        } else {
            tracing::debug!(limit, trips = n, "{detail}");
        }
    }

    /// Admits a new TCP connection from `peer` under the connection limits, or says why not.
    /// The second guard holds the address's handshake slot until the handshake ends.
    fn open_connection(
        self: &Arc<Self>,
        peer: SocketAddr,
    ) -> Result<(OpenConnection, limits::AddressSlot), ()> {
        let limits = &self.config.limits;
        if !self.ip_rate.allow(peer.ip(), std::time::Instant::now()) {
            self.limit_tripped(
                "connections-per-ip",
                &format_args!(
                    "connection from {} closed: more than {} new connections a second from one address (--connections-per-ip-per-second)",
                    peer.ip(),
                    limits.connections_per_ip_per_second
                ),
            );
            return Err(());
        }
        let n = self.metrics.tcp_opened();
        let open = OpenConnection(self.clone());
        if n > limits.max_connections {
            self.limit_tripped(
                "max-connections",
                &format_args!(
                    "connection from {peer} closed: {} connections already open (--max-connections)",
                    limits.max_connections
                ),
            );
            return Err(());
        }
        let Some(slot) = self.handshaking.enter(peer.ip()) else {
            self.limit_tripped(
                "handshakes-per-ip",
                &format_args!(
                    "connection from {} closed: {} handshakes from this address already in progress (--max-handshakes-per-ip)",
                    peer.ip(),
                    limits.max_handshakes_per_ip
                ),
            );
            return Err(());
        };
        Ok((open, slot))
    }
}

/// What all connections together may hold of partly received request messages.
const BUFFER_BUDGET_BYTES: usize = 256 * 1024 * 1024;
/// TLS handshakes in progress at once; more connections wait in the listen backlog.
const MAX_HANDSHAKES: usize = 1024;
/// Streams a client may reset before the server has accepted them (h2's own rapid-reset
/// guard; calls reset after acceptance count against `Limits::max_cancelled_calls`).
const MAX_PENDING_ACCEPT_RESETS: usize = 20;
/// How long a connection told to go away may finish its calls before it is closed.
const DRAIN_DEADLINE: Duration = Duration::from_secs(60);

/// Errors starting the gateway.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("store: {0}")]
    Store(#[from] gatehouse_store::StoreError),
    #[error("--upstream {0:?}: {1}")]
    Upstream(String, String),
}

/// The gateway: registry, shared state, and its background loops.
#[derive(Debug)]
pub struct Gateway {
    shared: Arc<Shared>,
    registry: Arc<Registry>,
    usage: Arc<usage::Usage>,
    store: Arc<dyn Store>,
    watch: Arc<dyn WatchStore>,
    generation: watch::Sender<u64>,
    /// The last audit event applied.
    position: std::sync::atomic::AtomicI64,
    /// Serializes reloads (the poll loop and [`Gateway::apply_changes`]).
    reload_lock: tokio::sync::Mutex<()>,
}

fn policy_of(ns: &Namespace) -> Result<NamespacePolicy, String> {
    let bundle = CaBundle::from_pem(
        ns.spec.accepted_client_ca.as_bytes(),
        "accepted client CA bundle",
    )
    .map_err(|e| e.to_string())?;
    let filters =
        CertificateFilters::new(ns.spec.certificate_filters.clone()).map_err(|e| e.to_string())?;
    Ok(NamespacePolicy {
        name: Arc::from(ns.name.as_str()),
        bundle,
        filters,
    })
}

impl Gateway {
    /// Builds the gateway and loads every namespace from the store.
    pub async fn new(
        config: Config,
        identity: Identity,
        store: Arc<dyn Store>,
        watch_store: Arc<dyn WatchStore>,
    ) -> Result<Arc<Self>, GatewayError> {
        let metrics = Arc::new(Metrics::default());
        let registry = Arc::new(Registry::new(&config.domain, identity, metrics.clone())?);
        let (client, upstream_base) = upstream_client(&config)?;
        let budget = Arc::new(tokio::sync::Semaphore::new(
            BUFFER_BUDGET_BYTES.max(2 * config.max_message_bytes),
        ));
        let minter = if config.upstream_jwt {
            Some(
                jwt::Minter::new("gatehouse", config.jwt_key_file.clone())
                    .map_err(|e| GatewayError::Upstream(config.upstream.clone(), e))?,
            )
        } else {
            None
        };
        let config_max_handshakes_per_ip = config.limits.max_handshakes_per_ip;
        let ip_rate = limits::IpRate::new(
            config.limits.connections_per_ip_per_second,
            config.limits.connections_per_ip_burst,
        );
        let shared = Arc::new(Shared {
            config,
            ip_rate,
            handshaking: limits::PerAddress::new(config_max_handshakes_per_ip),
            metrics,
            client,
            upstream_base,
            budget,
            minter,
        });
        let gateway = Arc::new(Self {
            shared,
            registry,
            usage: Arc::default(),
            store,
            watch: watch_store,
            generation: watch::Sender::new(0),
            position: std::sync::atomic::AtomicI64::new(0),
            reload_lock: tokio::sync::Mutex::new(()),
        });
        // The change-log position first: a change made during the load is applied again.
        let position = gateway.last_audit_id().await?;
        gateway.reload_all().await?;
        gateway
            .position
            .store(position, std::sync::atomic::Ordering::SeqCst);
        Ok(gateway)
    }

    /// The gateway's metrics (for `/metrics`).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    /// The JWKS of the upstream JWT signing keys (with `--upstream-jwt`).
    pub fn jwks(&self) -> Option<serde_json::Value> {
        self.shared.minter.as_ref().map(jwt::Minter::jwks)
    }

    /// The handshake registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    async fn reload_all(&self) -> Result<(), GatewayError> {
        let mut policies = Vec::new();
        for ns in self.store.list_namespaces().await? {
            match policy_of(&ns) {
                Ok(p) => policies.push(p),
                Err(e) => {
                    tracing::error!(namespace = %ns.name, error = %e, "namespace not served: its stored bundle or filters do not load")
                }
            }
        }
        let n = policies.len();
        self.registry.replace_all(policies)?;
        self.generation.send_modify(|g| *g += 1);
        tracing::info!(namespaces = n, "gateway loaded namespaces");
        Ok(())
    }

    async fn last_audit_id(&self) -> Result<i64, GatewayError> {
        Ok(self.store.namespace_changes_since(0).await?.0)
    }

    /// Applies every namespace change committed so far, now (the API in this process calls it
    /// after each namespace write, before answering).
    pub async fn apply_changes(&self) {
        let _serial = self.reload_lock.lock().await;
        let position = self.position.load(std::sync::atomic::Ordering::SeqCst);
        match self.reload_changed(position).await {
            Ok(p) => {
                self.position.store(p, std::sync::atomic::Ordering::SeqCst);
                if !self.shared.metrics.store_reached(true) {
                    tracing::info!("the store is reachable again: caught up with every change");
                }
            }
            Err(e) => {
                if self.shared.metrics.store_reached(false) {
                    tracing::error!(error = %e, "cannot read changes from the store: serving the last configuration loaded until it is back (gatehouse_gateway_store_up 0)");
                } else {
                    tracing::debug!(error = %e, "the store is still unreachable");
                }
            }
        }
    }

    /// Applies the namespaces changed since audit event `after`; returns the new position.
    async fn reload_changed(&self, after: i64) -> Result<i64, GatewayError> {
        let (position, names) = self.store.namespace_changes_since(after).await?;
        if names.is_empty() {
            return Ok(position.max(after));
        }
        let mut changes = Vec::with_capacity(names.len());
        for name in names {
            let policy = match self.store.get_namespace(&name).await? {
                Some(ns) => match policy_of(&ns) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::error!(namespace = %name, error = %e, "namespace no longer served: its stored bundle or filters do not load");
                        None
                    }
                },
                None => None,
            };
            tracing::info!(namespace = %name, removed = policy.is_none(), "namespace reloaded");
            changes.push((name, policy));
        }
        self.registry.apply(changes)?;
        self.generation.send_modify(|g| *g += 1);
        Ok(position)
    }

    /// Serves connections from `listener` until `shutdown` completes, then asks every
    /// connection to finish its calls (GOAWAY) and waits up to `drain` for them.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
        drain: Duration,
    ) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let reload = tokio::spawn(self.clone().reload_loop(stop_rx.clone()));
        let flush = tokio::spawn(self.clone().flush_loop(stop_rx.clone()));
        let tracker = tokio_util_tracker::Tracker::default();
        let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        tokio::pin!(shutdown);
        loop {
            // Accept only while a handshake slot is free (the kernel's backlog holds the rest).
            let slot = tokio::select! {
                _ = &mut shutdown => break,
                slot = handshakes.clone().acquire_owned() => match slot {
                    Ok(s) => s,
                    Err(_) => break,
                },
            };
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => {
                    let (tcp, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let Ok((open, address_slot)) = self.shared.open_connection(peer) else {
                        // Closed at once: no TLS, no task, nothing held.
                        drop(tcp);
                        continue;
                    };
                    let gw = self.clone();
                    let stop = stop_rx.clone();
                    let guard = tracker.guard();
                    tokio::spawn(async move {
                        gw.connection(tcp, peer, stop, (slot, address_slot)).await;
                        drop(open);
                        drop(guard);
                    });
                }
            }
        }
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(drain, tracker.wait()).await;
        let _ = reload.await;
        let _ = flush.await;
        self.flush().await;
    }

    /// Applies changes when the store says one committed (PostgreSQL's NOTIFY), and polls as
    /// well: every `reload_interval` without a feed, every second with one (a missed
    /// notification is then found within a second).
    async fn reload_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let wake = Arc::new(tokio::sync::Notify::new());
        let fed = self.store.watch_changes(Arc::downgrade(&wake)).await;
        let every = if fed {
            self.shared
                .config
                .reload_interval
                .max(Duration::from_secs(1))
        } else {
            self.shared.config.reload_interval
        };
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tick.tick() => {}
                () = wake.notified() => {}
            }
            self.apply_changes().await;
        }
    }

    async fn flush_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.shared.config.usage_flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tick.tick() => self.flush().await,
            }
        }
    }

    async fn flush(&self) {
        let batch = self.usage.take_batch(&self.shared.config.instance);
        if let Err(e) = self
            .watch
            .record_usage(&batch, OffsetDateTime::now_utc())
            .await
        {
            tracing::warn!(error = %e, "usage flush failed; counts kept for the next one");
            self.usage.restore(&batch);
        }
    }

    async fn connection(
        self: Arc<Self>,
        tcp: tokio::net::TcpStream,
        peer: SocketAddr,
        mut stop: watch::Receiver<bool>,
        handshake_slot: (tokio::sync::OwnedSemaphorePermit, limits::AddressSlot),
    ) {
        let _ = tcp.set_nodelay(true);
        let metrics = &self.shared.metrics;
        // Subscribed before the handshake, so a change made during it is seen afterwards.
        let mut generation = self.generation.subscribe();
        let handshake_timeout = self.shared.config.limits.handshake_timeout;
        let accepted = tokio::time::timeout(handshake_timeout, self.registry.accept(tcp)).await;
        drop(handshake_slot);
        let (endpoint, tls) = match accepted {
            Ok(Ok(a)) => a,
            Ok(Err(refusal)) => {
                // Certificate refusals were logged and counted by the verifier, with their rule.
                if !matches!(refusal, Refusal::Certificate(_)) {
                    tracing::info!(peer = %peer, rule = refusal.rule(), reason = %refusal, "connection refused");
                    metrics.handshake("", false, refusal.rule());
                }
                return;
            }
            Err(_) => {
                self.shared.limit_tripped(
                    "handshake-timeout",
                    &format_args!(
                        "connection from {peer} closed: no TLS handshake within {:?} (--handshake-timeout)",
                        handshake_timeout
                    ),
                );
                metrics.handshake("", false, "tls.timeout");
                return;
            }
        };
        let namespace = endpoint.policy.name.clone();
        let mut admitted_by = endpoint.clone();
        let chain: Vec<CertificateInfo> = tls
            .get_ref()
            .1
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .filter_map(|c| CertificateInfo::from_der(c).ok())
            .collect();
        let Some(leaf) = chain.first() else { return };
        let verified = match self.registry.admissions.take(&namespace, &leaf.der) {
            Some(v) => v,
            // Not expected (resumption is off, so the verifier ran), but never admit unverified.
            None => match endpoint.policy.verify(&chain, OffsetDateTime::now_utc()) {
                Ok(v) => Arc::new(v),
                Err(r) => {
                    tracing::info!(namespace = %namespace, peer = %peer, rule = r.reason.rule.id(), leaf = %leaf.fingerprint, reason = %r.reason.message, "client refused after the handshake");
                    metrics.handshake(&namespace, false, r.reason.rule.id());
                    return;
                }
            },
        };
        metrics.handshake(&namespace, true, "");
        metrics.connection_opened(&namespace);
        let cell = self.usage.admitted(
            &namespace,
            &verified.anchor_fingerprint.to_string(),
            &leaf.fingerprint.to_string(),
            &leaf.subject,
            leaf.not_after,
        );
        tracing::debug!(namespace = %namespace, peer = %peer, leaf = %leaf.fingerprint, ca = %verified.anchor_fingerprint, "connection admitted");
        let ctx = Arc::new(proxy::ConnCtx {
            shared: self.shared.clone(),
            namespace: namespace.clone(),
            usage: cell.clone(),
            peer: peer.to_string(),
            permissions: std::sync::atomic::AtomicU8::new(verified.permissions.bits()),
            subject: leaf.subject.clone(),
            leaf: Arc::new(leaf.clone()),
            anchor: verified.anchor_fingerprint.to_string().into(),
            token: std::sync::Mutex::new(None),
            activity: Arc::new(limits::Activity::new(
                self.shared.config.limits.max_cancelled_calls,
            )),
        });
        let conn_ctx = ctx.clone();
        let limits = &self.shared.config.limits;
        let service = hyper::service::service_fn(move |req| proxy::handle(ctx.clone(), req));
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.max_concurrent_streams)
            .max_header_list_size(limits.max_header_list_bytes)
            .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESETS)
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(20))
            .max_send_buf_size(1 << 20);
        let conn = builder.serve_connection(TokioIo::new(tls), service);
        tokio::pin!(conn);
        let mut recheck = tokio::time::interval(Duration::from_secs(30));
        recheck.reset();
        let idle_timeout = limits.idle_timeout;
        let mut idle_check =
            tokio::time::interval((idle_timeout / 4).max(Duration::from_millis(100)));
        idle_check.reset();
        let activity = conn_ctx.activity.clone();
        let mut draining = false;
        let drain_deadline = tokio::time::sleep(Duration::MAX / 4);
        tokio::pin!(drain_deadline);
        loop {
            if draining && drain_deadline.is_elapsed() {
                tracing::info!(namespace = %namespace, peer = %peer, "closing connection: calls did not finish within the drain deadline");
                break;
            }
            tokio::select! {
                () = &mut drain_deadline, if draining => continue,
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        if calmed_down(&e) {
                            self.shared.limit_tripped("rapid-reset", &format_args!(
                                "closed connection from {peer}: it reset more than {MAX_PENDING_ACCEPT_RESETS} calls before they started (HTTP/2 rapid reset)"));
                        } else {
                            tracing::debug!(namespace = %namespace, peer = %peer, error = %e, "connection ended with an error");
                        }
                    }
                    break;
                }
                changed = generation.changed(), if !draining => {
                    if changed.is_err() { continue; }
                    // Only connections whose namespace changed are verified again.
                    let current = self.registry.get(&namespace);
                    if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &admitted_by)) {
                        continue;
                    }
                    if let Some(e) = current {
                        admitted_by = e;
                    }
                }
                _ = recheck.tick(), if !draining => {}
                _ = idle_check.tick(), if !draining => {
                    if activity.idle_for(std::time::Instant::now()) >= idle_timeout {
                        self.shared.limit_tripped("idle-timeout", &format_args!(
                            "closing connection from {peer} (GOAWAY): no call for {idle_timeout:?} (--idle-timeout)"));
                        conn.as_mut().graceful_shutdown();
                        draining = true;
                        drain_deadline.as_mut().reset(tokio::time::Instant::now() + DRAIN_DEADLINE);
                    }
                    continue;
                }
                () = activity.calm_down.notified(), if !draining => {
                    self.shared.limit_tripped("cancelled-calls", &format_args!(
                        "closing connection from {peer} (GOAWAY): more than {} calls cancelled within {:?} (--max-cancelled-calls)",
                        limits.max_cancelled_calls, limits::RESET_WINDOW));
                    conn.as_mut().graceful_shutdown();
                    draining = true;
                    // In-flight calls of a connection abusing resets get little time.
                    drain_deadline.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(1));
                    continue;
                }
                _ = stop.changed(), if !draining => {
                    conn.as_mut().graceful_shutdown();
                    draining = true;
                    drain_deadline.as_mut().reset(tokio::time::Instant::now() + DRAIN_DEADLINE);
                    continue;
                }
            }
            // The namespace changed, or the periodic recheck (expiry) is due.
            if let Some(why) = self.no_longer_admitted(&namespace, &chain, &conn_ctx) {
                tracing::info!(namespace = %namespace, peer = %peer, leaf = %leaf.fingerprint, reason = %why, "closing connection (GOAWAY): no longer admitted");
                metrics.closed_on_reload();
                conn.as_mut().graceful_shutdown();
                draining = true;
                drain_deadline
                    .as_mut()
                    .reset(tokio::time::Instant::now() + DRAIN_DEADLINE);
            }
        }
        cell.closed();
        metrics.connection_closed(&namespace);
    }

    /// Why the current state would no longer admit this connection's chain, if it would not;
    /// otherwise its (possibly changed) permissions are stored on the connection.
    fn no_longer_admitted(
        &self,
        namespace: &str,
        chain: &[CertificateInfo],
        ctx: &proxy::ConnCtx,
    ) -> Option<String> {
        let Some(endpoint) = self.registry.get(namespace) else {
            ctx.permissions
                .store(0, std::sync::atomic::Ordering::Relaxed);
            *ctx.token
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            return Some(format!("namespace {namespace:?} is no longer served"));
        };
        match endpoint.policy.verify(chain, OffsetDateTime::now_utc()) {
            Ok(v) => {
                ctx.permissions
                    .store(v.permissions.bits(), std::sync::atomic::Ordering::Relaxed);
                None
            }
            Err(r) => {
                // Draining calls and late streams get nothing more.
                ctx.permissions
                    .store(0, std::sync::atomic::Ordering::Relaxed);
                *ctx.token
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                Some(format!("{}: {}", r.reason.rule.id(), r.reason.message))
            }
        }
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

/// The pooled HTTP/2 client to the upstream, and the base URI requests are sent to.
fn upstream_client(config: &Config) -> Result<(Client, Uri), GatewayError> {
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

/// Counts live connection tasks so shutdown can wait for them.
mod tokio_util_tracker {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::sync::Notify;

    #[derive(Debug, Default)]
    struct Inner {
        live: AtomicUsize,
        idle: Notify,
    }

    #[derive(Debug, Default, Clone)]
    pub(crate) struct Tracker(Arc<Inner>);

    #[derive(Debug)]
    pub(crate) struct Guard(Arc<Inner>);

    impl Tracker {
        pub(crate) fn guard(&self) -> Guard {
            self.0.live.fetch_add(1, Ordering::SeqCst);
            Guard(self.0.clone())
        }

        pub(crate) async fn wait(&self) {
            loop {
                let notified = self.0.idle.notified();
                if self.0.live.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            if self.0.live.fetch_sub(1, Ordering::SeqCst) == 1 {
                self.0.idle.notify_waiters();
            }
        }
    }
}

#[cfg(test)]
mod api_table_gen;
#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod tests;

/// Entry points for the fuzz targets in `fuzz/` (not an API: the proxy's internals, exposed so
/// the fuzzer reaches them without a TLS connection).
#[doc(hidden)]
pub mod fuzzing {
    use std::sync::Arc;

    use bytes::Bytes;

    use crate::api_table::METHODS;
    use crate::grpc::{Encoding, Framer};
    use crate::api_schema::Access;
    use crate::namespace_check::check_message;

    /// The namespaced methods, in table order.
    pub fn namespaced_methods() -> Vec<&'static str> {
        METHODS
            .iter()
            .filter(|(_, a)| matches!(a, Access::Namespaced(..)))
            .map(|(p, _)| *p)
            .collect()
    }

    /// Runs a request body, delivered in `chunks`, through the proxy's framing (with gzip when
    /// `gzip`) and the namespace check of `method` for namespace `ns`, as a connection does.
    /// Returns how many messages passed, or the first refusal.
    pub fn check_request(
        method: &str,
        ns: &str,
        gzip: bool,
        chunks: &[&[u8]],
        max_message_bytes: usize,
    ) -> Result<usize, String> {
        let Some(Access::Namespaced(request, _)) =
            METHODS.iter().find(|(p, _)| *p == method).map(|(_, a)| *a)
        else {
            return Err(format!("{method} is not a namespaced method"));
        };
        let encoding = if gzip {
            Encoding::Gzip
        } else {
            Encoding::Identity
        };
        let budget = Arc::new(tokio::sync::Semaphore::new(4 * max_message_bytes));
        let mut framer = Framer::new(max_message_bytes, encoding, budget);
        let mut passed = 0;
        for chunk in chunks {
            framer.push(Bytes::copy_from_slice(chunk));
            while let Some(m) = framer.next().map_err(|s| s.message)? {
                check_message(request, &m.payload, ns).map_err(|v| v.to_string())?;
                passed += 1;
            }
        }
        Ok(passed)
    }
}

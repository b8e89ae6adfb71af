//! The accept loop: the limits on new connections (rate per address, open connections,
//! handshakes per address and in all), the TLS handshake and the admission its verifier
//! recorded; then each connection runs as a tracked task. On shutdown: stop accepting, let
//! connections drain within the grace period, flush usage.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_pki::CertificateInfo;
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::connection::{self, Admitted};
use crate::gateway::Gateway;
use crate::limits::{AddressSlot, IpRate, PerAddress};
use crate::metrics::Metrics;
use crate::shared::Shared;
use crate::tls::Refusal;

/// TLS handshakes in progress at once; more connections wait in the listen backlog.
const MAX_HANDSHAKES: usize = 1024;

/// A connection's two handshake slots: one of the gateway's, one of its address's.
type HandshakeSlot = (OwnedSemaphorePermit, AddressSlot);

impl Gateway {
    /// Serves connections from `listener` until `shutdown` is cancelled, then asks every
    /// connection to finish its calls (GOAWAY) and waits up to `drain` for them.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
        drain: Duration,
    ) {
        // What the connections and loops stop on: the caller's shutdown, or the accept loop
        // ending by itself.
        let stop = shutdown.child_token();
        let config = &self.shared.config;
        let reload = tokio::spawn(
            self.reloader
                .clone()
                .run(config.reload_interval, stop.clone()),
        );
        let flush = tokio::spawn(self.usage.clone().flush_every(
            self.store.clone(),
            config.instance.clone(),
            config.usage_flush_interval,
            stop.clone(),
        ));
        let connections = TaskTracker::new();
        let admission = Admission::new(self.shared.clone());
        let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        loop {
            // Accept only while a handshake slot is free (the kernel's backlog holds the rest).
            let slot = tokio::select! {
                () = stop.cancelled() => break,
                slot = handshakes.clone().acquire_owned() => match slot {
                    Ok(s) => s,
                    Err(_) => break,
                },
            };
            tokio::select! {
                () = stop.cancelled() => break,
                accepted = listener.accept() => {
                    let (tcp, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let Ok((open, address_slot)) = admission.open(peer) else {
                        // Closed at once: no TLS, no task, nothing held.
                        drop(tcp);
                        continue;
                    };
                    let gw = self.clone();
                    let stop = stop.clone();
                    connections.spawn(async move {
                        if let Some(admitted) = handshake(&gw, tcp, peer, (slot, address_slot)).await {
                            connection::serve(gw, admitted, stop).await;
                        }
                        drop(open);
                    });
                }
            }
        }
        stop.cancel();
        connections.close();
        let _ = tokio::time::timeout(drain, connections.wait()).await;
        let _ = reload.await;
        let _ = flush.await;
        self.usage
            .flush(&self.store, &self.shared.config.instance)
            .await;
    }
}

/// The TLS handshake (within `--handshake-timeout`) and the verified client it admitted, or
/// `None` when it was refused (logged and counted).
async fn handshake(
    gw: &Gateway,
    tcp: TcpStream,
    peer: SocketAddr,
    handshake_slot: HandshakeSlot,
) -> Option<Admitted> {
    let _ = tcp.set_nodelay(true);
    let metrics = &gw.shared.metrics;
    // Subscribed before the handshake, so a change made during it is seen afterwards.
    let generation = gw.reloader.subscribe();
    let handshake_timeout = gw.shared.config.limits.handshake_timeout;
    let accepted = tokio::time::timeout(handshake_timeout, gw.registry.accept(tcp)).await;
    drop(handshake_slot);
    let (endpoint, tls) = match accepted {
        Ok(Ok(a)) => a,
        Ok(Err(refusal)) => {
            // Certificate refusals were logged and counted by the verifier, with their rule.
            if !matches!(refusal, Refusal::Certificate(_)) {
                tracing::info!(peer = %peer, rule = refusal.rule(), reason = %refusal, "connection refused");
                metrics.handshake("", false, refusal.rule());
            }
            return None;
        }
        Err(_) => {
            metrics.limit_tripped(
                "handshake-timeout",
                &format_args!(
                    "connection from {peer} closed: no TLS handshake within {:?} (--handshake-timeout)",
                    handshake_timeout
                ),
            );
            metrics.handshake("", false, "tls.timeout");
            return None;
        }
    };
    let namespace = endpoint.policy.name.clone();
    let chain: Vec<CertificateInfo> = tls
        .get_ref()
        .1
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .filter_map(|c| CertificateInfo::from_der(c).ok())
        .collect();
    let leaf = chain.first()?;
    let verified = match gw.registry.admissions.take(&namespace, &leaf.der) {
        Some(v) => v,
        // Not expected (resumption is off, so the verifier ran), but never admit unverified.
        None => match endpoint.policy.verify(&chain, OffsetDateTime::now_utc()) {
            Ok(v) => Arc::new(v),
            Err(r) => {
                tracing::info!(namespace = %namespace, peer = %peer, rule = r.reason.rule.id(), leaf = %leaf.fingerprint, reason = %r.reason.message, "client refused after the handshake");
                metrics.handshake(&namespace, false, r.reason.rule.id());
                return None;
            }
        },
    };
    metrics.handshake(&namespace, true, "");
    Some(Admitted {
        peer,
        leaf: Arc::new(leaf.clone()),
        endpoint,
        tls,
        chain,
        verified,
        generation,
    })
}

/// The limits a new TCP connection must pass before its handshake starts.
#[derive(Debug)]
struct Admission {
    shared: Arc<Shared>,
    /// New connections per source address.
    ip_rate: IpRate,
    /// Handshakes in progress per source address.
    handshaking: PerAddress,
}

/// One open TCP connection (counted in the metrics until dropped).
#[derive(Debug)]
struct OpenConnection(Arc<Metrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.tcp_closed();
    }
}

impl Admission {
    fn new(shared: Arc<Shared>) -> Self {
        let limits = &shared.config.limits;
        Self {
            ip_rate: IpRate::new(
                limits.connections_per_ip_per_second,
                limits.connections_per_ip_burst,
            ),
            handshaking: PerAddress::new(limits.max_handshakes_per_ip),
            shared,
        }
    }

    /// Admits a new TCP connection from `peer` under the connection limits, or says why not.
    /// The second guard holds the address's handshake slot until the handshake ends.
    fn open(&self, peer: SocketAddr) -> Result<(OpenConnection, AddressSlot), ()> {
        let limits = &self.shared.config.limits;
        let metrics = &self.shared.metrics;
        if !self.ip_rate.allow(peer.ip(), std::time::Instant::now()) {
            metrics.limit_tripped(
                "connections-per-ip",
                &format_args!(
                    "connection from {} closed: more than {} new connections a second from one address (--connections-per-ip-per-second)",
                    peer.ip(),
                    limits.connections_per_ip_per_second
                ),
            );
            return Err(());
        }
        let n = metrics.tcp_opened();
        let open = OpenConnection(metrics.clone());
        if n > limits.max_connections {
            metrics.limit_tripped(
                "max-connections",
                &format_args!(
                    "connection from {peer} closed: {} connections already open (--max-connections)",
                    limits.max_connections
                ),
            );
            return Err(());
        }
        let Some(slot) = self.handshaking.enter(peer.ip()) else {
            metrics.limit_tripped(
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

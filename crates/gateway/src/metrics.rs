//! The gateway's Prometheus metrics: handshakes by namespace, result and rule; open
//! connections; requests by namespace, method and grpc-status; proxy latency; upstream errors.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// (namespace, result, rule).
type HandshakeKey = (Arc<str>, &'static str, String);
/// (namespace, method, grpc-status).
type RequestKey = (Arc<str>, &'static str, &'static str);
/// (namespace, permissions, method).
type RequestKey2 = (Arc<str>, String, &'static str);

#[derive(Debug, Default)]
pub struct Metrics {
    handshakes: Mutex<HashMap<HandshakeKey, u64>>,
    open: Mutex<HashMap<Arc<str>, i64>>,
    requests: Mutex<HashMap<RequestKey, u64>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    role_denied: Mutex<HashMap<RequestKey2, u64>>,
    renewals: Mutex<HashMap<(Arc<str>, String), u64>>,
    upstream_errors: AtomicU64,
    closed_on_reload: AtomicU64,
    limits: Mutex<HashMap<&'static str, u64>>,
    tcp_connections: std::sync::atomic::AtomicUsize,
    /// 1 while the last look at the store succeeded.
    store_down: std::sync::atomic::AtomicBool,
    store_errors: AtomicU64,
    /// Unix time of the last successful look at the store (0: none yet).
    last_sync: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Metrics {
    /// A handshake's outcome: `rule` is the refusing rule id, or "" when admitted.
    pub(crate) fn handshake(&self, namespace: &str, admitted: bool, rule: &str) {
        let result = if admitted { "admitted" } else { "refused" };
        *lock(&self.handshakes)
            .entry((Arc::from(namespace), result, rule.to_owned()))
            .or_default() += 1;
    }

    pub(crate) fn connection_opened(&self, namespace: &Arc<str>) {
        *lock(&self.open).entry(namespace.clone()).or_default() += 1;
    }

    pub(crate) fn connection_closed(&self, namespace: &Arc<str>) {
        let mut open = lock(&self.open);
        if let Some(n) = open.get_mut(namespace) {
            *n -= 1;
        }
    }

    /// A look at the store for changes succeeded (`true`) or failed. Returns whether the store
    /// was reachable before, so the caller can log the change.
    pub(crate) fn store_reached(&self, ok: bool) -> bool {
        if ok {
            self.last_sync.store(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                Ordering::Relaxed,
            );
        } else {
            self.store_errors.fetch_add(1, Ordering::Relaxed);
        }
        !self.store_down.swap(!ok, Ordering::SeqCst)
    }

    pub(crate) fn closed_on_reload(&self) {
        self.closed_on_reload.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn request(
        &self,
        namespace: &Arc<str>,
        method: &'static str,
        status: &'static str,
        elapsed: Duration,
    ) {
        *lock(&self.requests)
            .entry((namespace.clone(), method, status))
            .or_default() += 1;
        let secs = elapsed.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn role_denied(&self, namespace: &Arc<str>, role: &str, method: &'static str) {
        *lock(&self.role_denied)
            .entry((namespace.clone(), role.to_owned(), method))
            .or_default() += 1;
    }

    /// A renewal's outcome: `rule` is the refusing rule id, or "" when renewed.
    pub(crate) fn renewal(&self, namespace: &Arc<str>, rule: &str) {
        let result = if rule.is_empty() { "renewed" } else { rule };
        *lock(&self.renewals)
            .entry((namespace.clone(), result.to_owned()))
            .or_default() += 1;
    }

    /// A resource limit tripped (`limit` is its name, as in `docs/security.md`): counts it,
    /// logging its first trip and then every 100th (the rest at debug level).
    pub(crate) fn limit_tripped(&self, limit: &'static str, detail: &dyn std::fmt::Display) {
        let n = self.limit(limit);
        if n == 1 || n.is_multiple_of(100) {
            tracing::warn!(limit, trips = n, "{detail}");
        } else {
            tracing::debug!(limit, trips = n, "{detail}");
        }
    }

    /// Counts a trip of `limit`; returns how many times it has tripped.
    fn limit(&self, limit: &'static str) -> u64 {
        let mut limits = lock(&self.limits);
        let n = limits.entry(limit).or_default();
        *n += 1;
        *n
    }

    /// How many times `limit` has tripped.
    pub fn limit_trips(&self, limit: &str) -> u64 {
        lock(&self.limits).get(limit).copied().unwrap_or(0)
    }

    /// A TCP connection opened; returns how many are open now (this one included).
    pub(crate) fn tcp_opened(&self) -> usize {
        self.tcp_connections.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// A TCP connection counted by [`Metrics::tcp_opened`] closed.
    pub(crate) fn tcp_closed(&self) {
        self.tcp_connections.fetch_sub(1, Ordering::SeqCst);
    }

    pub(crate) fn upstream_error(&self) {
        self.upstream_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the Prometheus text for the namespaces `visible` allows (connections refused
    /// before a namespace was known are shown to everyone who sees all namespaces, i.e. when
    /// `visible("")` is true).
    pub fn render(&self, out: &mut String, visible: &dyn Fn(&str) -> bool) {
        labelled(
            out,
            "gatehouse_gateway_handshakes_total",
            "counter",
            "TLS handshakes by namespace, result and refusing rule.",
            entries(&self.handshakes, |(ns, _, _)| visible(ns)),
            |(ns, result, rule)| {
                format!(
                    "namespace=\"{}\",result=\"{result}\",rule=\"{}\"",
                    label(ns),
                    label(rule)
                )
            },
        );
        labelled(
            out,
            "gatehouse_gateway_open_connections",
            "gauge",
            "Admitted client connections now open.",
            entries(&self.open, |ns| visible(ns)),
            |ns| format!("namespace=\"{}\"", label(ns)),
        );
        labelled(
            out,
            "gatehouse_gateway_requests_total",
            "counter",
            "gRPC calls by namespace, method and grpc-status.",
            entries(&self.requests, |(ns, _, _)| visible(ns)),
            |(ns, method, status)| {
                format!(
                    "namespace=\"{}\",method=\"{}\",grpc_status=\"{status}\"",
                    label(ns),
                    label(method)
                )
            },
        );
        labelled(
            out,
            "gatehouse_gateway_role_denied_total",
            "counter",
            "Calls refused because the certificate's filter role does not allow the method.",
            entries(&self.role_denied, |(ns, _, _)| visible(ns)),
            |(ns, role, method)| {
                format!(
                    "namespace=\"{}\",role=\"{}\",method=\"{}\"",
                    label(ns),
                    label(role),
                    label(method)
                )
            },
        );
        labelled(
            out,
            "gatehouse_gateway_renewals_total",
            "counter",
            "Certificate renewals through the gateway, by result (renewed or the refusing rule).",
            entries(&self.renewals, |(ns, _)| visible(ns)),
            |(ns, result)| format!("namespace=\"{}\",result=\"{}\"", label(ns), label(result)),
        );
        if !visible("") {
            return;
        }
        header(
            out,
            "gatehouse_gateway_request_duration_seconds",
            "histogram",
            "Time from a call's arrival to the end of its response.",
        );
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "gatehouse_gateway_request_duration_seconds_bucket{{le=\"{le}\"}} {}",
                self.latency_buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "gatehouse_gateway_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "gatehouse_gateway_request_duration_seconds_sum {}",
            self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "gatehouse_gateway_request_duration_seconds_count {count}"
        );
        scalar(
            out,
            "gatehouse_gateway_upstream_errors_total",
            "counter",
            "Calls that could not reach the Temporal frontend, or broke off.",
            self.upstream_errors.load(Ordering::Relaxed),
        );
        scalar(
            out,
            "gatehouse_gateway_connections_closed_on_reload_total",
            "counter",
            "Connections sent GOAWAY because a bundle or filter change no longer admits them.",
            self.closed_on_reload.load(Ordering::Relaxed),
        );
        labelled(
            out,
            "gatehouse_gateway_limit_trips_total",
            "counter",
            "Connections or calls stopped by a resource limit (see docs/security.md).",
            entries(&self.limits, |_| true),
            |limit| format!("limit=\"{limit}\""),
        );
        scalar(out, "gatehouse_gateway_store_up", "gauge", "1 if the gateway's last look at the store for changes succeeded; 0 while it serves the last configuration it loaded.", u8::from(!self.store_down.load(Ordering::SeqCst)));
        scalar(
            out,
            "gatehouse_gateway_store_errors_total",
            "counter",
            "Failed looks at the store for changes.",
            self.store_errors.load(Ordering::Relaxed),
        );
        scalar(
            out,
            "gatehouse_gateway_store_last_sync_timestamp_seconds",
            "gauge",
            "When the gateway last confirmed it has every committed change (Unix time).",
            self.last_sync.load(Ordering::Relaxed),
        );
        scalar(
            out,
            "gatehouse_gateway_tcp_connections",
            "gauge",
            "TCP connections now open on the gateway listener (handshaking or admitted).",
            self.tcp_connections.load(Ordering::SeqCst),
        );
    }
}

/// A metric's HELP and TYPE lines.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A metric with one value and no labels: its HELP and TYPE lines, then the value.
fn scalar(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// A metric with labels: its HELP and TYPE lines, then one line a row, sorted: the labels
/// `labels` writes for the row's key, and its value.
fn labelled<K: Ord, V: Ord + std::fmt::Display>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    mut rows: Vec<(K, V)>,
    labels: impl Fn(&K) -> String,
) {
    header(out, name, kind, help);
    rows.sort();
    for (key, value) in rows {
        let _ = writeln!(out, "{name}{{{}}} {value}", labels(&key));
    }
}

/// The entries of `map` whose key `keep` allows.
fn entries<K: Clone, V: Copy>(
    map: &Mutex<HashMap<K, V>>,
    keep: impl Fn(&K) -> bool,
) -> Vec<(K, V)> {
    lock(map)
        .iter()
        .filter(|&(key, _)| keep(key))
        .map(|(key, value)| (key.clone(), *value))
        .collect()
}

/// Escapes a Prometheus label value.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

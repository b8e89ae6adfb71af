//! Resource limits on what a client may make the gateway hold: connections, handshake time,
//! new connections per source address, idle connections and cancelled calls. Each limit has
//! a safe default, a flag, and a counter (`gatehouse_gateway_limit_trips_total{limit}`); the
//! table is in `docs/security.md`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The gateway's limits (the `gatehouse serve`/`gateway` flags of the same names).
#[derive(Debug, Clone)]
pub struct Limits {
    /// A TLS handshake must finish within this (slowloris).
    pub handshake_timeout: Duration,
    /// TCP connections open at once (handshaking or admitted); more are closed on accept.
    pub max_connections: usize,
    /// New connections per second from one source address (a token bucket; 0 turns it off).
    pub connections_per_ip_per_second: u32,
    /// How many new connections one address may open at once before the rate applies.
    pub connections_per_ip_burst: u32,
    /// TLS handshakes in progress at once from one address (stalled handshakes cannot take
    /// every slot of the gateway's 1024).
    pub max_handshakes_per_ip: u32,
    /// Calls at once on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS).
    pub max_concurrent_streams: u32,
    /// Largest request header block (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE).
    pub max_header_list_bytes: u32,
    /// Calls a client may cancel on one connection within [`RESET_WINDOW`] before the
    /// connection is told to go away (HTTP/2 rapid reset, CVE-2023-44487).
    pub max_cancelled_calls: u32,
    /// A connection with no call in flight for this long is told to go away.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            connections_per_ip_per_second: 100,
            connections_per_ip_burst: 200,
            max_handshakes_per_ip: 64,
            max_concurrent_streams: 100,
            max_header_list_bytes: 64 * 1024,
            max_cancelled_calls: 200,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// The window [`Limits::max_cancelled_calls`] counts over.
pub(crate) const RESET_WINDOW: Duration = Duration::from_secs(10);

/// Addresses tracked at most; past this, full buckets are forgotten first.
const MAX_TRACKED_ADDRESSES: usize = 100_000;

/// The address a limit counts: an IPv4 address, or an IPv6 address's /64 (one host's
/// allocation; rotating through it must not escape the limit). IPv4-mapped IPv6 is IPv4.
pub(crate) fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(octets.into())
            }
        },
    }
}

/// Tokens left and when they were counted, per address.
type Buckets = HashMap<IpAddr, (f64, Instant)>;

/// New connections per source address: one token bucket each.
#[derive(Debug)]
pub(crate) struct IpRate {
    rate: f64,
    burst: f64,
    /// The buckets, and when full ones were last forgotten.
    buckets: Mutex<(Buckets, Option<Instant>)>,
}

impl IpRate {
    pub(crate) fn new(per_second: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Whether `ip` may open another connection now (and takes a token if so).
    pub(crate) fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let ip = address_key(ip);
        let mut guard = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let (buckets, pruned_at) = &mut *guard;
        if buckets.len() >= MAX_TRACKED_ADDRESSES && !buckets.contains_key(&ip) {
            // Forget refilled buckets, at most once a second (not a full scan per newcomer).
            if pruned_at.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
                *pruned_at = Some(now);
                let (rate, burst) = (self.rate, self.burst);
                buckets.retain(|_, (tokens, at)| {
                    *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
                });
            }
            if buckets.len() >= MAX_TRACKED_ADDRESSES {
                // Every tracked address is mid-burst: refuse newcomers rather than grow.
                return false;
            }
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Handshakes in progress per source address.
#[derive(Debug)]
pub(crate) struct PerAddress {
    max: u32,
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// One handshake in progress from an address (see [`PerAddress::enter`]).
#[derive(Debug)]
pub(crate) struct AddressSlot {
    ip: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl PerAddress {
    pub(crate) fn new(max: u32) -> Self {
        Self {
            max,
            counts: Arc::default(),
        }
    }

    /// A slot for one more handshake from `ip`, or `None` at the limit.
    pub(crate) fn enter(&self, ip: IpAddr) -> Option<AddressSlot> {
        let ip = address_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            ip,
            counts: self.counts.clone(),
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// One connection's calls: how many are in flight, when the last one ended, and how many the
/// client cancelled recently.
#[derive(Debug)]
pub(crate) struct Activity {
    epoch: Instant,
    active: AtomicUsize,
    /// Milliseconds after `epoch` when the connection last went idle.
    idle_since_ms: AtomicU64,
    cancelled: Mutex<(u32, Instant)>,
    max_cancelled: u32,
    /// Woken when the cancelled-call limit trips.
    pub(crate) calm_down: Notify,
}

impl Activity {
    pub(crate) fn new(max_cancelled: u32) -> Self {
        let now = Instant::now();
        Self {
            epoch: now,
            active: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            cancelled: Mutex::new((0, now)),
            max_cancelled,
            calm_down: Notify::new(),
        }
    }

    /// A call started; the guard ends it. A guard dropped without [`CallGuard::finish`] is a
    /// call the client cancelled (the server drops a call's future when its stream is reset).
    pub(crate) fn begin(self: &Arc<Self>) -> CallGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        CallGuard {
            activity: self.clone(),
            finished: false,
        }
    }

    /// How long the connection has had no call in flight (zero while one is).
    pub(crate) fn idle_for(&self, now: Instant) -> Duration {
        if self.active.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        let since = self.epoch + Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst));
        now.saturating_duration_since(since)
    }

    /// Counts a call the client cancelled; true when that trips the limit.
    pub(crate) fn cancelled(&self, now: Instant) -> bool {
        let mut c = self
            .cancelled
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if now.duration_since(c.1) > RESET_WINDOW {
            *c = (0, now);
        }
        c.0 = c.0.saturating_add(1);
        if c.0 == self.max_cancelled.saturating_add(1) {
            self.calm_down.notify_one();
            return true;
        }
        false
    }

    fn ended(&self) {
        // The time first, then the count: a reader that sees no call in flight also sees when
        // the last one ended.
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.idle_since_ms.store(ms, Ordering::SeqCst);
        self.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A call in flight on a connection (see [`Activity::begin`]).
#[derive(Debug)]
pub(crate) struct CallGuard {
    activity: Arc<Activity>,
    finished: bool,
}

impl CallGuard {
    /// The call completed (its response was produced, or its response body ended).
    pub(crate) fn finish(mut self) {
        self.finished = true;
    }

    /// The client cancelled the call (its request body was reset).
    pub(crate) fn cancel(self) {
        // Dropping unfinished counts it.
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.finished {
            // Tripping wakes the connection, which counts and logs it.
            self.activity.cancelled(Instant::now());
        }
        self.activity.ended();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_rate_allows_the_burst_then_the_rate() {
        let r = IpRate::new(10, 5);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [127, 0, 0, 2].into();
        let t = Instant::now();
        assert!((0..5).all(|_| r.allow(ip, t)));
        assert!(!r.allow(ip, t), "the burst is spent");
        assert!(r.allow(other, t), "per address");
        assert!(
            r.allow(ip, t + Duration::from_millis(110)),
            "refilled at 10/s"
        );
        assert!(!r.allow(ip, t + Duration::from_millis(110)));
        assert!(IpRate::new(0, 0).allow(ip, t), "0 turns it off");
        // One IPv6 host's /64 is one address.
        let r = IpRate::new(1, 1);
        assert!(r.allow("2001:db8::1".parse().unwrap(), t));
        assert!(!r.allow("2001:db8::ffff:2".parse().unwrap(), t));
        assert!(r.allow("2001:db8:0:1::1".parse().unwrap(), t));
    }

    #[test]
    fn handshakes_per_address_are_capped_and_released() {
        let p = PerAddress::new(2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let a = p.enter(ip).unwrap();
        let _b = p.enter(ip).unwrap();
        assert!(p.enter(ip).is_none());
        assert!(p.enter([10, 0, 0, 2].into()).is_some());
        drop(a);
        assert!(p.enter(ip).is_some(), "a finished handshake frees its slot");
    }

    #[test]
    fn cancelled_calls_trip_once_past_the_limit_and_the_window_resets() {
        let a = Arc::new(Activity::new(3));
        let t = Instant::now();
        assert!(!(0..3).any(|_| a.cancelled(t)));
        assert!(a.cancelled(t), "the 4th trips");
        assert!(!a.cancelled(t), "tripping is reported once");
        assert!(!a.cancelled(t + RESET_WINDOW + Duration::from_millis(1)));
    }

    #[test]
    fn finished_calls_are_not_cancellations_and_idle_time_counts_from_the_last_call() {
        let a = Arc::new(Activity::new(0));
        let g = a.begin();
        assert_eq!(
            a.idle_for(Instant::now() + Duration::from_secs(5)),
            Duration::ZERO
        );
        g.finish();
        // With a limit of 0 the first cancellation trips: finished calls must not have.
        let a = Arc::new(Activity::new(0));
        a.begin().finish();
        a.begin().finish();
        assert!(
            a.cancelled(Instant::now()),
            "finished calls were counted as cancelled"
        );
        let a = Arc::new(Activity::new(0));
        drop(a.begin());
        // The drop counted (and tripped), so this second cancellation does not trip again.
        assert!(
            !a.cancelled(Instant::now()),
            "a dropped call was not counted as cancelled"
        );
        let a = Arc::new(Activity::new(5));
        a.begin().finish();
        assert!(a.idle_for(Instant::now() + Duration::from_secs(5)) >= Duration::from_secs(4));
    }
}

//! Failed-authentication limits: an address that presents too many unknown, revoked or
//! expired API keys (to the API or the console's sign-in) is refused for a while, before its
//! key is even looked up.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures an address may have in one window.
pub const MAX_FAILURES: u32 = 10;
/// The window, and how long an address that exceeded it waits.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at once; beyond this, the oldest windows are forgotten first.
const MAX_TRACKED: usize = 10_000;

/// Per-address failure counts.
#[derive(Debug, Default)]
pub struct AuthLimiter {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    /// Failed authentications, and requests refused because of earlier failures.
    pub failed: AtomicU64,
    pub limited: AtomicU64,
}

impl AuthLimiter {
    /// `Err(seconds to wait)` while `ip` is over the limit.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        let Some(ip) = ip else { return Ok(()) };
        let map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(&ip) {
            Some((n, start)) if *n >= MAX_FAILURES && start.elapsed() < WINDOW => {
                self.limited.fetch_add(1, Ordering::Relaxed);
                Err((WINDOW - start.elapsed()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication from `ip`.
    pub fn failed(&self, ip: Option<IpAddr>) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let Some(ip) = ip else { return };
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
            map.retain(|_, (_, start)| start.elapsed() < WINDOW);
            if map.len() >= MAX_TRACKED {
                if let Some(oldest) = map.iter().min_by_key(|(_, (_, s))| *s).map(|(k, _)| *k) {
                    map.remove(&oldest);
                }
            }
        }
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_block_that_address_only() {
        let l = AuthLimiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(l.check(Some(a)).is_ok());
            l.failed(Some(a));
        }
        let wait = l.check(Some(a)).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(l.check(Some(b)).is_ok());
        assert!(l.check(None).is_ok(), "no address, no limit");
        assert_eq!(l.failed.load(Ordering::Relaxed), 10);
        assert_eq!(l.limited.load(Ordering::Relaxed), 1);
    }
}

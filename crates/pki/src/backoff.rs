//! How long to wait before trying again after failures.

use std::time::Duration;

/// A doubling delay: `first` after the first failure, twice as long after each further one, at
/// most `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// Retries of notices and renewals: 1 minute, doubling, at most an hour.
    pub const RETRY: Backoff = Backoff {
        first: Duration::from_secs(60),
        max: Duration::from_secs(3600),
    };

    /// The wait after `failures` failed tries in a row (0 and 1 both give `first`).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first
            .checked_mul(1u32 << doublings)
            .map_or(self.max, |d| d.min(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_first_up_to_max() {
        let b = Backoff::RETRY;
        assert_eq!(b.delay(0), Duration::from_secs(60));
        assert_eq!(b.delay(1), Duration::from_secs(60));
        assert_eq!(b.delay(2), Duration::from_secs(120));
        assert_eq!(b.delay(4), Duration::from_secs(480));
        assert_eq!(b.delay(6), Duration::from_secs(1920));
        assert_eq!(b.delay(7), Duration::from_secs(3600));
        assert_eq!(b.delay(50), Duration::from_secs(3600));
    }

    #[test]
    fn huge_counts_and_large_firsts_do_not_overflow() {
        let b = Backoff {
            first: Duration::from_secs(u64::MAX / 2),
            max: Duration::MAX,
        };
        assert_eq!(b.delay(u32::MAX), Duration::MAX);
        assert_eq!(Backoff::RETRY.delay(u32::MAX), Duration::from_secs(3600));
    }
}

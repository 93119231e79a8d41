//! Failed-login counting per client address: after `limit` failures inside `window`, checks
//! from that address are refused without running argon2 until the window has passed. Used for
//! proxy authentication and for identity-map tokens. The table is bounded so a flood of
//! spoofed or many source addresses cannot grow it without limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failure windows per client address.
#[derive(Debug)]
pub struct FailureLimiter {
    /// Failures allowed per window.
    limit: u32,
    /// Window length.
    window: Duration,
    /// Most addresses tracked.
    max_clients: usize,
    /// Address → its current window.
    entries: HashMap<IpAddr, FailureWindow>,
}

/// One client's current window.
#[derive(Debug, Clone, Copy)]
struct FailureWindow {
    /// When the window opened (at its first failure).
    start: Instant,
    /// Failures so far in it.
    failures: u32,
}

impl FailureLimiter {
    /// At most `limit` failures per `window` per address, tracking at most `max_clients`
    /// addresses (at least one).
    pub fn new(limit: u32, window: Duration, max_clients: usize) -> Self {
        Self {
            limit,
            window,
            max_clients: max_clients.max(1),
            entries: HashMap::new(),
        }
    }

    /// Whether `ip` has used up its failures in the current window.
    pub fn is_limited(&self, ip: IpAddr, now: Instant) -> bool {
        self.entries.get(&ip).is_some_and(|w| {
            now.saturating_duration_since(w.start) < self.window && w.failures >= self.limit
        })
    }

    /// Counts one failure for `ip`.
    pub fn record_failure(&mut self, ip: IpAddr, now: Instant) {
        if let Some(w) = self.entries.get_mut(&ip) {
            if now.saturating_duration_since(w.start) >= self.window {
                *w = FailureWindow {
                    start: now,
                    failures: 1,
                };
            } else {
                w.failures = w.failures.saturating_add(1);
            }
            return;
        }
        if self.entries.len() >= self.max_clients {
            let window = self.window;
            self.entries
                .retain(|_, w| now.saturating_duration_since(w.start) < window);
        }
        if self.entries.len() >= self.max_clients {
            // Still full of live windows: forget the oldest. An attacker spraying addresses
            // can at worst shorten other addresses' windows, never grow memory.
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, w)| w.start)
                .map(|(ip, _)| *ip)
            {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(
            ip,
            FailureWindow {
                start: now,
                failures: 1,
            },
        );
    }

    /// Addresses currently tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn limits_after_n_failures_until_the_window_passes() {
        let t0 = Instant::now();
        let mut l = FailureLimiter::new(3, Duration::from_secs(60), 100);
        for _ in 0..2 {
            l.record_failure(ip(1), t0);
        }
        assert!(!l.is_limited(ip(1), t0));
        l.record_failure(ip(1), t0 + Duration::from_secs(10));
        assert!(l.is_limited(ip(1), t0 + Duration::from_secs(59)));
        assert!(!l.is_limited(ip(2), t0));
        assert!(!l.is_limited(ip(1), t0 + Duration::from_secs(60)));
        // A new window starts from one failure.
        l.record_failure(ip(1), t0 + Duration::from_secs(61));
        assert!(!l.is_limited(ip(1), t0 + Duration::from_secs(61)));
    }

    #[test]
    fn table_stays_bounded_under_an_address_flood() {
        let t0 = Instant::now();
        let mut l = FailureLimiter::new(1, Duration::from_secs(60), 50);
        for n in 0..10_000 {
            l.record_failure(ip(n), t0 + Duration::from_millis(u64::from(n)));
        }
        assert_eq!(l.len(), 50);
        // The newest addresses are the ones kept.
        assert!(l.is_limited(ip(9_999), t0 + Duration::from_secs(11)));
        assert!(!l.is_limited(ip(0), t0 + Duration::from_secs(11)));
    }
}

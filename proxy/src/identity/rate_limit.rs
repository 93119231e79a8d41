//! Failed-login counting per client: after `limit` failures inside `window`, checks from that
//! client are refused without running argon2 until the window has passed. Used for proxy
//! authentication and for identity-map tokens.
//!
//! A check counts against the limit from the moment it is admitted, not only once it has
//! failed: otherwise a burst of guesses sent at once would all pass the "limited yet?" test
//! before the first failure was recorded. Checks beyond the limit wait for the admitted ones
//! to settle (a browser's parallel first requests with the right password still all get in).
//!
//! A client is its IPv4 address, or its IPv6 /64: one IPv6 device can use a whole /64 of
//! privacy addresses. The table is bounded so a flood of many source addresses cannot grow it
//! without limit.

use crate::client_key::client_key;
use crate::clock::SharedClock;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failure windows per client.
#[derive(Debug)]
pub struct FailureLimiter {
    /// Failures allowed per window.
    limit: u32,
    /// Window length.
    window: Duration,
    /// Most clients tracked.
    max_clients: usize,
    /// Client key → its current window.
    entries: HashMap<IpAddr, FailureWindow>,
}

/// One client's current window.
#[derive(Debug, Clone, Copy)]
struct FailureWindow {
    /// When the window opened (at its first failure).
    start: Instant,
    /// Failures so far in it.
    failures: u32,
    /// Checks admitted and not yet settled.
    pending: u32,
}

/// Whether a check may run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Run it; settle it with [`FailureLimiter::settle`] whatever happens.
    Go,
    /// Checks already running could use up the client's allowance: wait until one settles.
    Wait,
    /// The client has used up its failures; it may try again after this long.
    Limited {
        /// Until the window closes (at least one second).
        retry_after: Duration,
    },
}

impl FailureWindow {
    /// Failures that still count at `now`.
    fn live_failures(&self, now: Instant, window: Duration) -> u32 {
        if now.saturating_duration_since(self.start) < window {
            self.failures
        } else {
            0
        }
    }
}

impl FailureLimiter {
    /// At most `limit` failures per `window` per client, tracking at most `max_clients`
    /// clients (at least one).
    pub fn new(limit: u32, window: Duration, max_clients: usize) -> Self {
        Self {
            limit,
            window,
            max_clients: max_clients.max(1),
            entries: HashMap::new(),
        }
    }

    /// Whether `ip`'s client has used up its failures in the current window.
    pub fn is_limited(&self, ip: IpAddr, now: Instant) -> bool {
        self.entries
            .get(&client_key(ip))
            .is_some_and(|w| w.live_failures(now, self.window) >= self.limit)
    }

    /// How long until `ip`'s client may try again, if it has used up its failures (at least
    /// one second).
    pub fn retry_after(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let w = self.entries.get(&client_key(ip))?;
        (w.live_failures(now, self.window) >= self.limit).then(|| {
            self.window
                .saturating_sub(now.saturating_duration_since(w.start))
                .max(Duration::from_secs(1))
        })
    }

    /// `ip`'s client's window, a new one (room made for it first) if it has none.
    fn window_of(&mut self, ip: IpAddr, now: Instant) -> &mut FailureWindow {
        let key = client_key(ip);
        if !self.entries.contains_key(&key) {
            self.make_room(now);
        }
        self.entries.entry(key).or_insert(FailureWindow {
            start: now,
            failures: 0,
            pending: 0,
        })
    }

    /// Whether a check from `ip` may run now; [`Admission::Go`] counts it as pending until
    /// [`settle`](Self::settle) is called for it.
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Admission {
        let (window, limit) = (self.window, self.limit);
        let w = self.window_of(ip, now);
        let failures = w.live_failures(now, window);
        if failures >= limit {
            let left = window.saturating_sub(now.saturating_duration_since(w.start));
            return Admission::Limited {
                retry_after: left.max(Duration::from_secs(1)),
            };
        }
        if failures.saturating_add(w.pending) >= limit {
            return Admission::Wait;
        }
        w.pending += 1;
        Admission::Go
    }

    /// Ends an admitted check from `ip`: `failed` when the secret was wrong (not when the
    /// check could not run).
    pub fn settle(&mut self, ip: IpAddr, now: Instant, failed: bool) {
        let key = client_key(ip);
        if let Some(w) = self.entries.get_mut(&key) {
            w.pending = w.pending.saturating_sub(1);
            if !failed {
                if w.pending == 0 && w.live_failures(now, self.window) == 0 {
                    self.entries.remove(&key);
                }
                return;
            }
        } else if !failed {
            return;
        }
        self.record_failure(ip, now);
    }

    /// Counts one failure for `ip`'s client.
    pub fn record_failure(&mut self, ip: IpAddr, now: Instant) {
        let window = self.window;
        let w = self.window_of(ip, now);
        if w.live_failures(now, window) == 0 {
            w.start = now;
            w.failures = 1;
        } else {
            w.failures = w.failures.saturating_add(1);
        }
    }

    /// Makes room for one more client: drops closed windows with nothing pending, then, if
    /// still full, the oldest. An attacker spraying addresses can at worst shorten other
    /// clients' windows, never grow memory.
    fn make_room(&mut self, now: Instant) {
        if self.entries.len() < self.max_clients {
            return;
        }
        let window = self.window;
        self.entries
            .retain(|_, w| w.pending > 0 || w.live_failures(now, window) > 0);
        if self.entries.len() >= self.max_clients {
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, w)| w.start)
                .map(|(ip, _)| *ip)
            {
                self.entries.remove(&oldest);
            }
        }
    }

    /// Clients currently tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no client is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A [`FailureLimiter`] shared by the requests of one checker (proxy sign-in or tokens) and
/// the verifier threads that settle their checks.
#[derive(Debug, Clone)]
pub struct SharedLimiter {
    /// The counts.
    limiter: Arc<Mutex<FailureLimiter>>,
    /// Woken whenever a check settles, for the checks waiting their turn.
    settled: Arc<tokio::sync::Notify>,
    /// Time for the windows.
    clock: SharedClock,
}

fn lock(m: &Mutex<FailureLimiter>) -> std::sync::MutexGuard<'_, FailureLimiter> {
    // Every change is a single field update: a panic elsewhere leaves the table usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SharedLimiter {
    /// Shares `limiter`, timed by `clock`.
    pub fn new(limiter: FailureLimiter, clock: SharedClock) -> Self {
        Self {
            limiter: Arc::new(Mutex::new(limiter)),
            settled: Arc::new(tokio::sync::Notify::new()),
            clock,
        }
    }

    /// Whether `ip`'s client has used up its failures.
    pub fn is_limited(&self, ip: IpAddr) -> bool {
        lock(&self.limiter).is_limited(ip, self.clock.now())
    }

    /// How long until `ip`'s client may try again, if it has used up its failures.
    pub fn retry_after(&self, ip: IpAddr) -> Option<Duration> {
        lock(&self.limiter).retry_after(ip, self.clock.now())
    }

    /// Waits until a check from `ip` may run; `Err(retry_after)` when the client has used up
    /// its failures. The returned [`PendingCheck`] counts against the client until it is
    /// dropped, which should happen only once the check has run (move it into the job).
    pub async fn admit(&self, ip: IpAddr) -> Result<PendingCheck, Duration> {
        loop {
            // Registered before looking, so a check settling in between is not missed.
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            match lock(&self.limiter).admit(ip, self.clock.now()) {
                Admission::Go => {
                    return Ok(PendingCheck {
                        limiter: self.clone(),
                        ip,
                        failed: false,
                    });
                }
                Admission::Limited { retry_after } => return Err(retry_after),
                Admission::Wait => {}
            }
            settled.await;
        }
    }

    /// Clients tracked (for tests and debugging).
    pub fn len(&self) -> usize {
        lock(&self.limiter).len()
    }

    /// Whether no client is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An admitted check. Dropping it settles it: as a failure if [`failed`](Self::failed) was
/// called, else as not one (a success, or a check that could not run).
#[derive(Debug)]
pub struct PendingCheck {
    /// Where it counts.
    limiter: SharedLimiter,
    /// Its client.
    ip: IpAddr,
    /// Whether the secret was wrong.
    failed: bool,
}

impl PendingCheck {
    /// Marks the check as a failure (wrong secret).
    pub fn failed(&mut self) {
        self.failed = true;
    }
}

impl Drop for PendingCheck {
    fn drop(&mut self) {
        let now = self.limiter.clock.now();
        lock(&self.limiter.limiter).settle(self.ip, now, self.failed);
        self.limiter.settled.notify_waiters();
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

    #[test]
    fn checks_count_from_admission_so_a_burst_gets_only_the_limit() {
        let t0 = Instant::now();
        let mut l = FailureLimiter::new(5, Duration::from_secs(60), 100);
        // Nine guesses arrive at once: five are admitted, the rest wait.
        let admitted: Vec<Admission> = (0..9).map(|_| l.admit(ip(1), t0)).collect();
        assert_eq!(
            admitted.iter().filter(|a| **a == Admission::Go).count(),
            5,
            "{admitted:?}"
        );
        assert!(admitted[5..].iter().all(|a| *a == Admission::Wait));
        for _ in 0..5 {
            l.settle(ip(1), t0, true);
        }
        // The waiting four are then refused, and told when to come back.
        assert_eq!(
            l.admit(ip(1), t0 + Duration::from_secs(20)),
            Admission::Limited {
                retry_after: Duration::from_secs(40)
            }
        );
        assert_eq!(l.admit(ip(1), t0 + Duration::from_secs(60)), Admission::Go);
    }

    #[test]
    fn successes_free_their_place_and_leave_no_entry() {
        let t0 = Instant::now();
        let mut l = FailureLimiter::new(2, Duration::from_secs(60), 100);
        assert_eq!(l.admit(ip(1), t0), Admission::Go);
        assert_eq!(l.admit(ip(1), t0), Admission::Go);
        assert_eq!(l.admit(ip(1), t0), Admission::Wait);
        l.settle(ip(1), t0, false);
        assert_eq!(l.admit(ip(1), t0), Admission::Go);
        l.settle(ip(1), t0, false);
        l.settle(ip(1), t0, false);
        assert!(l.is_empty());
    }

    #[test]
    fn an_ipv6_64_is_one_client_and_mapped_addresses_are_ipv4() {
        let t0 = Instant::now();
        let mut l = FailureLimiter::new(2, Duration::from_secs(60), 100);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:eeee:dddd:cccc".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        l.record_failure(a, t0);
        l.record_failure(b, t0);
        assert!(l.is_limited("2001:db8:1:2::99".parse().unwrap(), t0));
        assert!(!l.is_limited(other, t0));
        l.record_failure("10.0.0.7".parse().unwrap(), t0);
        l.record_failure("::ffff:10.0.0.7".parse().unwrap(), t0);
        assert!(l.is_limited("10.0.0.7".parse().unwrap(), t0));
        assert!(!l.is_limited("10.0.0.8".parse().unwrap(), t0));
    }
}

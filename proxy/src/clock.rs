//! The daemon's clock, injectable so that caches, rate limits and log rotation can be tested
//! without sleeping and without pausing tokio's time around real sockets.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the daemon reads the time.
pub trait Clock: Send + Sync + Debug {
    /// Monotonic time, for expiry and rate windows.
    fn now(&self) -> Instant;
    /// Wall-clock time, for log records, file names and policy time windows.
    fn wall(&self) -> jiff::Timestamp;
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// A clock that moves only when a test moves it.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    state: Mutex<(Duration, jiff::Timestamp)>,
}

impl ManualClock {
    /// A clock reading `wall`, whose monotonic time starts now.
    pub fn new(wall: jiff::Timestamp) -> Self {
        Self {
            start: Instant::now(),
            state: Mutex::new((Duration::ZERO, wall)),
        }
    }

    /// Moves both readings forward.
    pub fn advance(&self, by: Duration) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 += by;
        state.1 = state
            .1
            .checked_add(jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX))
            .unwrap_or(state.1);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.start + state.0
    }
    fn wall(&self) -> jiff::Timestamp {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

/// The real clock as a shared handle.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_both_readings_together() {
        let wall: jiff::Timestamp = "2026-11-30T09:00:00Z".parse().unwrap();
        let clock = ManualClock::new(wall);
        let t0 = clock.now();
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now() - t0, Duration::from_secs(90));
        assert_eq!(clock.wall().to_string(), "2026-11-30T09:01:30Z");
    }
}

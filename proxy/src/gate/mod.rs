//! The gate: what every entry point (the HTTP proxy, the DNS server, the admin listener) shares,
//! and the one pipeline each request, tunnel and DNS question goes through — identify, decide,
//! the fail-closed check, record.
//!
//! - [`snapshot`] — [`Snapshot`]: everything derived from one config, built by one
//!   [`Snapshot::build`], numbered by `generation`;
//! - [`pipeline`] — the phases, written once: identify, decide (per-thread scratch, per-second
//!   local time), the fail-closed check, reserve/record, the unlogged fallback;
//! - [`context`] — [`RequestContext`], one request's facts for every kind of traffic;
//! - [`limits`] — connection limits per network and per client.
//!
//! A request loads the snapshot once, when its context is made ([`Gate::begin`]), and uses that
//! `Arc` to its end; installing a new snapshot ([`Gate::install`]) changes what the next
//! request sees and nothing in flight.

pub mod context;
pub mod limits;
pub mod pipeline;
pub mod snapshot;

#[cfg(test)]
mod tests;

pub use context::{Outcome, RequestContext, TrafficKind};
pub use pipeline::{IdentifyError, SignIn, with_scratch, write_unlogged};
pub use snapshot::{BuildEnv, DnsTables, Snapshot, SnapshotError};

use crate::clock::SharedClock;
use crate::log::{LogHandle, RefusedSummary};
use crate::metrics::ProxyMetrics;
use arc_swap::ArcSwap;
use std::net::IpAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared by every listener: the current snapshot and what outlives it.
#[derive(Debug)]
pub struct Gate {
    /// The current snapshot; swapped whole by [`Gate::install`].
    snapshot: ArcSwap<Snapshot>,
    /// The request log.
    pub log: LogHandle,
    /// Refused traffic (rate-limited, unreadable, outsiders), counted for the summary lines
    /// instead of a line each.
    pub refused: Arc<RefusedSummary>,
    /// Metrics shared by every kind of traffic.
    pub metrics: Arc<ProxyMetrics>,
    /// Time.
    pub clock: SharedClock,
    /// Every connection, tunnel and DNS task, so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// Cancelled when the daemon stops: listeners stop accepting, open tunnels close.
    pub shutdown: CancellationToken,
}

impl Gate {
    /// A gate serving `first` (normally generation 1).
    pub fn new(
        first: Snapshot,
        log: LogHandle,
        metrics: Arc<ProxyMetrics>,
        clock: SharedClock,
        shutdown: CancellationToken,
    ) -> Self {
        let gate = Gate {
            snapshot: ArcSwap::from_pointee(first),
            log,
            refused: Arc::new(RefusedSummary::default()),
            metrics,
            clock,
            tasks: TaskTracker::new(),
            shutdown,
        };
        gate.note_installed(&gate.snapshot());
        gate
    }

    /// The current snapshot. A request takes it once (see [`Gate::begin`]) and keeps it.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Makes `next` the snapshot new requests see; requests already holding the previous one
    /// finish with it. Returns the previous one.
    pub fn install(&self, next: Snapshot) -> Arc<Snapshot> {
        let next = Arc::new(next);
        let previous = self.snapshot.swap(Arc::clone(&next));
        self.note_installed(&next);
        previous
    }

    fn note_installed(&self, snapshot: &Snapshot) {
        self.metrics
            .policy_generation
            .set(i64::try_from(snapshot.generation).unwrap_or(i64::MAX));
        self.metrics
            .policy_loaded_seconds
            .set(self.clock.wall().as_millisecond() as f64 / 1000.0);
    }

    /// A new request of `kind` from `client`, on the current snapshot.
    pub fn begin(&self, kind: TrafficKind, client: IpAddr) -> RequestContext {
        let mut ctx =
            RequestContext::new(kind, client, crate::log::new_reference(), self.snapshot());
        ctx.time = self.clock.wall();
        ctx
    }
}

//! Connection limits, per client address and in total, taken when a connection is accepted and
//! released when it closes (also when its task panics: the guard is dropped while unwinding).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitRefusal {
    /// Lychgate's total is reached.
    Total,
    /// This client's share is reached.
    PerClient,
}

impl LimitRefusal {
    /// Metric label.
    pub const fn label(self) -> &'static str {
        match self {
            LimitRefusal::Total => "too_many_connections",
            LimitRefusal::PerClient => "too_many_client_connections",
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// Counts open client connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    max_total: usize,
    max_per_client: usize,
    counts: Arc<Mutex<Counts>>,
}

impl ConnectionLimits {
    /// Limits of `max_total` connections and `max_per_client` from one address.
    pub fn new(max_total: usize, max_per_client: usize) -> Self {
        ConnectionLimits {
            max_total,
            max_per_client,
            counts: Arc::default(),
        }
    }

    /// Admits a connection from `ip`, or says why not.
    pub fn admit(&self, ip: IpAddr) -> Result<ConnectionGuard, LimitRefusal> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if c.total >= self.max_total {
            return Err(LimitRefusal::Total);
        }
        let n = c.per_client.entry(ip).or_insert(0);
        if *n >= self.max_per_client {
            return Err(LimitRefusal::PerClient);
        }
        *n += 1;
        c.total += 1;
        Ok(ConnectionGuard {
            ip,
            counts: Arc::clone(&self.counts),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

/// One admitted connection; dropping it releases the slot.
#[derive(Debug)]
pub struct ConnectionGuard {
    ip: IpAddr,
    counts: Arc<Mutex<Counts>>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_client.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_client.remove(&self.ip);
            }
        }
    }
}

/// A client connection's place: its limit slot and its count in the active-connections gauge,
/// both released when the last holder drops it — the connection's task, or a CONNECT tunnel
/// that outlives the HTTP exchange that opened it.
#[derive(Debug)]
pub struct ConnectionSlot {
    _guard: ConnectionGuard,
    active: prometheus_client::metrics::gauge::Gauge,
}

impl ConnectionSlot {
    /// Takes the slot and counts the connection as active.
    pub fn new(guard: ConnectionGuard, active: prometheus_client::metrics::gauge::Gauge) -> Self {
        active.inc();
        ConnectionSlot {
            _guard: guard,
            active,
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.active.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_enforced_and_released() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let g1 = limits.admit(a).unwrap();
        let _g2 = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).unwrap_err(), LimitRefusal::PerClient);
        let _g3 = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).unwrap_err(), LimitRefusal::Total);
        drop(g1);
        let _g4 = limits.admit(a).expect("a slot was released");
        assert_eq!(limits.open(), 3);
    }
}

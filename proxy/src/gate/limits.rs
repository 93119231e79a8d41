//! Connection limits, taken when a connection is accepted and released when it closes (also
//! when its task panics: the guard is dropped while unwinding).
//!
//! The total is split into a reserve per client network and a shared part. A connection from
//! network N takes a slot from N's reserve while it has one free, then from the shared part; it
//! never takes another network's reserve. So a handful of addresses in one network holding slow
//! connections can fill their reserve and the shared part, but the other networks keep theirs.
//! Per-client counts are kept by [`client_key`] (one IPv6 /64 is one client).

use crate::client_key::client_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitRefusal {
    /// The client's network has used its reserve and the shared part is full.
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
    /// Slots of the shared part in use.
    shared: usize,
    /// Open connections per network (index in the config's `networks`).
    by_network: Vec<usize>,
    /// Open connections per [`client_key`].
    per_client: HashMap<IpAddr, usize>,
}

/// Counts open client connections against the per-network reserves, the shared part and the
/// per-client limit. Networks are the indices of the config's `networks` it was built from; a
/// reload that changes the networks must build new limits.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Size of the shared part: the total less every reserve.
    shared: usize,
    /// Reserve of each network, by its index.
    reserved: Arc<[usize]>,
    max_per_client: usize,
    counts: Arc<Mutex<Counts>>,
}

impl ConnectionLimits {
    /// Limits of `max_total` connections, of which network `i` is guaranteed `reserved[i]`, and
    /// `max_per_client` per client. Reserves beyond the total leave no shared part (the config
    /// check refuses such reserves).
    pub fn new(max_total: usize, max_per_client: usize, reserved: Vec<usize>) -> Self {
        let reserved_total: usize = reserved.iter().sum();
        ConnectionLimits {
            shared: max_total.saturating_sub(reserved_total),
            counts: Arc::new(Mutex::new(Counts {
                by_network: vec![0; reserved.len()],
                ..Counts::default()
            })),
            reserved: reserved.into(),
            max_per_client,
        }
    }

    /// Admits a connection from `ip`, a client of the network with index `network` (`None`:
    /// outside every network, which only the shared part serves), or says why not.
    pub fn admit(
        &self,
        ip: IpAddr,
        network: Option<usize>,
    ) -> Result<ConnectionGuard, LimitRefusal> {
        let key = client_key(ip);
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let c = &mut *c;
        if c.per_client.get(&key).copied().unwrap_or(0) >= self.max_per_client {
            return Err(LimitRefusal::PerClient);
        }
        let network = network.filter(|n| *n < self.reserved.len());
        let from_reserve = network.is_some_and(|n| c.by_network[n] < self.reserved[n]);
        if !from_reserve {
            if c.shared >= self.shared {
                return Err(LimitRefusal::Total);
            }
            c.shared += 1;
        }
        if let Some(n) = network {
            c.by_network[n] += 1;
        }
        *c.per_client.entry(key).or_insert(0) += 1;
        Ok(ConnectionGuard {
            key,
            network,
            limits: self.clone(),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        let c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.shared
            + c.by_network
                .iter()
                .zip(self.reserved.iter())
                .map(|(n, r)| (*n).min(*r))
                .sum::<usize>()
    }

    fn release(&self, key: IpAddr, network: Option<usize>) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let c = &mut *c;
        // Slots are interchangeable: while a network holds more than its reserve, one of its
        // connections closing frees a shared slot.
        let over_reserve = match network {
            Some(n) => {
                let over = c.by_network[n] > self.reserved[n];
                c.by_network[n] = c.by_network[n].saturating_sub(1);
                over
            }
            None => true,
        };
        if over_reserve {
            c.shared = c.shared.saturating_sub(1);
        }
        if let Some(n) = c.per_client.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                c.per_client.remove(&key);
            }
        }
    }
}

/// One admitted connection; dropping it releases the slot.
#[derive(Debug)]
pub struct ConnectionGuard {
    key: IpAddr,
    network: Option<usize>,
    limits: ConnectionLimits,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.limits.release(self.key, self.network);
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_client_and_total_limits_are_enforced_and_released() {
        let limits = ConnectionLimits::new(3, 2, vec![0]);
        let a = ip("10.0.0.1");
        let b = ip("10.0.0.2");
        let g1 = limits.admit(a, Some(0)).unwrap();
        let _g2 = limits.admit(a, Some(0)).unwrap();
        assert_eq!(
            limits.admit(a, Some(0)).unwrap_err(),
            LimitRefusal::PerClient
        );
        let _g3 = limits.admit(b, Some(0)).unwrap();
        assert_eq!(limits.admit(b, Some(0)).unwrap_err(), LimitRefusal::Total);
        drop(g1);
        let _g4 = limits.admit(a, Some(0)).expect("a slot was released");
        assert_eq!(limits.open(), 3);
    }

    #[test]
    fn one_network_cannot_take_another_networks_reserve() {
        // 8 slots: pupils (0) reserve 2, staff (1) reserve 2, 4 shared.
        let limits = ConnectionLimits::new(8, 100, vec![2, 2]);
        let mut pupils: Vec<_> = (1..=6)
            .map(|i| limits.admit(ip(&format!("10.0.3.{i}")), Some(0)).unwrap())
            .collect();
        assert_eq!(
            limits.admit(ip("10.0.3.7"), Some(0)).unwrap_err(),
            LimitRefusal::Total,
            "the pupils have their reserve and the shared part"
        );
        let staff: Vec<_> = (1..=2)
            .map(|i| limits.admit(ip(&format!("10.0.2.{i}")), Some(1)).unwrap())
            .collect();
        assert_eq!(
            limits.admit(ip("10.0.2.3"), Some(1)).unwrap_err(),
            LimitRefusal::Total
        );
        // Outside every network: the shared part only, which is full.
        assert_eq!(
            limits.admit(ip("192.0.2.1"), None).unwrap_err(),
            LimitRefusal::Total
        );
        assert_eq!(limits.open(), 8);
        // A pupil leaving frees a shared slot, which staff may then use.
        drop(pupils.pop());
        let extra_staff = limits.admit(ip("10.0.2.3"), Some(1)).unwrap();
        assert_eq!(
            limits.admit(ip("10.0.3.8"), Some(0)).unwrap_err(),
            LimitRefusal::Total
        );
        // Everything released: the whole pool is free again.
        drop(staff);
        drop(extra_staff);
        assert_eq!(limits.open(), 5);
        let c = limits.counts.lock().unwrap();
        assert_eq!(c.shared, 3);
        assert_eq!(c.by_network, vec![5, 0]);
    }

    #[test]
    fn the_reserve_is_used_before_the_shared_part() {
        let limits = ConnectionLimits::new(4, 100, vec![2, 1]);
        let _staff = limits.admit(ip("10.0.2.1"), Some(1)).unwrap();
        let _s1 = limits.admit(ip("10.0.3.1"), Some(0)).unwrap();
        let _s2 = limits.admit(ip("10.0.3.2"), Some(0)).unwrap();
        // Staff's reserve is in use, the pupils' too: one shared slot is left, for anyone.
        let _s3 = limits.admit(ip("10.0.3.3"), Some(0)).unwrap();
        assert_eq!(
            limits.admit(ip("10.0.2.2"), Some(1)).unwrap_err(),
            LimitRefusal::Total
        );
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let limits = ConnectionLimits::new(100, 2, vec![50]);
        let _a = limits.admit(ip("2001:db8:0:3::1"), Some(0)).unwrap();
        let _b = limits.admit(ip("2001:db8:0:3::abcd:2"), Some(0)).unwrap();
        assert_eq!(
            limits
                .admit(ip("2001:db8:0:3:ffff::3"), Some(0))
                .unwrap_err(),
            LimitRefusal::PerClient,
            "a third address in the same /64 is the same client"
        );
        limits
            .admit(ip("2001:db8:0:4::1"), Some(0))
            .expect("another /64 is another client");
        let _v4a = limits.admit(ip("10.0.3.1"), Some(0)).unwrap();
        let _v4b = limits.admit(ip("::ffff:10.0.3.1"), Some(0)).unwrap();
        assert_eq!(
            limits.admit(ip("10.0.3.1"), Some(0)).unwrap_err(),
            LimitRefusal::PerClient,
            "an IPv4-mapped address is its IPv4 client"
        );
    }
}

//! Questions per second per client: a token bucket each, so one looping app or a misbehaving
//! device cannot take the resolver from the rest of the school. A client is its [`client_key`]
//! (an IPv6 /64, so a device cannot multiply its rate by using more of its addresses). Buckets
//! live in shards keyed by client; idle ones are forgotten, so memory follows the active clients.

use crate::client_key::client_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

const SHARDS: usize = 16;
/// A shard this full drops the buckets of clients quiet for a while before adding another.
const PRUNE_AT: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Per-client token buckets.
#[derive(Debug)]
pub struct ClientRateLimit {
    rate: f64,
    burst: f64,
    shards: Box<[Mutex<HashMap<IpAddr, Bucket>>]>,
}

impl ClientRateLimit {
    /// `per_second` questions per second per client, with bursts of two seconds' worth.
    pub fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        ClientRateLimit {
            rate,
            burst: rate * 2.0,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Takes one token for `client` at `now`; false when it has none left.
    pub fn allow(&self, client: IpAddr, now: Instant) -> bool {
        let client = client_key(client);
        // The varying end of the key: the host byte of an IPv4 address, the last byte of the
        // /64's network part (its interface part is zero).
        let shard = match client {
            IpAddr::V4(v4) => usize::from(v4.octets()[3]),
            IpAddr::V6(v6) => usize::from(v6.octets()[7]),
        } % SHARDS;
        let mut buckets = self.shards[shard]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= PRUNE_AT && !buckets.contains_key(&client) {
            let burst_time = self.burst / self.rate;
            buckets.retain(|_, b| now.duration_since(b.last).as_secs_f64() < burst_time);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let refill = now.saturating_duration_since(bucket.last).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_client_gets_its_burst_then_its_rate() {
        let limit = ClientRateLimit::new(10);
        let a: IpAddr = "10.0.3.17".parse().unwrap();
        let b: IpAddr = "10.0.3.18".parse().unwrap();
        let t0 = Instant::now();
        let allowed = (0..100).filter(|_| limit.allow(a, t0)).count();
        assert_eq!(allowed, 20);
        // Another client is not affected.
        assert!(limit.allow(b, t0));
        // Half a second later, five more.
        let t1 = t0 + Duration::from_millis(500);
        let allowed = (0..100).filter(|_| limit.allow(a, t1)).count();
        assert_eq!(allowed, 5);
    }

    #[test]
    fn addresses_in_one_ipv6_slash_64_share_a_bucket() {
        let limit = ClientRateLimit::new(10);
        let t0 = Instant::now();
        let allowed = (0..100u16)
            .filter(|i| {
                let ip = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 3, 0, 0, 0, *i));
                limit.allow(ip, t0)
            })
            .count();
        assert_eq!(
            allowed, 20,
            "a hundred addresses of one /64 get one client's burst"
        );
        assert!(limit.allow("2001:db8:0:4::1".parse().unwrap(), t0));
        // An IPv4-mapped address is its IPv4 client.
        let v4: IpAddr = "10.0.3.17".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.3.17".parse().unwrap();
        let allowed = (0..40)
            .filter(|i| limit.allow(if i % 2 == 0 { v4 } else { mapped }, t0))
            .count();
        assert_eq!(allowed, 20);
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let limit = ClientRateLimit::new(10);
        let t0 = Instant::now();
        for i in 0..(PRUNE_AT * SHARDS) as u32 {
            limit.allow(IpAddr::from(i.to_be_bytes()), t0);
        }
        let later = t0 + Duration::from_secs(10);
        limit.allow("10.9.9.9".parse().unwrap(), later);
        let held: usize = limit.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(held < PRUNE_AT * SHARDS, "{held}");
    }
}

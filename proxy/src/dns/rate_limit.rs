//! Questions per second per client address: a token bucket each, so one looping app or a
//! misbehaving device cannot take the resolver from the rest of the school. Buckets live in
//! shards keyed by address; idle ones are forgotten, so memory follows the active clients.

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
        let shard = match client {
            IpAddr::V4(v4) => usize::from(v4.octets()[3]),
            IpAddr::V6(v6) => usize::from(v6.octets()[15]),
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

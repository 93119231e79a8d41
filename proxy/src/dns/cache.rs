//! The cache of upstream answers. It holds what the upstream said, never a per-group response:
//! every client's answer is checked against its own group each time it is served, so a cached
//! answer fetched for staff cannot leak past a pupil's policy.
//!
//! Bounded by entry count, in shards so the UDP workers rarely contend; each shard evicts its
//! oldest entry first. Time is tokio's, so tests can pause and advance it.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, Record, RecordType};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

const SHARDS: usize = 16;

/// What an upstream answered for one name and type.
#[derive(Debug)]
pub struct UpstreamAnswer {
    /// NOERROR, NXDOMAIN …
    pub rcode: ResponseCode,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section (the SOA of a negative answer).
    pub authorities: Vec<Record>,
    /// When it arrived.
    pub fetched: Instant,
    /// How long it may be served, seconds (0: not cached).
    pub ttl: u32,
    /// How long the upstream took.
    pub latency: std::time::Duration,
    /// The answer pre-written as bytes for cache hits (`None`: served through hickory).
    pub wire: Option<super::template::WireTemplate>,
}

impl UpstreamAnswer {
    /// Seconds since it was fetched.
    pub fn age(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.fetched).as_secs()).unwrap_or(u32::MAX)
    }
}

/// How long an answer may be cached: the smallest TTL in a positive answer; for NXDOMAIN and
/// NODATA the SOA's negative TTL (RFC 2308: the smaller of its TTL and minimum), and not at all
/// without a SOA; never SERVFAIL or anything else. Both within the configured maxima.
pub fn cache_ttl(
    rcode: ResponseCode,
    answers: &[Record],
    authorities: &[Record],
    max_positive: u32,
    max_negative: u32,
) -> u32 {
    let negative = || {
        authorities
            .iter()
            .find_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            })
            .map_or(0, |t| t.min(max_negative))
    };
    match rcode {
        ResponseCode::NoError if answers.is_empty() => negative(),
        ResponseCode::NoError => answers
            .iter()
            .map(|r| r.ttl)
            .min()
            .unwrap_or(0)
            .min(max_positive),
        ResponseCode::NXDomain => negative(),
        _ => 0,
    }
}

#[derive(Debug)]
struct Entry {
    name: Box<str>,
    qtype: RecordType,
    answer: Arc<UpstreamAnswer>,
    /// When (in the shard's insertion count) this entry was put in: its place in `order`.
    inserted: u64,
}

#[derive(Debug, Default)]
struct Shard {
    entries: HashMap<u64, Entry>,
    /// (key, insertion count) oldest first. A key removed on expiry, or put in again, leaves its
    /// old position behind; a position is live only while its entry has the same insertion
    /// count, so a stale one never evicts the entry that replaced it.
    order: VecDeque<(u64, u64)>,
    /// Insertions so far.
    inserts: u64,
}

impl Shard {
    fn is_live(&self, (key, inserted): (u64, u64)) -> bool {
        self.entries
            .get(&key)
            .is_some_and(|e| e.inserted == inserted)
    }
}

/// The answer cache.
#[derive(Debug)]
pub struct AnswerCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

/// The cache key of a name and type: a 64-bit hash; the entry keeps the name to confirm hits.
pub fn cache_key(host: &str, qtype: RecordType) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(host.as_bytes());
    h.update(&u16::from(qtype).to_be_bytes());
    h.digest()
}

impl AnswerCache {
    /// A cache of at most `capacity` answers (0: nothing is kept).
    pub fn new(capacity: usize) -> Self {
        AnswerCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    fn shard(&self, key: u64) -> std::sync::MutexGuard<'_, Shard> {
        let i = (key >> 60) as usize % SHARDS;
        // A poisoned shard only means another thread panicked mid-update of plain data.
        self.shards[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The live answer for `host`/`qtype`, if any.
    pub fn get(
        &self,
        key: u64,
        host: &str,
        qtype: RecordType,
        now: Instant,
    ) -> Option<Arc<UpstreamAnswer>> {
        if self.per_shard == 0 {
            return None;
        }
        let mut shard = self.shard(key);
        let entry = shard.entries.get(&key)?;
        if &*entry.name != host || entry.qtype != qtype {
            return None;
        }
        if entry.answer.age(now) >= entry.answer.ttl {
            shard.entries.remove(&key);
            return None;
        }
        Some(Arc::clone(&entry.answer))
    }

    /// Keeps an answer (if its TTL allows), evicting the shard's oldest entries when full.
    pub fn insert(&self, key: u64, host: &str, qtype: RecordType, answer: Arc<UpstreamAnswer>) {
        if self.per_shard == 0 || answer.ttl == 0 {
            return;
        }
        let per_shard = self.per_shard;
        let mut shard = self.shard(key);
        let fresh = !shard.entries.contains_key(&key);
        while fresh && shard.entries.len() >= per_shard {
            let Some(oldest) = shard.order.pop_front() else {
                break;
            };
            if shard.is_live(oldest) {
                shard.entries.remove(&oldest.0);
            }
        }
        shard.inserts += 1;
        let inserted = shard.inserts;
        shard.entries.insert(
            key,
            Entry {
                name: host.into(),
                qtype,
                answer,
                inserted,
            },
        );
        // A replaced entry is new again: it goes to the back, its old position goes stale.
        shard.order.push_back((key, inserted));
        // Stale positions (expired on lookup, replaced) linger in `order`: drop them when they
        // outnumber the live entries, so the queue stays bounded too.
        if shard.order.len() > 2 * per_shard {
            let mut order = std::mem::take(&mut shard.order);
            order.retain(|&p| shard.is_live(p));
            shard.order = order;
        }
    }

    /// Answers held now (expired ones included until they are looked up or evicted).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entries
                    .len()
            })
            .sum()
    }

    /// Whether nothing is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Name;
    use hickory_proto::rr::rdata::{A, SOA};
    use std::time::Duration;

    fn a(ttl: u32) -> Record {
        Record::from_rdata(
            Name::from_ascii("a.example.").unwrap(),
            ttl,
            RData::A(A::new(192, 0, 2, 1)),
        )
    }

    fn soa(ttl: u32, minimum: u32) -> Record {
        let n = Name::from_ascii("example.").unwrap();
        Record::from_rdata(
            n.clone(),
            ttl,
            RData::SOA(SOA::new(n.clone(), n, 1, 1, 1, 1, minimum)),
        )
    }

    fn answer(ttl: u32) -> Arc<UpstreamAnswer> {
        Arc::new(UpstreamAnswer {
            rcode: ResponseCode::NoError,
            answers: vec![a(ttl)],
            authorities: vec![],
            fetched: Instant::now(),
            ttl,
            latency: Duration::from_millis(1),
            wire: None,
        })
    }

    #[test]
    fn ttls_follow_the_answer_and_rfc_2308() {
        assert_eq!(
            cache_ttl(ResponseCode::NoError, &[a(300), a(60)], &[], 86_400, 3600),
            60
        );
        assert_eq!(
            cache_ttl(ResponseCode::NoError, &[a(999_999)], &[], 86_400, 3600),
            86_400
        );
        assert_eq!(
            cache_ttl(ResponseCode::NXDomain, &[], &[soa(900, 300)], 86_400, 3600),
            300
        );
        assert_eq!(
            cache_ttl(
                ResponseCode::NXDomain,
                &[],
                &[soa(90_000, 90_000)],
                86_400,
                3600
            ),
            3600
        );
        assert_eq!(cache_ttl(ResponseCode::NXDomain, &[], &[], 86_400, 3600), 0);
        assert_eq!(
            cache_ttl(ResponseCode::ServFail, &[a(60)], &[], 86_400, 3600),
            0
        );
    }

    #[tokio::test(start_paused = true)]
    async fn answers_live_for_their_ttl_and_no_longer() {
        let cache = AnswerCache::new(100);
        let key = cache_key("a.example", RecordType::A);
        cache.insert(key, "a.example", RecordType::A, answer(30));
        let hit = cache
            .get(key, "a.example", RecordType::A, Instant::now())
            .unwrap();
        assert_eq!(hit.age(Instant::now()), 0);
        tokio::time::advance(Duration::from_secs(29)).await;
        let hit = cache
            .get(key, "a.example", RecordType::A, Instant::now())
            .unwrap();
        assert_eq!(hit.age(Instant::now()), 29);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(
            cache
                .get(key, "a.example", RecordType::A, Instant::now())
                .is_none()
        );
        assert!(cache.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_holds_at_most_its_capacity_and_confirms_names() {
        let cache = AnswerCache::new(SHARDS * 2);
        for i in 0..1000 {
            let host = format!("n{i}.example");
            cache.insert(
                cache_key(&host, RecordType::A),
                &host,
                RecordType::A,
                answer(600),
            );
        }
        assert!(cache.len() <= SHARDS * 2, "{}", cache.len());
        // The newest survive.
        let host = "n999.example";
        let key = cache_key(host, RecordType::A);
        assert!(
            cache
                .get(key, host, RecordType::A, Instant::now())
                .is_some()
        );
        // A different name under the same key is a miss, not a wrong answer.
        assert!(
            cache
                .get(key, "other.example", RecordType::A, Instant::now())
                .is_none()
        );
        assert!(
            cache
                .get(key, host, RecordType::AAAA, Instant::now())
                .is_none()
        );
    }

    /// Hosts whose keys fall in the same shard, so one shard's eviction order can be tested.
    fn same_shard(n: usize) -> Vec<String> {
        let shard_of = |h: &str| (cache_key(h, RecordType::A) >> 60) as usize % SHARDS;
        let first = shard_of("h0.example");
        (0..10_000)
            .map(|i| format!("h{i}.example"))
            .filter(|h| shard_of(h) == first)
            .take(n)
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_fetched_again_after_expiry_is_not_evicted_by_its_old_position() {
        let cache = AnswerCache::new(SHARDS * 2);
        let hosts = same_shard(3);
        let (short, older, newer) = (&hosts[0], &hosts[1], &hosts[2]);
        let key = |h: &str| cache_key(h, RecordType::A);
        let live = |h: &str| {
            cache
                .get(key(h), h, RecordType::A, Instant::now())
                .is_some()
        };
        // A popular short-TTL name expires and is removed on lookup, then fetched again.
        cache.insert(key(short), short, RecordType::A, answer(1));
        cache.insert(key(older), older, RecordType::A, answer(600));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!live(short));
        cache.insert(key(short), short, RecordType::A, answer(600));
        // The shard is full: the oldest live entry goes, not the one fetched just now.
        cache.insert(key(newer), newer, RecordType::A, answer(600));
        assert!(
            live(short),
            "the fresh answer was evicted by its stale position"
        );
        assert!(!live(older));
        assert!(live(newer));
    }

    #[tokio::test(start_paused = true)]
    async fn a_replaced_answer_counts_as_new_for_eviction() {
        let cache = AnswerCache::new(SHARDS * 2);
        let hosts = same_shard(3);
        let key = |h: &str| cache_key(h, RecordType::A);
        let live = |h: &str| {
            cache
                .get(key(h), h, RecordType::A, Instant::now())
                .is_some()
        };
        cache.insert(key(&hosts[0]), &hosts[0], RecordType::A, answer(600));
        cache.insert(key(&hosts[1]), &hosts[1], RecordType::A, answer(600));
        cache.insert(key(&hosts[0]), &hosts[0], RecordType::A, answer(600));
        cache.insert(key(&hosts[2]), &hosts[2], RecordType::A, answer(600));
        assert!(live(&hosts[0]) && live(&hosts[2]));
        assert!(!live(&hosts[1]));
        // However often names come and go, the queue stays bounded.
        for round in 0..100 {
            for h in &hosts {
                cache.insert(key(h), h, RecordType::A, answer(600 + round));
            }
        }
        let shard = cache.shard(key(&hosts[0]));
        assert!(shard.order.len() <= 2 * cache.per_shard + 1);
    }

    #[test]
    fn a_zero_capacity_cache_keeps_nothing() {
        let cache = AnswerCache::new(0);
        let key = cache_key("a.example", RecordType::A);
        cache.insert(key, "a.example", RecordType::A, answer(60));
        assert!(cache.is_empty());
    }
}

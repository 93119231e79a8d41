//! The DNS server's Prometheus metrics. Labels are bounded: decisions and question types from
//! fixed lists, groups from the config, upstreams as configured — never names or clients.
//! Questions are counted by index (decision × group × type), so counting hashes nothing.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;

/// Labels of a counted question.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct QueryLabels {
    /// `allow`, `block` or `error`.
    pub decision: &'static str,
    /// The client's group.
    pub group: String,
    /// The question type, from [`QTYPES`].
    pub qtype: &'static str,
}

/// Labels of an upstream failure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct UpstreamFailureLabels {
    /// The upstream as configured.
    pub upstream: String,
    /// timeout, error, servfail, refused.
    pub reason: &'static str,
}

/// A reason from a fixed list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The reason.
    pub reason: &'static str,
}

/// A cache lookup's result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ResultLabel {
    /// `hit` or `miss`.
    pub result: &'static str,
}

/// Question types with their own series; the rest count as `other`.
pub const QTYPES: [&str; 13] = [
    "A", "AAAA", "HTTPS", "SVCB", "CNAME", "MX", "TXT", "PTR", "SRV", "NS", "SOA", "ANY", "other",
];
const DECISIONS: [&str; 3] = ["allow", "block", "error"];

/// The DNS server's metrics.
#[derive(Debug)]
pub struct DnsMetrics {
    queries: Family<QueryLabels, Counter>,
    query_cells: Box<[OnceLock<Counter>]>,
    groups: Vec<String>,
    /// Questions not answered normally, by reason.
    pub refused: Family<ReasonLabel, Counter>,
    /// Cache lookups by result.
    cache: Family<ResultLabel, Counter>,
    /// The `hit` series of `cache`, found once: it is counted on the hot path.
    pub cache_hits: Counter,
    /// The `miss` series of `cache`.
    pub cache_misses: Counter,
    /// Answers held in the cache.
    pub cache_entries: Gauge,
    /// Upstream answer times.
    pub upstream_seconds: Histogram,
    /// Upstream failures by upstream and reason.
    pub upstream_failures: Family<UpstreamFailureLabels, Counter>,
    /// Questions waiting for an upstream now.
    pub in_flight: Gauge,
}

impl DnsMetrics {
    /// Metrics for these groups (indexed by group id).
    pub fn new(groups: Vec<String>) -> Self {
        let cells = DECISIONS.len() * (groups.len() + 1) * QTYPES.len();
        let cache: Family<ResultLabel, Counter> = Family::default();
        let cache_hits = cache.get_or_create(&ResultLabel { result: "hit" }).clone();
        let cache_misses = cache.get_or_create(&ResultLabel { result: "miss" }).clone();
        DnsMetrics {
            cache,
            cache_hits,
            cache_misses,
            queries: Family::default(),
            query_cells: (0..cells).map(|_| OnceLock::new()).collect(),
            groups,
            refused: Family::default(),
            cache_entries: Gauge::default(),
            // 100 µs … ~3 s: a local resolver answers in well under a millisecond, the
            // internet in tens of milliseconds; the tail shows a struggling upstream.
            upstream_seconds: Histogram::new(exponential_buckets(1e-4, 2.0, 16)),
            upstream_failures: Family::default(),
            in_flight: Gauge::default(),
        }
    }

    /// Registers every metric under `lychgate_dns_`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "lychgate_dns_queries",
            "DNS questions answered, by decision, group and question type",
            self.queries.clone(),
        );
        registry.register(
            "lychgate_dns_refused",
            "DNS questions not answered normally (outside the school networks, over the rate, malformed), by reason",
            self.refused.clone(),
        );
        registry.register(
            "lychgate_dns_cache",
            "DNS cache lookups by result",
            self.cache.clone(),
        );
        registry.register(
            "lychgate_dns_cache_entries",
            "Upstream answers held in the DNS cache",
            self.cache_entries.clone(),
        );
        registry.register(
            "lychgate_dns_upstream_seconds",
            "Time for an upstream resolver to answer",
            self.upstream_seconds.clone(),
        );
        registry.register(
            "lychgate_dns_upstream_failures",
            "Upstream resolver failures, by upstream and reason",
            self.upstream_failures.clone(),
        );
        registry.register(
            "lychgate_dns_in_flight",
            "DNS questions waiting for an upstream now",
            self.in_flight.clone(),
        );
    }

    /// Counts one answered question. `decision` indexes allow/block/error; `qtype` is its
    /// name (anything not in [`QTYPES`] counts as `other`).
    pub fn count(&self, decision: usize, group: Option<usize>, qtype: &str) {
        let g = group
            .filter(|g| *g < self.groups.len())
            .unwrap_or(self.groups.len());
        let t = QTYPES
            .iter()
            .position(|q| *q == qtype)
            .unwrap_or(QTYPES.len() - 1);
        let d = decision.min(DECISIONS.len() - 1);
        let index = (d * (self.groups.len() + 1) + g) * QTYPES.len() + t;
        let Some(cell) = self.query_cells.get(index) else {
            return;
        };
        cell.get_or_init(|| {
            self.queries
                .get_or_create(&QueryLabels {
                    decision: DECISIONS[d],
                    group: self
                        .groups
                        .get(g)
                        .map_or("unknown", String::as_str)
                        .to_string(),
                    qtype: QTYPES[t],
                })
                .clone()
        })
        .inc();
    }

    /// Counts a question refused or dropped for `reason`.
    pub fn refuse(&self, reason: &'static str) {
        self.refused.get_or_create(&ReasonLabel { reason }).inc();
    }
}

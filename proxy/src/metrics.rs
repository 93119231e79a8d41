//! Lychgate's Prometheus metrics (the Prometheus project's own `prometheus-client`), served on
//! the admin listener. Labels are bounded: decisions, group and category names come from the
//! config, failure kinds from fixed lists — never hosts, users or addresses.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

/// Labels of a decided request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// `http`, `connect` or `tls`.
    pub kind: &'static str,
    /// `allow`, `block` or `error`.
    pub decision: &'static str,
    /// The client's group.
    pub group: String,
    /// The deciding category, or `none`.
    pub category: String,
}

/// One label naming a reason from a fixed list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The reason.
    pub reason: &'static str,
}

/// One label naming a kind from a fixed list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct KindLabel {
    /// The kind.
    pub kind: &'static str,
}

/// The proxy's metrics.
#[derive(Debug)]
pub struct ProxyMetrics {
    /// Requests (and tunnels) by kind, decision, group and category.
    pub requests: Family<RequestLabels, Counter>,
    /// CONNECT and transparent TLS tunnels by outcome.
    pub tunnels: Family<ReasonLabel, Counter>,
    /// Tunnels open now.
    pub tunnels_active: Gauge,
    /// Upstream failures by kind.
    pub upstream_errors: Family<KindLabel, Counter>,
    /// Time spent in `decide`.
    pub decision_seconds: Histogram,
    /// Time from sending a request upstream to its response head.
    pub upstream_seconds: Histogram,
    /// Client connections open now.
    pub connections_active: Gauge,
    /// Client connections refused, by reason (not in a school network, too many ...).
    pub refused: Family<ReasonLabel, Counter>,
    /// Requests answered 400, by reason.
    pub bad_requests: Family<ReasonLabel, Counter>,
    /// How many policies have been loaded (1 at start, +1 per reload).
    pub policy_generation: Gauge,
    /// When the current policy was loaded (Unix seconds).
    pub policy_loaded_seconds: Gauge<f64, AtomicU64>,
    /// Identity-map bindings by outcome.
    pub identity_bindings: Family<ReasonLabel, Counter>,
    /// Destinations the proxy refused to dial, by reason (`loopback`, `private` ...).
    pub destination_refused: Family<ReasonLabel, Counter>,
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        ProxyMetrics {
            requests: Family::default(),
            tunnels: Family::default(),
            tunnels_active: Gauge::default(),
            upstream_errors: Family::default(),
            // 2 µs … ~0.5 s: decisions are microseconds; the tail shows list or phrase trouble.
            decision_seconds: Histogram::new(exponential_buckets(2e-6, 4.0, 10)),
            // 1 ms … ~33 s.
            upstream_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            connections_active: Gauge::default(),
            refused: Family::default(),
            bad_requests: Family::default(),
            policy_generation: Gauge::default(),
            policy_loaded_seconds: Gauge::default(),
            identity_bindings: Family::default(),
            destination_refused: Family::default(),
        }
    }
}

impl ProxyMetrics {
    /// Counts one tunnel by how it ended up (opened, blocked, refused for a reason).
    pub fn count_tunnel(&self, reason: &'static str) {
        self.tunnels.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Registers every metric under `lychgate_`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "lychgate_requests",
            "Web requests and tunnels decided, by kind, decision, group and category",
            self.requests.clone(),
        );
        registry.register(
            "lychgate_tunnels",
            "CONNECT and transparent TLS tunnels by outcome",
            self.tunnels.clone(),
        );
        registry.register(
            "lychgate_tunnels_active",
            "Tunnels open now",
            self.tunnels_active.clone(),
        );
        registry.register(
            "lychgate_upstream_errors",
            "Failures reaching origins, by kind",
            self.upstream_errors.clone(),
        );
        registry.register(
            "lychgate_decision_seconds",
            "Time spent deciding a request",
            self.decision_seconds.clone(),
        );
        registry.register(
            "lychgate_upstream_seconds",
            "Time from forwarding a request to the origin's response head",
            self.upstream_seconds.clone(),
        );
        registry.register(
            "lychgate_client_connections_active",
            "Client connections open now",
            self.connections_active.clone(),
        );
        registry.register(
            "lychgate_refused_connections",
            "Client connections refused, by reason",
            self.refused.clone(),
        );
        registry.register(
            "lychgate_bad_requests",
            "Requests answered 400, by reason",
            self.bad_requests.clone(),
        );
        registry.register(
            "lychgate_policy_generation",
            "Policies loaded since start (1 = the start-up policy)",
            self.policy_generation.clone(),
        );
        registry.register(
            "lychgate_policy_loaded_timestamp_seconds",
            "When the current policy was loaded",
            self.policy_loaded_seconds.clone(),
        );
        registry.register(
            "lychgate_identity_bindings",
            "Identity-map bindings by outcome",
            self.identity_bindings.clone(),
        );
        registry.register(
            "lychgate_destination_refused",
            "Requests and tunnels whose destination the proxy refused to dial, by reason",
            self.destination_refused.clone(),
        );
    }
}

/// Renders a registry in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

/// The `lychgate_requests_total` series a request lands in, found by index rather than by
/// building and hashing a label set per request: kinds × decisions × groups × categories, each
/// cell created on first use (so only series that happened are exported).
#[derive(Debug)]
pub struct RequestCounters {
    family: Family<RequestLabels, Counter>,
    groups: Vec<String>,
    categories: Vec<String>,
    cells: Box<[OnceLock<Counter>]>,
}

/// Kinds counted, in index order.
const KINDS: [&str; 4] = ["http", "connect", "tls", "admin"];
/// Decisions counted, in index order.
const DECISIONS: [&str; 3] = ["allow", "block", "error"];

impl RequestCounters {
    /// Counters for these group and category names (indexed by their ids).
    pub fn new(
        family: Family<RequestLabels, Counter>,
        groups: Vec<String>,
        categories: Vec<String>,
    ) -> Self {
        let cells = KINDS.len() * DECISIONS.len() * (groups.len() + 1) * (categories.len() + 1);
        RequestCounters {
            family,
            groups,
            categories,
            cells: (0..cells).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Counts one request. `kind` and `decision` index [`KINDS`] and [`DECISIONS`]; an unknown
    /// group or category id counts as `unknown` / `none`.
    pub fn count(
        &self,
        kind: usize,
        decision: usize,
        group: Option<usize>,
        category: Option<usize>,
    ) {
        let g = group
            .filter(|g| *g < self.groups.len())
            .map_or(self.groups.len(), |g| g);
        let c = category
            .filter(|c| *c < self.categories.len())
            .map_or(self.categories.len(), |c| c);
        let (kind, decision) = (kind.min(KINDS.len() - 1), decision.min(DECISIONS.len() - 1));
        let index = ((kind * DECISIONS.len() + decision) * (self.groups.len() + 1) + g)
            * (self.categories.len() + 1)
            + c;
        let Some(cell) = self.cells.get(index) else {
            return;
        };
        cell.get_or_init(|| {
            self.family
                .get_or_create(&RequestLabels {
                    kind: KINDS[kind],
                    decision: DECISIONS[decision],
                    group: self
                        .groups
                        .get(g)
                        .map_or("unknown", String::as_str)
                        .to_string(),
                    category: self
                        .categories
                        .get(c)
                        .map_or("none", String::as_str)
                        .to_string(),
                })
                .clone()
        })
        .inc();
    }
}

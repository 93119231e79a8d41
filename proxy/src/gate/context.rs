//! One request's story as it moves through the phases (accept → identify → read target →
//! decide → forward or block → respond), collected in one place so the log record and the
//! metrics are written once, at the end, from the same facts.

use super::Gate;
use super::snapshot::Snapshot;
use crate::identity::ClientIdentity;
use crate::log::{Concern, Flag, LogDecision, RecordType, RequestRecord};
use lychgate_classifier::concern::{Severity, Theme};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Which listener and kind of traffic a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficKind {
    /// A plain HTTP request (explicit or transparent port 80).
    Http,
    /// A CONNECT tunnel through the explicit proxy.
    Connect,
    /// A transparent port-443 connection (SNI peeked).
    Tls,
    /// A question to the filtering DNS server.
    Dns,
    /// An administrative event tied to a client: an identity binding, a review request.
    Admin,
}

impl TrafficKind {
    /// Position in the metrics' index (`metrics::RequestCounters`: http, connect, tls, admin);
    /// `None` for DNS questions, which the DNS server counts in its own metrics (by type).
    pub const fn index(self) -> Option<usize> {
        match self {
            TrafficKind::Http => Some(0),
            TrafficKind::Connect => Some(1),
            TrafficKind::Tls => Some(2),
            TrafficKind::Admin => Some(3),
            TrafficKind::Dns => None,
        }
    }
}

/// The outcome recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served (forwarded or tunnelled).
    Allow,
    /// Refused by policy.
    Block,
    /// Could not be served (bad request, upstream failure, limits, logging down).
    Error,
}

impl Outcome {
    /// Position in the metrics' index (`metrics::RequestCounters`: allow, block, error).
    pub const fn index(self) -> usize {
        match self {
            Outcome::Allow => 0,
            Outcome::Block => 1,
            Outcome::Error => 2,
        }
    }
}

/// Everything known about one request so far.
#[derive(Debug)]
pub struct RequestContext {
    /// When it arrived.
    pub started: Instant,
    /// Reference code shown on pages and logged.
    pub reference: String,
    /// Kind of traffic.
    pub kind: TrafficKind,
    /// Client address.
    pub client: IpAddr,
    /// Who, once known.
    pub identity: Option<ClientIdentity>,
    /// The group's name, once known.
    pub group: Option<Arc<str>>,
    /// The group's id, once known (for the metrics' index).
    pub group_id: Option<lychgate_classifier::policy::GroupId>,
    /// The deciding category (its name is looked up when the record is written).
    pub category_id: Option<lychgate_classifier::category::CategoryId>,
    /// HTTP method (`CONNECT` for tunnels, empty for transparent TLS and DNS).
    pub method: String,
    /// `http` or `https`; empty for DNS.
    pub scheme: &'static str,
    /// Host as decided on (normalised).
    pub host: String,
    /// Port asked for.
    pub port: u16,
    /// Path.
    pub path: String,
    /// Query without `?`.
    pub query: Option<String>,
    /// Status sent to the client (0 when none, e.g. a tunnel closed with a TLS alert).
    pub status: u16,
    /// Bytes from the client counted by the handler itself (a DNS packet, a form, a tunnel).
    pub bytes_in: u64,
    /// Request body bytes counted as the body streams to the origin (see
    /// [`RequestContext::body_counter`]).
    body_in: Option<Arc<AtomicU64>>,
    /// Response bytes to the client.
    pub bytes_out: u64,
    /// The outcome.
    pub outcome: Outcome,
    /// Rule, in words.
    pub rule: Option<String>,
    /// Search terms, if a search.
    pub search: Option<String>,
    /// CONNECT: the authority asked for (`host:port`, normalised), kept apart from `host`,
    /// which becomes the SNI when the two differ.
    pub authority: Option<String>,
    /// Safeguarding concerns found.
    pub concerns: Vec<(Theme, Severity)>,
    /// Notable facts (`safe_search`, `sni_mismatch`, `auth_failed` ...).
    pub flags: Vec<Flag>,
    /// Wall-clock time it arrived.
    pub time: jiff::Timestamp,
    /// DNS: the question's type.
    pub qtype: Option<std::borrow::Cow<'static, str>>,
    /// DNS: the answer's response code.
    pub rcode: Option<&'static str>,
    /// DNS: whether the answer came from the cache (`None`: no upstream answer was needed).
    pub cache_hit: Option<bool>,
    /// DNS: how long the upstream took to answer.
    pub upstream: Option<std::time::Duration>,
    /// The snapshot the request started on, used to its end.
    snapshot: Arc<Snapshot>,
    /// Set while the request's record is still owed: see [`RequestContext::arm`].
    recorder: Option<Arc<Gate>>,
}

impl RequestContext {
    /// A new context for a request from `client`, decided and recorded on `snapshot` (see
    /// [`Gate::begin`]).
    pub fn new(
        kind: TrafficKind,
        client: IpAddr,
        reference: String,
        snapshot: Arc<Snapshot>,
    ) -> Self {
        RequestContext {
            started: Instant::now(),
            reference,
            kind,
            client,
            identity: None,
            group: None,
            group_id: None,
            category_id: None,
            method: String::new(),
            scheme: if matches!(kind, TrafficKind::Dns) {
                ""
            } else {
                "http"
            },
            host: String::new(),
            port: 0,
            path: String::new(),
            query: None,
            status: 0,
            bytes_in: 0,
            body_in: None,
            bytes_out: 0,
            outcome: Outcome::Error,
            rule: None,
            search: None,
            authority: None,
            concerns: Vec::new(),
            flags: Vec::new(),
            time: jiff::Timestamp::now(),
            qtype: None,
            rcode: None,
            cache_hit: None,
            upstream: None,
            snapshot,
            recorder: None,
        }
    }

    /// The snapshot this request is decided and recorded on.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// Sets who the request is for: the identity, its group's id and (shared, never
    /// reallocated) name.
    pub fn set_identity(&mut self, identity: ClientIdentity) {
        self.set_group(identity.group);
        self.identity = Some(identity);
    }

    /// Identifies the client by address on the request's snapshot (static device, identity-map
    /// binding, network, default group) — for clients that cannot sign in (transparent
    /// listeners, DNS) — and returns its group.
    pub fn identify_by_address(&mut self) -> lychgate_classifier::policy::GroupId {
        let identity = self.snapshot.identities.by_address(self.client);
        let group = identity.group;
        self.set_identity(identity);
        group
    }

    /// Sets the request's group: its id and (shared, never reallocated) name.
    pub fn set_group(&mut self, group: lychgate_classifier::policy::GroupId) {
        self.group_id = Some(group);
        self.group = self.snapshot.group_names.get(usize::from(group.0)).cloned();
    }

    /// Bytes from the client so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
            + self
                .body_in
                .as_ref()
                .map_or(0, |b| b.load(Ordering::Relaxed))
    }

    /// A counter for the request body's bytes, for the body as it streams to the origin.
    pub fn body_counter(&mut self) -> Arc<AtomicU64> {
        Arc::clone(self.body_in.get_or_insert_with(Arc::default))
    }

    /// Adds a flag once.
    pub fn flag(&mut self, flag: Flag) {
        if !self.flags.contains(&flag) {
            self.flags.push(flag);
        }
    }

    /// The log record for this request.
    pub fn into_record(mut self) -> RequestRecord {
        self.take_record()
    }

    /// Builds the record from the context's facts, leaving it empty and disarmed.
    fn take_record(&mut self) -> RequestRecord {
        use std::mem::take;
        self.recorder = None;
        let config = &self.snapshot.config;
        let kind = match self.kind {
            TrafficKind::Http => RecordType::Http,
            TrafficKind::Connect => RecordType::Connect,
            TrafficKind::Tls => RecordType::Tls,
            TrafficKind::Dns => RecordType::Dns,
            TrafficKind::Admin => RecordType::Admin,
        };
        // The log writer puts every line in the school's zone; for DNS questions (tens of
        // thousands a second) UTC here saves a zone lookup each.
        let zone = if self.kind == TrafficKind::Dns {
            jiff::tz::TimeZone::UTC
        } else {
            config.policy.timezone().clone()
        };
        let time = self.time.to_zoned_datetime(zone);
        let group = self.group.as_deref().unwrap_or("unknown");
        let mut r =
            RequestRecord::with_id(kind, time, self.client, group, take(&mut self.reference));
        if let Some(id) = &self.identity {
            r.user = id.user.as_deref().map(str::to_string);
            r.device = id.device.as_deref().map(str::to_string);
            r.account_type = id.account_type;
        }
        r.method = (!self.method.is_empty()).then(|| take(&mut self.method));
        r.scheme = (!self.scheme.is_empty()).then(|| self.scheme.to_string());
        if !self.host.is_empty() {
            let default_port = if self.scheme == "https" { 443 } else { 80 };
            // An IPv6 literal (the only host with a `:`) is logged in brackets, as in a URL, so
            // a port after it cannot be read as part of the address.
            if self.kind != TrafficKind::Dns
                && self.host.contains(':')
                && !self.host.starts_with('[')
            {
                self.host = format!("[{}]", self.host);
            }
            r.host = Some(if self.port == 0 || self.port == default_port {
                take(&mut self.host)
            } else {
                format!("{}:{}", self.host, self.port)
            });
        }
        r.path = (!self.path.is_empty()).then(|| take(&mut self.path));
        r.query = self.query.take();
        r.status = self.status;
        r.bytes_in = self.bytes_in();
        r.bytes_out = self.bytes_out;
        r.duration = self.started.elapsed();
        r.decision = match self.outcome {
            Outcome::Allow => LogDecision::Allow,
            Outcome::Block => LogDecision::Block,
            Outcome::Error => LogDecision::Error,
        };
        // The name from the id, only now that a line is written.
        r.category = self
            .category_id
            .map(|c| config.policy.categories().name(c).to_string());
        r.rule = self.rule.take();
        r.search = self.search.take();
        r.authority = self.authority.take();
        r.concerns = take(&mut self.concerns)
            .into_iter()
            .map(|(theme, severity)| Concern { theme, severity })
            .collect();
        r.flags = take(&mut self.flags);
        r.qtype = self.qtype.take();
        r.rcode = self.rcode;
        r.cache_hit = self.cache_hit;
        r.upstream_ms = self.upstream;
        r
    }

    /// Makes sure this request is logged even if its handling is abandoned (the client's
    /// connection dropped mid-way, or a panic): on drop, an armed context writes its record,
    /// flagged `unfinished`.
    pub fn arm(&mut self, gate: &Arc<Gate>) {
        self.recorder = Some(Arc::clone(gate));
    }
}

impl Drop for RequestContext {
    fn drop(&mut self) {
        let Some(gate) = self.recorder.take() else {
            return;
        };
        self.flag(Flag::Unfinished);
        if self.outcome == Outcome::Allow && self.status == 0 {
            self.outcome = Outcome::Error;
        }
        gate.count(self);
        let record = self.take_record();
        gate.record_detached(record);
    }
}

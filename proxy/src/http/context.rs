//! One request's story as it moves through the phases (accept → identify → read target →
//! decide → forward or block → respond), collected in one place so the log record and the
//! metrics are written once, at the end, from the same facts.

use super::state::ProxyState;
use crate::config::Config;
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
}

impl TrafficKind {
    /// Position in the metrics' index (`metrics::RequestCounters`: http, connect, tls).
    pub const fn index(self) -> usize {
        match self {
            TrafficKind::Http => 0,
            TrafficKind::Connect => 1,
            TrafficKind::Tls => 2,
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
    /// HTTP method (`CONNECT` for tunnels, empty for transparent TLS).
    pub method: String,
    /// `http` or `https`.
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
    /// Request body bytes from the client.
    pub bytes_in: Arc<AtomicU64>,
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
    /// Set while the request's record is still owed: see [`RequestContext::arm`].
    recorder: Option<Arc<ProxyState>>,
}

impl RequestContext {
    /// A new context for a request from `client`.
    pub fn new(kind: TrafficKind, client: IpAddr, reference: String) -> Self {
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
            scheme: "http",
            host: String::new(),
            port: 0,
            path: String::new(),
            query: None,
            status: 0,
            bytes_in: Arc::default(),
            bytes_out: 0,
            outcome: Outcome::Error,
            rule: None,
            search: None,
            authority: None,
            concerns: Vec::new(),
            flags: Vec::new(),
            time: jiff::Timestamp::now(),
            recorder: None,
        }
    }

    /// Request body bytes seen so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in.load(Ordering::Relaxed)
    }

    /// Adds a flag once.
    pub fn flag(&mut self, flag: Flag) {
        if !self.flags.contains(&flag) {
            self.flags.push(flag);
        }
    }

    /// The log record for this request.
    pub fn into_record(mut self, config: &Config) -> RequestRecord {
        self.take_record(config)
    }

    /// Builds the record from the context's facts, leaving it empty and disarmed.
    fn take_record(&mut self, config: &Config) -> RequestRecord {
        use std::mem::take;
        self.recorder = None;
        let kind = match self.kind {
            TrafficKind::Http => RecordType::Http,
            TrafficKind::Connect => RecordType::Connect,
            TrafficKind::Tls => RecordType::Tls,
        };
        let time = self
            .time
            .to_zoned_datetime(config.policy.timezone().clone());
        let group = self.group.as_deref().unwrap_or("unknown");
        let mut r =
            RequestRecord::with_id(kind, time, self.client, group, take(&mut self.reference));
        if let Some(id) = &self.identity {
            r.user = id.user.as_deref().map(str::to_string);
            r.device = id.device.as_deref().map(str::to_string);
            r.account_type = id.account_type;
        }
        r.method = (!self.method.is_empty()).then(|| take(&mut self.method));
        r.scheme = Some(self.scheme.to_string());
        if !self.host.is_empty() {
            let default_port = if self.scheme == "https" { 443 } else { 80 };
            // An IPv6 literal (the only host with a `:`) is logged in brackets, as in a URL, so
            // a port after it cannot be read as part of the address.
            if self.host.contains(':') && !self.host.starts_with('[') {
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
        r.bytes_in = self.bytes_in.load(Ordering::Relaxed);
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
        r
    }

    /// Makes sure this request is logged even if its handling is abandoned (the client's
    /// connection dropped mid-way, or a panic): on drop, an armed context writes its record,
    /// flagged `unfinished`.
    pub fn arm(&mut self, state: &Arc<ProxyState>) {
        self.recorder = Some(Arc::clone(state));
    }
}

impl Drop for RequestContext {
    fn drop(&mut self) {
        let Some(state) = self.recorder.take() else {
            return;
        };
        self.flag(Flag::Unfinished);
        if self.outcome == Outcome::Allow && self.status == 0 {
            self.outcome = Outcome::Error;
        }
        state.count(self);
        let record = self.take_record(&state.config.load());
        state.record_detached(record);
    }
}

/// A new reference code (the request log's: short, unambiguous when read aloud).
pub fn new_reference() -> String {
    crate::log::new_reference()
}

//! One DNS question in named phases: read → school network → rate → identify → fail-closed →
//! canaries → decide → Lychgate's own names and static hosts → SafeSearch → cache or upstream →
//! the answer checked for the group → encoded for the transport → one log line.
//!
//! Everything up to the cache is synchronous ([`DnsServer::prepare`]), so blocked names and
//! cache hits are answered by the UDP loop itself without a task; only a question that needs an
//! upstream becomes a task ([`DnsServer::resolve`]).

use super::answer_check::{self, CheckRules, Verdict};
use super::cache::{AnswerCache, UpstreamAnswer, cache_key, cache_ttl};
use super::message::{
    self, Question, Unreadable, encode, fqdn, qtype_name, rcode_name, reply, reply_unreadable,
    udp_limit,
};
use super::metrics::DnsMetrics;
use super::rate_limit::ClientRateLimit;
use super::template::WireTemplate;
use super::upstream::{AllFailed, Upstreams};
use super::wire::Answer;
use crate::config::{BlockedAnswer, Config, DnsSettings};
use crate::http::state::{ProxyState, with_scratch, write_unlogged};
use crate::identity::ClientIdentity;
use crate::log::{Flag, LogDecision, RecordType, Refused, RefusedReason, RequestRecord, Ticket};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{RData, Record, RecordType as Rtype};
use lychgate_classifier::category::{CategoryId, CategorySet};
use lychgate_classifier::policy::{Action, Decision, GroupId, Request, RequestKind, Rule};
use lychgate_classifier::time::LocalTime;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Names answered NXDOMAIN for everyone: only NXDOMAIN switches these features off.
/// Firefox turns DNS over HTTPS off on a network that answers its canary domain NXDOMAIN;
/// Apple devices do not use iCloud Private Relay where its names do not resolve.
const CANARIES: [&str; 3] = [
    "use-application-dns.net",
    "mask.icloud.com",
    "mask-h2.icloud.com",
];
/// TTL of answers Lychgate makes from its own config (service host, static hosts).
const LOCAL_TTL: u32 = 60;
/// Zones whose answers are private addresses by design, never rebinding: `home.arpa` (RFC
/// 8375) and the `.internal` top-level domain ICANN reserved for private networks.
const PRIVATE_ZONES: [&str; 2] = ["home.arpa", "internal"];

/// Which transport a question came by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: answers are limited to the client's size and may be truncated.
    Udp,
    /// TCP: answers go whole.
    Tcp,
}

/// What to do with a packet after the synchronous phases.
#[derive(Debug)]
pub enum Step {
    /// Send this (nothing, for a dropped or rate-limited packet) and log this.
    Done(Option<Vec<u8>>, Option<Box<RequestRecord>>),
    /// It needs an upstream: pass it to [`DnsServer::resolve`].
    Forward(Box<Pending>),
}

/// A question waiting for an upstream answer, with everything decided so far.
#[derive(Debug)]
pub struct Pending {
    question: Question,
    log: QueryLog,
    group: GroupId,
    /// The SafeSearch front end asked upstream instead of the question's name (and put as a
    /// CNAME before the answer).
    front: Option<&'static str>,
    /// The cache key of what is asked upstream.
    key: u64,
    /// The question's own categories (for the TTL cap).
    categories: CategorySet,
    transport: Transport,
    /// Answers for this name may hold private addresses.
    private_ok: bool,
}

/// One question's facts as the phases find them, turned into one log line at the end.
#[derive(Debug)]
struct QueryLog {
    started: Instant,
    time: jiff::Timestamp,
    client: IpAddr,
    identity: Option<ClientIdentity>,
    host: Option<String>,
    qtype: Option<Cow<'static, str>>,
    rcode: Option<ResponseCode>,
    decision: LogDecision,
    category: Option<CategoryId>,
    rule: Option<String>,
    flags: Vec<Flag>,
    cache_hit: Option<bool>,
    upstream: Option<Duration>,
    bytes_in: usize,
    bytes_out: usize,
}

impl Pending {
    /// The name asked upstream: the question's, or the SafeSearch front end's.
    fn ask(&self) -> &str {
        self.front.unwrap_or(&self.question.host)
    }
}

impl QueryLog {
    fn flag(&mut self, f: Flag) {
        if !self.flags.contains(&f) {
            self.flags.push(f);
        }
    }
}

type FetchResult = Result<(Arc<UpstreamAnswer>, bool), Arc<AllFailed>>;

/// The filtering DNS server's shared state.
#[derive(Debug)]
pub struct DnsServer {
    shared: Arc<ProxyState>,
    settings: DnsSettings,
    upstreams: Upstreams,
    cache: AnswerCache,
    /// Questions upstream now, by cache key: later askers wait for the same answer.
    inflight: Mutex<HashMap<u64, Vec<oneshot::Sender<FetchResult>>>>,
    metrics: Arc<DnsMetrics>,
    rate: ClientRateLimit,
    /// Addresses never counted as rebinding: the block page's.
    exempt_addresses: Vec<IpAddr>,
    /// `rule` of a block by a category list, by group and category, written once: most blocks
    /// are these, and formatting the sentence per question cost more than deciding.
    list_rules: Vec<Vec<String>>,
}

impl DnsServer {
    /// A server answering with `shared`'s policy and identities, forwarding to `upstreams`.
    pub fn new(
        shared: Arc<ProxyState>,
        settings: DnsSettings,
        upstreams: Upstreams,
        metrics: Arc<DnsMetrics>,
    ) -> Self {
        let exempt_addresses = match settings.blocked_answer {
            BlockedAnswer::BlockPage { v4, v6 } => v4
                .map(IpAddr::V4)
                .into_iter()
                .chain(v6.map(IpAddr::V6))
                .collect(),
            BlockedAnswer::Nxdomain => Vec::new(),
        };
        let list_rules = {
            let config = shared.config.load();
            let policy = &config.policy;
            (0..policy.groups().len())
                .map(|g| {
                    let group = GroupId(u16::try_from(g).unwrap_or(u16::MAX));
                    policy
                        .categories()
                        .ids()
                        .map(|category| {
                            let d = Decision {
                                action: Action::Block,
                                category: Some(category),
                                categories: CategorySet::one(category),
                                rule: Rule::DomainList { category },
                                search: None,
                                concerns: [None; lychgate_classifier::policy::MAX_CONCERNS],
                                concern_len: 0,
                            };
                            policy.describe(group, &d)
                        })
                        .collect()
                })
                .collect()
        };
        DnsServer {
            list_rules,
            cache: AnswerCache::new(settings.cache_entries),
            rate: ClientRateLimit::new(settings.max_qps_per_client),
            inflight: Mutex::new(HashMap::new()),
            shared,
            settings,
            upstreams,
            metrics,
            exempt_addresses,
        }
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &DnsSettings {
        &self.settings
    }

    /// How many client networks are configured (each has a reserve of TCP connections).
    pub fn network_count(&self) -> usize {
        self.shared.config.load().networks.len()
    }

    /// The most specific configured network holding `ip`, by its index.
    pub fn network_of(&self, ip: IpAddr) -> Option<usize> {
        self.shared.config.load().network_of(ip)
    }

    /// Its metrics.
    pub fn metrics(&self) -> &DnsMetrics {
        &self.metrics
    }

    /// The synchronous phases: everything that needs no upstream is answered here.
    /// `local` is the address the question arrived on.
    pub fn prepare(
        &self,
        packet: &[u8],
        client: SocketAddr,
        local: SocketAddr,
        transport: Transport,
    ) -> Step {
        let config = self.shared.config.load();
        let ip = client.ip().to_canonical();
        let mut log = QueryLog {
            started: Instant::now(),
            time: self.shared.clock.wall(),
            client: ip,
            identity: None,
            host: None,
            qtype: None,
            rcode: None,
            decision: LogDecision::Allow,
            category: None,
            rule: None,
            flags: Vec::new(),
            cache_hit: None,
            upstream: None,
            bytes_in: packet.len(),
            bytes_out: 0,
        };
        let in_network = config.serves(ip);

        // Rate first: a flood costs a token-bucket check, not a parse. Over-rate questions are
        // counted for the summary lines, never a line each: one device must not be able to
        // fill the log disk.
        if !self.rate.allow(ip, log.started) {
            self.metrics.refuse("rate_limited");
            let group = in_network.then(|| self.shared.identities.by_address(ip).group);
            if let Some(g) = group {
                self.metrics.count(2, Some(usize::from(g.0)), "other");
            }
            return self.summarise_unread(&config, RefusedReason::RateLimited, &log, group);
        }

        let read = match super::wire::read_question(packet) {
            Some(q) => Ok(q),
            None => message::read_question(packet),
        };
        let q = match read {
            Ok(q) => q,
            Err(Unreadable::Drop(_)) => {
                self.metrics.refuse("malformed");
                let group = in_network.then(|| self.shared.identities.by_address(ip).group);
                return self.summarise_unread(&config, RefusedReason::Malformed, &log, group);
            }
            Err(Unreadable::Answer {
                id,
                rcode,
                reason,
                query,
                edns,
            }) => {
                self.metrics.refuse("malformed");
                if let Some(q) = &query {
                    log.host = Some(message::normalised_host(&q.name));
                    log.qtype = Some(qtype_name(q.query_type));
                }
                let (rcode, refused) = if in_network {
                    log.identity = Some(self.shared.identities.by_address(ip));
                    log.flag(Flag::Malformed);
                    log.rule = Some(format!("unreadable question: {reason}"));
                    log.decision = LogDecision::Error;
                    (rcode, RefusedReason::Malformed)
                } else {
                    self.refuse_outsider(&mut log);
                    (ResponseCode::Refused, RefusedReason::NotInNetwork)
                };
                let m = reply_unreadable(id, rcode, query, edns, self.settings.max_udp_payload);
                let limit = (transport == Transport::Udp).then_some(message::CLASSIC_UDP_LIMIT);
                let (bytes, record) = self.respond_record(log, &config, &m, limit);
                return self.summarised(bytes, &record, refused);
            }
        };
        log.host = Some(q.host.clone());
        log.qtype = Some(qtype_name(q.qtype()));
        let limit =
            (transport == Transport::Udp).then(|| udp_limit(q.edns, self.settings.max_udp_payload));

        if !in_network {
            self.refuse_outsider(&mut log);
            let bytes = Answer::new(&q, 5, self.settings.max_udp_payload).finish();
            let (bytes, record) = self.finish_bytes(log, &config, bytes);
            return self.summarised(bytes, &record, RefusedReason::NotInNetwork);
        }
        let who = self.shared.identities.by_address(ip);
        let group = who.group;
        log.identity = Some(who);

        // The request log is failing: a fail-closed group gets no answers (SERVFAIL, so the
        // device retries later rather than caching a refusal); a fail-open one is flagged.
        if !self.shared.log.is_healthy() {
            if config.fails_closed(group) {
                log.flag(Flag::FailClosed);
                log.decision = LogDecision::Error;
                let m = reply(&q, ResponseCode::ServFail, self.settings.max_udp_payload);
                return self.respond(log, &config, &m, transport, limit);
            }
            log.flag(Flag::FailOpen);
        }

        if CANARIES.contains(&q.host.as_str()) {
            log.flag(Flag::Canary);
            log.decision = LogDecision::Block;
            log.rule = Some("canary: answered NXDOMAIN for every group".to_string());
            let bytes = self.nxdomain(&q);
            return self.respond_bytes(log, &config, bytes);
        }

        let at = local_time(&config, log.time);
        let decision = decide(&config, group, at, &q.host);
        self.note_decision(&mut log, &config, group, &decision);
        if decision.action == Action::Block {
            let bytes = self.blocked_answer(&q);
            return self.respond_bytes(log, &config, bytes);
        }

        if let Some(answer) = self.local_answer(&q, &config, local) {
            let encoded = answer.finish_within(limit);
            if encoded.truncated {
                log.flag(Flag::Truncated);
            }
            return self.respond_bytes(log, &config, encoded.bytes);
        }

        let mut front = None;
        if matches!(q.qtype(), Rtype::A | Rtype::AAAA | Rtype::HTTPS) {
            if let Some(redirect) =
                crate::safe_search::redirect(config.policy.group(group), &q.host)
            {
                log.flag(if redirect.contains("youtube") {
                    Flag::YoutubeRestrict
                } else {
                    Flag::SafeSearch
                });
                front = Some(redirect);
            }
        }
        let private_ok = !self.settings.block_rebinding || self.is_internal(&q.host, &config);
        let key = cache_key(front.unwrap_or(&q.host), q.qtype());
        let pending = Pending {
            log,
            group,
            categories: decision.categories,
            transport,
            private_ok,
            question: q,
            front,
            key,
        };
        if let Some(hit) = self.cache.get(
            key,
            pending.ask(),
            pending.question.qtype(),
            tokio::time::Instant::now(),
        ) {
            self.metrics.cache_hits.inc();
            let mut pending = pending;
            if let Some(bytes) = self.serve_template(&mut pending, &hit, &config) {
                return self.respond_bytes(pending.log, &config, bytes);
            }
            let (bytes, record) = self.finish_forward(pending, Ok((hit, true)), &config);
            return Step::Done(bytes, Some(Box::new(record)));
        }
        Step::Forward(Box::new(pending))
    }

    /// The asynchronous phase: asks upstream (or waits for the same question already asked),
    /// then checks and encodes the answer.
    pub async fn resolve(&self, pending: Box<Pending>) -> (Option<Vec<u8>>, RequestRecord) {
        let qtype = pending.question.qtype();
        let result = self
            .fetch(
                pending.key,
                pending.ask(),
                qtype,
                pending.question.checking_disabled,
            )
            .await;
        let config = self.shared.config.load();
        self.finish_forward(*pending, result, &config)
    }

    /// Writes a finished question's log line, then sends the answer (`send`) once the line is
    /// in the log file: a crash can never leave an answered question unlogged. The queue slot
    /// is taken first, so a full queue slows answers down rather than losing lines.
    pub async fn log_and_send<F: std::future::Future<Output = ()>>(
        &self,
        record: Option<Box<RequestRecord>>,
        send: F,
    ) {
        let Some(record) = record else {
            send.await;
            return;
        };
        match self.shared.log.reserve().await {
            Some(permit) => {
                permit.send(*record).committed().await;
                send.await;
            }
            None => {
                send.await;
                write_unlogged(&record);
            }
        }
    }

    /// Queues a finished question's log line and gives back its ticket, for a loop that sends
    /// the answer later, once the ticket is committed (the UDP loop, which goes on reading
    /// while the writer writes). `None` when there is no line, or the log has shut down (the
    /// line then went to stderr).
    pub async fn log_for_answer(&self, record: Option<Box<RequestRecord>>) -> Option<Ticket> {
        let record = record?;
        match self.shared.log.reserve().await {
            Some(permit) => Some(permit.send(*record)),
            None => {
                write_unlogged(&record);
                None
            }
        }
    }

    async fn fetch(
        &self,
        key: u64,
        host: &str,
        qtype: Rtype,
        checking_disabled: bool,
    ) -> FetchResult {
        let (tx, rx) = oneshot::channel();
        let first = {
            let mut inflight = self
                .inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match inflight.get_mut(&key) {
                Some(waiters) => {
                    waiters.push(tx);
                    false
                }
                None => {
                    inflight.insert(key, vec![tx]);
                    true
                }
            }
        };
        self.metrics.cache_misses.inc();
        if first {
            // If this asker is dropped mid-way, the guard still clears the entry, so later
            // askers start afresh instead of waiting on an answer no one is fetching.
            let guard = InflightGuard { server: self, key };
            self.metrics.in_flight.inc();
            let result = self
                .ask_upstreams(key, host, qtype, checking_disabled)
                .await;
            for w in guard.take_waiters() {
                let _ = w.send(result.clone());
            }
        }
        match rx.await {
            Ok(r) => r,
            // The asker was cancelled (its task dropped mid-way): ask again, alone.
            Err(_) => {
                self.ask_upstreams(key, host, qtype, checking_disabled)
                    .await
            }
        }
    }

    async fn ask_upstreams(
        &self,
        key: u64,
        host: &str,
        qtype: Rtype,
        checking_disabled: bool,
    ) -> FetchResult {
        let result = self.upstreams.ask(host, qtype, checking_disabled).await;
        let faults = match &result {
            Ok(f) => &f.faults,
            Err(e) => &e.attempts,
        };
        for (upstream, fault) in faults {
            self.metrics
                .upstream_failures
                .get_or_create(&super::metrics::UpstreamFailureLabels {
                    upstream: upstream.to_string(),
                    reason: fault.name(),
                })
                .inc();
        }
        let fetched = result.map_err(Arc::new)?;
        self.metrics
            .upstream_seconds
            .observe(fetched.latency.as_secs_f64());
        let m = fetched.message;
        let (answers, authorities) =
            answer_check::in_question_chain(host, m.answers, m.authorities);
        let ttl = cache_ttl(
            m.metadata.response_code,
            &answers,
            &authorities,
            self.settings.max_cache_ttl,
            self.settings.max_negative_ttl,
        );
        let wire = (ttl > 0)
            .then(|| WireTemplate::new(host, qtype, &answers, &authorities))
            .flatten();
        let answer = Arc::new(UpstreamAnswer {
            wire,
            rcode: m.metadata.response_code,
            answers,
            authorities,
            fetched: tokio::time::Instant::now(),
            ttl,
            latency: fetched.latency,
        });
        self.cache.insert(key, host, qtype, Arc::clone(&answer));
        self.metrics
            .cache_entries
            .set(i64::try_from(self.cache.len()).unwrap_or(i64::MAX));
        Ok((answer, false))
    }

    fn finish_forward(
        &self,
        p: Pending,
        result: FetchResult,
        config: &Config,
    ) -> (Option<Vec<u8>>, RequestRecord) {
        let Pending {
            question: q,
            mut log,
            group,
            front,
            categories,
            transport,
            private_ok,
            ..
        } = p;
        let limit =
            (transport == Transport::Udp).then(|| udp_limit(q.edns, self.settings.max_udp_payload));
        let (answer, cache_hit) = match result {
            Ok(r) => r,
            Err(failed) => {
                log.decision = LogDecision::Error;
                log.flag(if failed.all_timed_out() {
                    Flag::UpstreamTimeout
                } else {
                    Flag::UpstreamError
                });
                log.rule = Some(failed.describe());
                let m = reply(&q, ResponseCode::ServFail, self.settings.max_udp_payload);
                return self.respond_record(log, config, &m, limit);
            }
        };
        log.cache_hit = Some(cache_hit);
        if !cache_hit {
            log.upstream = Some(answer.latency);
        }
        let at = local_time(config, log.time);
        let window_cap = |extra: CategorySet| self.ttl_cap(config, group, categories.union(extra));
        let checked = answer_check::check(
            &answer.answers,
            &answer.authorities,
            CheckRules {
                age: answer.age(tokio::time::Instant::now()),
                refuse_private: !private_ok,
                exempt_addresses: &self.exempt_addresses,
            },
            |name| decide(config, group, at, name),
            window_cap,
        );
        match checked.verdict {
            Verdict::Pass => {}
            Verdict::AliasBlocked { name, decision } => {
                log.flag(Flag::CnameBlocked);
                self.note_decision(&mut log, config, group, &decision);
                if let Some(rule) = log.rule.take() {
                    log.rule = Some(format!("{rule} (via alias {name})"));
                } else {
                    log.rule = Some(format!("alias {name} is blocked"));
                }
                return self.finish_bytes(log, config, self.blocked_answer(&q));
            }
            Verdict::Rebinding { address } => {
                log.flag(Flag::Rebinding);
                log.decision = LogDecision::Block;
                log.rule = Some(format!(
                    "private address {address} in the answer for a public name (DNS rebinding)"
                ));
                return self.finish_bytes(log, config, self.blocked_answer(&q));
            }
        }
        if checked.ech_stripped {
            log.flag(Flag::EchStripped);
        }
        let mut m = reply(&q, answer.rcode, self.settings.max_udp_payload);
        if let Some(front) = front.and_then(fqdn) {
            let ttl = checked
                .answers
                .iter()
                .map(|r| r.ttl)
                .min()
                .unwrap_or(LOCAL_TTL);
            m.answers.push(Record::from_rdata(
                q.name(),
                ttl,
                RData::CNAME(CNAME(front)),
            ));
        }
        m.answers.extend(checked.answers);
        m.authorities = checked.authorities;
        if m.answers.is_empty() {
            // A negative answer's SOA sets how long clients cache the absence (RFC 2308).
            for r in &mut m.authorities {
                r.ttl = r.ttl.min(self.settings.max_negative_ttl);
            }
        }
        self.respond_record(log, config, &m, limit)
    }

    fn respond(
        &self,
        log: QueryLog,
        config: &Config,
        m: &Message,
        transport: Transport,
        limit: Option<usize>,
    ) -> Step {
        let limit = if transport == Transport::Udp {
            limit.or(Some(message::CLASSIC_UDP_LIMIT))
        } else {
            None
        };
        let (bytes, record) = self.respond_record(log, config, m, limit);
        Step::Done(bytes, Some(Box::new(record)))
    }

    /// The largest TTL to hand out: `max_cache_ttl`, or `window_ttl` when one of the group's
    /// time windows covers any of `categories` (so the window's end reaches devices promptly).
    fn ttl_cap(&self, config: &Config, group: GroupId, categories: CategorySet) -> u32 {
        let windowed = config
            .policy
            .group(group)
            .windows
            .iter()
            .any(|w| !w.categories.intersection(categories).is_empty());
        if windowed {
            self.settings.window_ttl.min(self.settings.max_cache_ttl)
        } else {
            self.settings.max_cache_ttl
        }
    }

    /// A cache hit served from its pre-written bytes, when nothing about it needs more than
    /// TTL patches for this group; `None` sends it through the full check (an alias that is
    /// blocked, a private address, a SafeSearch CNAME, an answer too big for the client's UDP).
    fn serve_template(
        &self,
        p: &mut Pending,
        hit: &UpstreamAnswer,
        config: &Config,
    ) -> Option<Vec<u8>> {
        let t = hit.wire.as_ref()?;
        if p.front.is_some() {
            return None;
        }
        if !p.private_ok
            && t.private
                .iter()
                .any(|ip| !self.exempt_addresses.contains(ip))
        {
            return None;
        }
        let mut categories = p.categories;
        if !t.aliases.is_empty() {
            let at = local_time(config, p.log.time);
            for name in &t.aliases {
                let d = decide(config, p.group, at, name);
                if d.action == Action::Block {
                    return None;
                }
                categories = categories.union(d.categories);
            }
        }
        let mut cap = self.ttl_cap(config, p.group, categories);
        if t.is_negative() {
            cap = cap.min(self.settings.max_negative_ttl);
        }
        let q = &p.question;
        let header = super::wire::reply_header(q, hit.rcode.low());
        let opt = q.edns.map(|_| self.settings.max_udp_payload);
        let bytes = t.write(
            header,
            &q.wire,
            hit.age(tokio::time::Instant::now()),
            cap,
            opt,
        );
        if p.transport == Transport::Udp
            && bytes.len() > udp_limit(q.edns, self.settings.max_udp_payload)
        {
            return None;
        }
        if t.ech_stripped {
            p.log.flag(Flag::EchStripped);
        }
        p.log.cache_hit = Some(true);
        Some(bytes)
    }

    /// An answer written by [`Answer`] (small enough for any transport) and its log line.
    fn respond_bytes(&self, log: QueryLog, config: &Config, bytes: Vec<u8>) -> Step {
        let (bytes, record) = self.finish_bytes(log, config, bytes);
        Step::Done(bytes, Some(Box::new(record)))
    }

    fn finish_bytes(
        &self,
        mut log: QueryLog,
        config: &Config,
        bytes: Vec<u8>,
    ) -> (Option<Vec<u8>>, RequestRecord) {
        log.rcode = Some(ResponseCode::from(0, bytes[3] & 0x0f));
        log.bytes_out = bytes.len();
        (Some(bytes), self.finish(log, config))
    }

    fn respond_record(
        &self,
        mut log: QueryLog,
        config: &Config,
        m: &Message,
        limit: Option<usize>,
    ) -> (Option<Vec<u8>>, RequestRecord) {
        let encoded = encode(m, limit);
        if encoded.truncated {
            log.flag(Flag::Truncated);
        }
        log.rcode = Some(m.metadata.response_code);
        log.bytes_out = encoded.bytes.len();
        (Some(encoded.bytes), self.finish(log, config))
    }

    /// The log record of a finished question; counts it.
    fn finish(&self, log: QueryLog, config: &Config) -> RequestRecord {
        let group = log.identity.as_ref().map(|i| i.group);
        let group_name = group.map_or("unknown", |g| config.policy.group(g).name.as_str());
        // The log writer puts every line in the school's zone; UTC here costs no zone lookup.
        let time = log.time.to_zoned_datetime(jiff::tz::TimeZone::UTC);
        let mut r = RequestRecord::new(RecordType::Dns, time, log.client, group_name);
        if let Some(id) = &log.identity {
            r.user = id.user.as_deref().map(str::to_string);
            r.device = id.device.as_deref().map(str::to_string);
            r.account_type = id.account_type;
        }
        r.host = log.host;
        r.bytes_in = log.bytes_in as u64;
        r.bytes_out = log.bytes_out as u64;
        r.duration = log.started.elapsed();
        r.decision = log.decision;
        r.category = log
            .category
            .map(|c| config.policy.categories().name(c).to_string());
        r.rule = log.rule;
        r.flags = log.flags;
        r.qtype = log.qtype;
        r.rcode = log.rcode.map(rcode_name);
        r.cache_hit = log.cache_hit;
        r.upstream_ms = log.upstream;
        let decision = match r.decision {
            LogDecision::Allow => 0,
            LogDecision::Block => 1,
            LogDecision::Error => 2,
        };
        self.metrics.count(
            decision,
            group.map(|g| usize::from(g.0)),
            r.qtype.as_deref().unwrap_or("other"),
        );
        r
    }

    /// A packet refused unread and unanswered (over the rate, or dropped), counted into the
    /// summary under the client's group by address (`None`: from outside the networks).
    fn summarise_unread(
        &self,
        config: &Config,
        reason: RefusedReason,
        log: &QueryLog,
        group: Option<GroupId>,
    ) -> Step {
        self.shared.refused.add(&Refused {
            kind: RecordType::Dns,
            reason,
            client: log.client,
            group: group.map_or("unknown", |g| config.policy.group(g).name.as_str()),
            time: log.time,
            bytes_in: log.bytes_in as u64,
            bytes_out: 0,
            status: 0,
        });
        Step::Done(None, None)
    }

    /// A refused question's answer, sent without a line of its own: its record (counted in
    /// the metrics already) goes into the summary instead.
    fn summarised(
        &self,
        bytes: Option<Vec<u8>>,
        record: &RequestRecord,
        reason: RefusedReason,
    ) -> Step {
        self.shared.refused.add(&Refused::of_record(record, reason));
        Step::Done(bytes, None)
    }

    fn refuse_outsider(&self, log: &mut QueryLog) {
        self.metrics.refuse("not_in_network");
        log.flag(Flag::NotInNetwork);
        log.decision = LogDecision::Block;
        log.rule = Some("client is not in a configured network".to_string());
    }

    fn note_decision(&self, log: &mut QueryLog, config: &Config, group: GroupId, d: &Decision) {
        log.decision = d.action.into();
        log.category = d.category;
        log.rule = match d.rule {
            Rule::Default => None,
            Rule::DomainList { category } => self
                .list_rules
                .get(usize::from(group.0))
                .and_then(|r| r.get(usize::from(category.0)))
                .cloned()
                .or_else(|| Some(config.policy.describe(group, d))),
            _ => Some(config.policy.describe(group, d)),
        };
    }

    /// NXDOMAIN with Lychgate's SOA, so it is cached for `blocked_ttl` at most.
    fn nxdomain(&self, q: &Question) -> Vec<u8> {
        Answer::new(q, 3, self.settings.max_udp_payload)
            .soa(self.settings.blocked_ttl)
            .finish()
    }

    /// The configured answer for a blocked name, for every question type. Always small: it
    /// fits any UDP size.
    fn blocked_answer(&self, q: &Question) -> Vec<u8> {
        let BlockedAnswer::BlockPage { v4, v6 } = self.settings.blocked_answer else {
            return self.nxdomain(q);
        };
        let ttl = self.settings.blocked_ttl;
        let answer = Answer::new(q, 0, self.settings.max_udp_payload);
        match (q.qtype(), v4, v6) {
            (Rtype::A, Some(v4), _) => answer.a(v4, ttl),
            (Rtype::AAAA, _, Some(v6)) => answer.aaaa(v6, ttl),
            _ => answer.soa(ttl),
        }
        .finish()
    }

    /// Lychgate's own name and `[[static_host]]` names, answered from the config.
    fn local_answer(&self, q: &Question, config: &Config, local: SocketAddr) -> Option<Answer> {
        let own;
        let addresses: &[IpAddr] = if q.host == config.proxy.service_host {
            own = if local.ip().is_unspecified() {
                self.exempt_addresses.clone()
            } else {
                vec![local.ip().to_canonical()]
            };
            &own
        } else {
            config.static_hosts.get(&q.host)?
        };
        let mut answer = Answer::new(q, 0, self.settings.max_udp_payload);
        let mut any = false;
        for ip in addresses {
            answer = match (q.qtype(), ip) {
                (Rtype::A, IpAddr::V4(v4)) => answer.a(*v4, LOCAL_TTL),
                (Rtype::AAAA, IpAddr::V6(v6)) => answer.aaaa(*v6, LOCAL_TTL),
                _ => continue,
            };
            any = true;
        }
        Some(if any { answer } else { answer.soa(LOCAL_TTL) })
    }

    /// Names whose answers may hold private addresses: the school's `internal_domains`,
    /// `home.arpa`, `.internal`, and `[[static_host]]` names.
    fn is_internal(&self, host: &str, config: &Config) -> bool {
        let under = |zone: &str| {
            host == zone
                || (host.len() > zone.len()
                    && host.ends_with(zone)
                    && host.as_bytes()[host.len() - zone.len() - 1] == b'.')
        };
        self.settings.internal_domains.iter().any(|z| under(z))
            || PRIVATE_ZONES.iter().any(|z| under(z))
            || config.static_hosts.get(host).is_some()
    }
}

/// The question a first asker is fetching: on drop (answered or abandoned) its entry leaves the
/// in-flight table and the gauge goes down; waiters it did not answer see their channel close
/// and ask again themselves.
struct InflightGuard<'a> {
    server: &'a DnsServer,
    key: u64,
}

impl InflightGuard<'_> {
    fn take_waiters(&self) -> Vec<oneshot::Sender<FetchResult>> {
        self.server
            .inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key)
            .unwrap_or_default()
    }
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        drop(self.take_waiters());
        self.server.metrics.in_flight.dec();
    }
}

/// The school's local time for deciding, worked out once a second per thread rather than per
/// question (windows are minutes wide; the zone lookup is not free at 50,000 questions a
/// second).
fn local_time(config: &Config, at: jiff::Timestamp) -> LocalTime {
    thread_local! {
        static LAST: std::cell::Cell<Option<(usize, i64, LocalTime)>> =
            const { std::cell::Cell::new(None) };
    }
    let policy = std::ptr::from_ref(&config.policy) as usize;
    let second = at.as_second();
    LAST.with(|last| match last.get() {
        Some((p, s, t)) if p == policy && s == second => t,
        _ => {
            let t = config.policy.local_time(at);
            last.set(Some((policy, second, t)));
            t
        }
    })
}

/// A name decided for a group as a DNS question: host only, so a URL entry never blocks the
/// whole domain.
fn decide(config: &Config, group: GroupId, at: LocalTime, host: &str) -> Decision {
    let request = Request {
        host,
        ip: None,
        path: "/",
        query: None,
        kind: RequestKind::HostOnly,
    };
    with_scratch(|s| config.policy.decide(group, at, &request, s))
}

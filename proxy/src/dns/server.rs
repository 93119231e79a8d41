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
use crate::config::{BlockedAnswer, DnsSettings};
use crate::gate::pipeline::{decide_at, local_time};
use crate::gate::{Gate, Outcome, RequestContext, Snapshot, TrafficKind};
use crate::log::{Flag, RecordType, Refused, RefusedReason, RequestRecord, Ticket};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{RData, Record, RecordType as Rtype};
use lychgate_classifier::category::CategorySet;
use lychgate_classifier::policy::{Action, Decision, GroupId, Request, RequestKind, Rule};
use lychgate_classifier::time::LocalTime;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;
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
    ctx: RequestContext,
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

impl Pending {
    /// The name asked upstream: the question's, or the SafeSearch front end's.
    fn ask(&self) -> &str {
        self.front.unwrap_or(&self.question.host)
    }
}

type FetchResult = Result<(Arc<UpstreamAnswer>, bool), Arc<AllFailed>>;

/// The filtering DNS server's shared state. Each question is answered on the gate's snapshot
/// current when it arrived (policy, identities, DNS settings and tables); the listeners, the
/// upstreams, the cache and the rate limit are built once from the start-up settings.
#[derive(Debug)]
pub struct DnsServer {
    gate: Arc<Gate>,
    /// The settings the listeners, upstreams, cache and rate limit were built with.
    settings: DnsSettings,
    upstreams: Upstreams,
    cache: AnswerCache,
    /// Questions upstream now, by cache key: later askers wait for the same answer.
    inflight: Mutex<HashMap<u64, Vec<oneshot::Sender<FetchResult>>>>,
    metrics: Arc<DnsMetrics>,
    rate: ClientRateLimit,
}

impl DnsServer {
    /// A server answering on `gate`'s snapshots, forwarding to `upstreams`.
    pub fn new(gate: Arc<Gate>, upstreams: Upstreams, metrics: Arc<DnsMetrics>) -> Self {
        let settings = gate.snapshot().config.dns.clone();
        DnsServer {
            cache: AnswerCache::new(settings.cache_entries),
            rate: ClientRateLimit::new(settings.max_qps_per_client),
            inflight: Mutex::new(HashMap::new()),
            gate,
            settings,
            upstreams,
            metrics,
        }
    }

    /// The start-up settings its listeners, upstreams, cache and rate limit were built with
    /// (each question reads the rest from its snapshot).
    pub fn settings(&self) -> &DnsSettings {
        &self.settings
    }

    /// How many client networks are configured (each has a reserve of TCP connections).
    pub fn network_count(&self) -> usize {
        self.gate.snapshot().config.networks.len()
    }

    /// The most specific configured network holding `ip`, by its index.
    pub fn network_of(&self, ip: IpAddr) -> Option<usize> {
        self.gate.snapshot().config.network_of(ip)
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
        // The snapshot this question is answered on, to its end.
        let snap = self.gate.snapshot();
        let ip = client.ip().to_canonical();
        let started = Instant::now();
        let in_network = snap.config.serves(ip);

        // Rate first: a flood costs a token-bucket check, not a parse. Over-rate questions are
        // counted for the summary lines, never a line each: one device must not be able to
        // fill the log disk.
        if !self.rate.allow(ip, started) {
            self.metrics.refuse("rate_limited");
            let group = in_network.then(|| snap.identities.by_address(ip).group);
            if let Some(g) = group {
                self.metrics.count(2, Some(usize::from(g.0)), "other");
            }
            return self.summarise_unread(&snap, RefusedReason::RateLimited, ip, packet, group);
        }

        let read = match super::wire::read_question(packet) {
            Some(q) => Ok(q),
            None => message::read_question(packet),
        };
        let q = match read {
            Ok(q) => q,
            Err(Unreadable::Drop(_)) => {
                self.metrics.refuse("malformed");
                let group = in_network.then(|| snap.identities.by_address(ip).group);
                return self.summarise_unread(&snap, RefusedReason::Malformed, ip, packet, group);
            }
            Err(Unreadable::Answer {
                id,
                rcode,
                reason,
                query,
                edns,
            }) => {
                self.metrics.refuse("malformed");
                let mut ctx = self.begin(&snap, ip, started, packet);
                if let Some(q) = &query {
                    ctx.host = message::normalised_host(&q.name);
                    ctx.qtype = Some(qtype_name(q.query_type));
                }
                let (rcode, refused) = if in_network {
                    ctx.identify_by_address();
                    ctx.flag(Flag::Malformed);
                    ctx.rule = Some(format!("unreadable question: {reason}"));
                    ctx.outcome = Outcome::Error;
                    (rcode, RefusedReason::Malformed)
                } else {
                    self.refuse_outsider(&mut ctx);
                    (ResponseCode::Refused, RefusedReason::NotInNetwork)
                };
                let max_udp = snap.config.dns.max_udp_payload;
                let m = reply_unreadable(id, rcode, query, edns, max_udp);
                let limit = (transport == Transport::Udp).then_some(message::CLASSIC_UDP_LIMIT);
                let (bytes, record) = self.respond_record(ctx, &m, limit);
                return self.summarised(bytes, &record, refused);
            }
        };
        let settings = &snap.config.dns;
        let mut ctx = self.begin(&snap, ip, started, packet);
        ctx.host.clone_from(&q.host);
        ctx.qtype = Some(qtype_name(q.qtype()));
        let limit =
            (transport == Transport::Udp).then(|| udp_limit(q.edns, settings.max_udp_payload));

        if !in_network {
            self.refuse_outsider(&mut ctx);
            let bytes = Answer::new(&q, 5, settings.max_udp_payload).finish();
            let (bytes, record) = self.finish_bytes(ctx, bytes);
            return self.summarised(bytes, &record, RefusedReason::NotInNetwork);
        }
        let group = ctx.identify_by_address();

        // The request log is failing: a fail-closed group gets no answers (SERVFAIL, so the
        // device retries later rather than caching a refusal); a fail-open one is flagged.
        if self.gate.log_blocks(&mut ctx, group) {
            ctx.flag(Flag::FailClosed);
            ctx.outcome = Outcome::Error;
            let m = reply(&q, ResponseCode::ServFail, settings.max_udp_payload);
            return self.respond(ctx, &m, transport, limit);
        }

        if CANARIES.contains(&q.host.as_str()) {
            ctx.flag(Flag::Canary);
            ctx.outcome = Outcome::Block;
            ctx.rule = Some("canary: answered NXDOMAIN for every group".to_string());
            let bytes = nxdomain(&snap, &q);
            return self.respond_bytes(ctx, bytes);
        }

        let at = local_time(&snap, ctx.time);
        let decision = decide(&snap, group, at, &q.host);
        note_decision(&mut ctx, &snap, group, &decision);
        if decision.action == Action::Block {
            let bytes = blocked_answer(&snap, &q);
            return self.respond_bytes(ctx, bytes);
        }

        if let Some(answer) = local_answer(&snap, &q, local) {
            let encoded = answer.finish_within(limit);
            if encoded.truncated {
                ctx.flag(Flag::Truncated);
            }
            return self.respond_bytes(ctx, encoded.bytes);
        }

        let mut front = None;
        if matches!(q.qtype(), Rtype::A | Rtype::AAAA | Rtype::HTTPS) {
            if let Some(redirect) =
                crate::safe_search::redirect(snap.config.policy.group(group), &q.host)
            {
                ctx.flag(if redirect.contains("youtube") {
                    Flag::YoutubeRestrict
                } else {
                    Flag::SafeSearch
                });
                front = Some(redirect);
            }
        }
        let private_ok = !settings.block_rebinding || is_internal(&snap, &q.host);
        let key = cache_key(front.unwrap_or(&q.host), q.qtype());
        let pending = Pending {
            ctx,
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
            if let Some(bytes) = serve_template(&snap, &mut pending, &hit) {
                return self.respond_bytes(pending.ctx, bytes);
            }
            let (bytes, record) = self.finish_forward(pending, Ok((hit, true)));
            return Step::Done(bytes, Some(Box::new(record)));
        }
        Step::Forward(Box::new(pending))
    }

    /// A question's context, on `snap`, from the packet's arrival.
    fn begin(
        &self,
        snap: &Arc<Snapshot>,
        ip: IpAddr,
        started: Instant,
        packet: &[u8],
    ) -> RequestContext {
        let mut ctx = RequestContext::new(
            TrafficKind::Dns,
            ip,
            crate::log::new_reference(),
            Arc::clone(snap),
        );
        ctx.started = started;
        ctx.time = self.gate.clock.wall();
        ctx.outcome = Outcome::Allow;
        ctx.bytes_in = packet.len() as u64;
        ctx
    }

    /// The asynchronous phase: asks upstream (or waits for the same question already asked),
    /// then checks and encodes the answer.
    pub async fn resolve(&self, pending: Box<Pending>) -> (Option<Vec<u8>>, RequestRecord) {
        let qtype = pending.question.qtype();
        let settings = &pending.ctx.snapshot().config.dns;
        let ttl_caps = (settings.max_cache_ttl, settings.max_negative_ttl);
        let result = self
            .fetch(
                pending.key,
                pending.ask(),
                qtype,
                pending.question.checking_disabled,
                ttl_caps,
            )
            .await;
        self.finish_forward(*pending, result)
    }

    /// Writes a finished question's log line, then sends the answer (`send`) once the line is
    /// in the log file: a crash can never leave an answered question unlogged. The queue slot
    /// is taken first, so a full queue slows answers down rather than losing lines.
    pub async fn log_and_send<F: std::future::Future<Output = ()>>(
        &self,
        record: Option<Box<RequestRecord>>,
        send: F,
    ) {
        if let Some(record) = record {
            if let Some(ticket) = self.gate.queue(*record).await {
                ticket.committed().await;
            }
        }
        send.await;
    }

    /// Queues a finished question's log line and gives back its ticket, for a loop that sends
    /// the answer later, once the ticket is committed (the UDP loop, which goes on reading
    /// while the writer writes). `None` when there is no line, or the log has shut down (the
    /// line then went to stderr).
    pub async fn log_for_answer(&self, record: Option<Box<RequestRecord>>) -> Option<Ticket> {
        self.gate.queue(*record?).await
    }

    async fn fetch(
        &self,
        key: u64,
        host: &str,
        qtype: Rtype,
        checking_disabled: bool,
        ttl_caps: (u32, u32),
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
                .ask_upstreams(key, host, qtype, checking_disabled, ttl_caps)
                .await;
            for w in guard.take_waiters() {
                let _ = w.send(result.clone());
            }
        }
        match rx.await {
            Ok(r) => r,
            // The asker was cancelled (its task dropped mid-way): ask again, alone.
            Err(_) => {
                self.ask_upstreams(key, host, qtype, checking_disabled, ttl_caps)
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
        (max_ttl, max_negative_ttl): (u32, u32),
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
            max_ttl,
            max_negative_ttl,
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

    fn finish_forward(&self, p: Pending, result: FetchResult) -> (Option<Vec<u8>>, RequestRecord) {
        let Pending {
            question: q,
            mut ctx,
            group,
            front,
            categories,
            transport,
            private_ok,
            ..
        } = p;
        let snap = Arc::clone(ctx.snapshot());
        let settings = &snap.config.dns;
        let limit =
            (transport == Transport::Udp).then(|| udp_limit(q.edns, settings.max_udp_payload));
        let (answer, cache_hit) = match result {
            Ok(r) => r,
            Err(failed) => {
                ctx.outcome = Outcome::Error;
                ctx.flag(if failed.all_timed_out() {
                    Flag::UpstreamTimeout
                } else {
                    Flag::UpstreamError
                });
                ctx.rule = Some(failed.describe());
                let m = reply(&q, ResponseCode::ServFail, settings.max_udp_payload);
                return self.respond_record(ctx, &m, limit);
            }
        };
        ctx.cache_hit = Some(cache_hit);
        if !cache_hit {
            ctx.upstream = Some(answer.latency);
        }
        let at = local_time(&snap, ctx.time);
        let window_cap = |extra: CategorySet| ttl_cap(&snap, group, categories.union(extra));
        let checked = answer_check::check(
            &answer.answers,
            &answer.authorities,
            CheckRules {
                age: answer.age(tokio::time::Instant::now()),
                refuse_private: !private_ok,
                exempt_addresses: &snap.dns.exempt_addresses,
            },
            |name| decide(&snap, group, at, name),
            window_cap,
        );
        match checked.verdict {
            Verdict::Pass => {}
            Verdict::AliasBlocked { name, decision } => {
                ctx.flag(Flag::CnameBlocked);
                note_decision(&mut ctx, &snap, group, &decision);
                if let Some(rule) = ctx.rule.take() {
                    ctx.rule = Some(format!("{rule} (via alias {name})"));
                } else {
                    ctx.rule = Some(format!("alias {name} is blocked"));
                }
                return self.finish_bytes(ctx, blocked_answer(&snap, &q));
            }
            Verdict::Rebinding { address } => {
                ctx.flag(Flag::Rebinding);
                ctx.outcome = Outcome::Block;
                ctx.rule = Some(format!(
                    "private address {address} in the answer for a public name (DNS rebinding)"
                ));
                return self.finish_bytes(ctx, blocked_answer(&snap, &q));
            }
        }
        if checked.ech_stripped {
            ctx.flag(Flag::EchStripped);
        }
        let mut m = reply(&q, answer.rcode, settings.max_udp_payload);
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
                r.ttl = r.ttl.min(settings.max_negative_ttl);
            }
        }
        self.respond_record(ctx, &m, limit)
    }

    fn respond(
        &self,
        ctx: RequestContext,
        m: &Message,
        transport: Transport,
        limit: Option<usize>,
    ) -> Step {
        let limit = if transport == Transport::Udp {
            limit.or(Some(message::CLASSIC_UDP_LIMIT))
        } else {
            None
        };
        let (bytes, record) = self.respond_record(ctx, m, limit);
        Step::Done(bytes, Some(Box::new(record)))
    }

    /// An answer written by [`Answer`] (small enough for any transport) and its log line.
    fn respond_bytes(&self, ctx: RequestContext, bytes: Vec<u8>) -> Step {
        let (bytes, record) = self.finish_bytes(ctx, bytes);
        Step::Done(bytes, Some(Box::new(record)))
    }

    fn finish_bytes(
        &self,
        mut ctx: RequestContext,
        bytes: Vec<u8>,
    ) -> (Option<Vec<u8>>, RequestRecord) {
        ctx.rcode = Some(rcode_name(ResponseCode::from(0, bytes[3] & 0x0f)));
        ctx.bytes_out = bytes.len() as u64;
        (Some(bytes), self.finish(ctx))
    }

    fn respond_record(
        &self,
        mut ctx: RequestContext,
        m: &Message,
        limit: Option<usize>,
    ) -> (Option<Vec<u8>>, RequestRecord) {
        let encoded = encode(m, limit);
        if encoded.truncated {
            ctx.flag(Flag::Truncated);
        }
        ctx.rcode = Some(rcode_name(m.metadata.response_code));
        ctx.bytes_out = encoded.bytes.len() as u64;
        (Some(encoded.bytes), self.finish(ctx))
    }

    /// The log record of a finished question; counts it (by type, in the DNS metrics).
    fn finish(&self, ctx: RequestContext) -> RequestRecord {
        self.metrics.count(
            ctx.outcome.index(),
            ctx.group_id.map(|g| usize::from(g.0)),
            ctx.qtype.as_deref().unwrap_or("other"),
        );
        ctx.into_record()
    }

    /// A packet refused unread and unanswered (over the rate, or dropped), counted into the
    /// summary under the client's group by address (`None`: from outside the networks).
    fn summarise_unread(
        &self,
        snap: &Snapshot,
        reason: RefusedReason,
        client: IpAddr,
        packet: &[u8],
        group: Option<GroupId>,
    ) -> Step {
        self.gate.refused.add(&Refused {
            kind: RecordType::Dns,
            reason,
            client,
            group: group.map_or("unknown", |g| snap.group_name(g)),
            time: self.gate.clock.wall(),
            bytes_in: packet.len() as u64,
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
        self.gate.refused.add(&Refused::of_record(record, reason));
        Step::Done(bytes, None)
    }

    fn refuse_outsider(&self, ctx: &mut RequestContext) {
        self.metrics.refuse("not_in_network");
        ctx.flag(Flag::NotInNetwork);
        ctx.outcome = Outcome::Block;
        ctx.rule = Some("client is not in a configured network".to_string());
    }
}

/// The largest TTL to hand out: `max_cache_ttl`, or `window_ttl` when one of the group's time
/// windows covers any of `categories` (so the window's end reaches devices promptly).
fn ttl_cap(snap: &Snapshot, group: GroupId, categories: CategorySet) -> u32 {
    let settings = &snap.config.dns;
    let windowed = snap
        .config
        .policy
        .group(group)
        .windows
        .iter()
        .any(|w| !w.categories.intersection(categories).is_empty());
    if windowed {
        settings.window_ttl.min(settings.max_cache_ttl)
    } else {
        settings.max_cache_ttl
    }
}

/// A cache hit served from its pre-written bytes, when nothing about it needs more than TTL
/// patches for this group; `None` sends it through the full check (an alias that is blocked, a
/// private address, a SafeSearch CNAME, an answer too big for the client's UDP).
fn serve_template(snap: &Snapshot, p: &mut Pending, hit: &UpstreamAnswer) -> Option<Vec<u8>> {
    let settings = &snap.config.dns;
    let t = hit.wire.as_ref()?;
    if p.front.is_some() {
        return None;
    }
    if !p.private_ok
        && t.private
            .iter()
            .any(|ip| !snap.dns.exempt_addresses.contains(ip))
    {
        return None;
    }
    let mut categories = p.categories;
    if !t.aliases.is_empty() {
        let at = local_time(snap, p.ctx.time);
        for name in &t.aliases {
            let d = decide(snap, p.group, at, name);
            if d.action == Action::Block {
                return None;
            }
            categories = categories.union(d.categories);
        }
    }
    let mut cap = ttl_cap(snap, p.group, categories);
    if t.is_negative() {
        cap = cap.min(settings.max_negative_ttl);
    }
    let q = &p.question;
    let header = super::wire::reply_header(q, hit.rcode.low());
    let opt = q.edns.map(|_| settings.max_udp_payload);
    let bytes = t.write(
        header,
        &q.wire,
        hit.age(tokio::time::Instant::now()),
        cap,
        opt,
    );
    if p.transport == Transport::Udp && bytes.len() > udp_limit(q.edns, settings.max_udp_payload) {
        return None;
    }
    if t.ech_stripped {
        p.ctx.flag(Flag::EchStripped);
    }
    p.ctx.cache_hit = Some(true);
    Some(bytes)
}

/// The decision's facts in the question's context; a block by a category list takes its
/// sentence from the snapshot's table rather than formatting it anew.
fn note_decision(ctx: &mut RequestContext, snap: &Snapshot, group: GroupId, d: &Decision) {
    ctx.outcome = match d.action {
        Action::Allow => Outcome::Allow,
        Action::Block => Outcome::Block,
    };
    ctx.category_id = d.category;
    ctx.rule = match d.rule {
        Rule::Default => None,
        Rule::DomainList { category } => snap
            .dns
            .list_rules
            .get(usize::from(group.0))
            .and_then(|r| r.get(usize::from(category.0)))
            .cloned()
            .or_else(|| Some(snap.config.policy.describe(group, d))),
        _ => Some(snap.config.policy.describe(group, d)),
    };
}

/// NXDOMAIN with Lychgate's SOA, so it is cached for `blocked_ttl` at most.
fn nxdomain(snap: &Snapshot, q: &Question) -> Vec<u8> {
    let settings = &snap.config.dns;
    Answer::new(q, 3, settings.max_udp_payload)
        .soa(settings.blocked_ttl)
        .finish()
}

/// The configured answer for a blocked name, for every question type. Always small: it fits
/// any UDP size.
fn blocked_answer(snap: &Snapshot, q: &Question) -> Vec<u8> {
    let settings = &snap.config.dns;
    let BlockedAnswer::BlockPage { v4, v6 } = settings.blocked_answer else {
        return nxdomain(snap, q);
    };
    let ttl = settings.blocked_ttl;
    let answer = Answer::new(q, 0, settings.max_udp_payload);
    match (q.qtype(), v4, v6) {
        (Rtype::A, Some(v4), _) => answer.a(v4, ttl),
        (Rtype::AAAA, _, Some(v6)) => answer.aaaa(v6, ttl),
        _ => answer.soa(ttl),
    }
    .finish()
}

/// Lychgate's own name and `[[static_host]]` names, answered from the config.
fn local_answer(snap: &Snapshot, q: &Question, local: SocketAddr) -> Option<Answer> {
    let config = &snap.config;
    let own;
    let addresses: &[IpAddr] = if q.host == config.proxy.service_host {
        own = if local.ip().is_unspecified() {
            snap.dns.exempt_addresses.clone()
        } else {
            vec![local.ip().to_canonical()]
        };
        &own
    } else {
        config.static_hosts.get(&q.host)?
    };
    let mut answer = Answer::new(q, 0, config.dns.max_udp_payload);
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
fn is_internal(snap: &Snapshot, host: &str) -> bool {
    let under = |zone: &str| {
        host == zone
            || (host.len() > zone.len()
                && host.ends_with(zone)
                && host.as_bytes()[host.len() - zone.len() - 1] == b'.')
    };
    snap.config.dns.internal_domains.iter().any(|z| under(z))
        || PRIVATE_ZONES.iter().any(|z| under(z))
        || snap.config.static_hosts.get(host).is_some()
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

/// A name decided for a group as a DNS question: host only, so a URL entry never blocks the
/// whole domain.
fn decide(snap: &Snapshot, group: GroupId, at: LocalTime, host: &str) -> Decision {
    let request = Request {
        host,
        ip: None,
        path: "/",
        query: None,
        kind: RequestKind::HostOnly,
    };
    decide_at(snap, group, at, &request)
}

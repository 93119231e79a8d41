//! Forwarding allowed questions to the upstream resolvers. Plain upstreams: UDP first, each
//! question from its own socket on a random source port with a random id (as resolvers do since
//! 2008: an off-path forger must guess both, about 2^32 tries, not 2^16), the answer's question
//! checked against the one asked; TCP when the answer comes back truncated. Each upstream in
//! order for `upstream_timeout`, the next one when it times out, fails, or answers SERVFAIL or
//! REFUSED. Ids and ports come from `rand`'s per-thread cryptographic generator (ChaCha,
//! seeded from the OS), so no system call is made for them.
//!
//! DNS-over-TLS upstreams (`upstream_tls.rs`) keep one connection with questions pipelined,
//! opened on first use.

use super::message::fqdn;
use super::upstream_tls::TlsUpstream;
use super::wire::{name_end, read_frame, write_frame};
use crate::config::UpstreamSpec;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::RecordType;
use rand::RngExt as _;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::oneshot;

/// Source ports a question's socket is bound to, chosen at random (the ports below are the
/// system's well-known ones).
const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 1024..=65535;
/// Random ports tried before the kernel is left to choose (a port in use is skipped).
const PORT_TRIES: usize = 16;
/// The EDNS size Lychgate asks upstreams for (DNS Flag Day 2020).
const UPSTREAM_PAYLOAD: u16 = 1232;
/// Largest answer read over UDP.
const MAX_UDP_ANSWER: usize = 4096;

/// Why one upstream did not give a usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFault {
    /// No answer within the timeout.
    Timeout,
    /// It could not be reached, or its answer could not be read or did not match.
    Error,
    /// It answered SERVFAIL.
    ServFail,
    /// It answered REFUSED.
    Refused,
}

impl UpstreamFault {
    /// Name in metrics and logs.
    pub const fn name(self) -> &'static str {
        match self {
            UpstreamFault::Timeout => "timeout",
            UpstreamFault::Error => "error",
            UpstreamFault::ServFail => "servfail",
            UpstreamFault::Refused => "refused",
        }
    }
}

/// Every upstream failed: what each did.
#[derive(Debug, Clone)]
pub struct AllFailed {
    /// (upstream, what happened), in the order tried.
    pub attempts: Vec<(Arc<str>, UpstreamFault)>,
}

impl AllFailed {
    /// The reason written in the log's `rule`.
    pub fn describe(&self) -> String {
        if self.attempts.is_empty() {
            return "no upstream resolver is configured (or /etc/resolv.conf names only Lychgate itself)".to_string();
        }
        let parts: Vec<String> = self
            .attempts
            .iter()
            .map(|(u, f)| format!("{u} {}", f.name()))
            .collect();
        format!("all upstreams failed: {}", parts.join(", "))
    }

    /// Whether every attempt timed out.
    pub fn all_timed_out(&self) -> bool {
        !self.attempts.is_empty()
            && self
                .attempts
                .iter()
                .all(|(_, f)| *f == UpstreamFault::Timeout)
    }
}

/// An upstream's usable answer.
#[derive(Debug)]
pub struct Fetched {
    /// The parsed answer.
    pub message: Message,
    /// Which upstream.
    pub upstream: Arc<str>,
    /// How long it took (the successful attempt only).
    pub latency: Duration,
    /// Faults of upstreams tried before it.
    pub faults: Vec<(Arc<str>, UpstreamFault)>,
}

/// The configured upstreams.
#[derive(Debug)]
pub struct Upstreams {
    list: Vec<Upstream>,
    timeout: Duration,
}

#[derive(Debug)]
struct Upstream {
    label: Arc<str>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// Plain DNS: a UDP socket per question, TCP for truncated answers.
    Plain(SocketAddr),
    /// DNS over TLS.
    Tls(TlsUpstream),
}

/// Questions sent on one socket or connection and not yet answered, by id.
#[derive(Debug, Default)]
pub(super) struct Waiting(Mutex<HashMap<u16, Waiter>>);

/// A question waiting on a channel: its question section as sent, and where its answer goes.
#[derive(Debug)]
struct Waiter {
    question: Vec<u8>,
    answer: oneshot::Sender<Vec<u8>>,
}

/// Whether `packet` answers the question whose section (name, type, class) is `question`: the
/// name compared without case, type and class exactly. A packet with the right id but another
/// question (forged, or a confused upstream) is not an answer: the question keeps waiting for
/// the real one (RFC 5452 §9.1).
fn answers_question(packet: &[u8], question: &[u8]) -> bool {
    let Some(section) = packet.get(12..12 + question.len()) else {
        return false;
    };
    let qdcount = u16::from_be_bytes([packet[4], packet[5]]);
    let name_len = question.len().saturating_sub(4);
    qdcount == 1
        && packet[2] & 0x80 != 0
        && section[..name_len].eq_ignore_ascii_case(&question[..name_len])
        && section[name_len..] == question[name_len..]
}

/// The question section of a message Lychgate encoded (one question, no compression in it):
/// from the end of the header through the name's root label, type and class.
fn question_section(message: &[u8]) -> Option<&[u8]> {
    message.get(12..name_end(message, 12)? + 4)
}

impl Upstreams {
    /// Upstreams tried in this order, each for `timeout`. `ca_file` adds CA certificates for
    /// DNS-over-TLS upstreams to the system's.
    pub fn new(
        specs: &[UpstreamSpec],
        timeout: Duration,
        ca_file: Option<&Path>,
    ) -> Result<Self, String> {
        let mut tls_config = None;
        let mut list = Vec::with_capacity(specs.len());
        for spec in specs {
            let kind = match spec {
                UpstreamSpec::Plain(addr) => Kind::Plain(*addr),
                UpstreamSpec::Tls { addr, server_name } => {
                    let config = match &tls_config {
                        Some(c) => Arc::clone(c),
                        None => {
                            let c = super::upstream_tls::client_config(ca_file)?;
                            tls_config = Some(Arc::clone(&c));
                            c
                        }
                    };
                    Kind::Tls(TlsUpstream::new(*addr, server_name.as_deref(), config)?)
                }
            };
            list.push(Upstream {
                label: Arc::from(spec.to_string()),
                kind,
            });
        }
        Ok(Upstreams { list, timeout })
    }

    /// Labels, as metrics name them.
    pub fn labels(&self) -> impl Iterator<Item = &Arc<str>> {
        self.list.iter().map(|u| &u.label)
    }

    /// Asks the upstreams for `host`/`qtype`, in order, until one answers usably.
    pub async fn ask(
        &self,
        host: &str,
        qtype: RecordType,
        checking_disabled: bool,
    ) -> Result<Fetched, AllFailed> {
        let mut faults = Vec::new();
        let Some(name) = fqdn(host) else {
            return Err(AllFailed { attempts: faults });
        };
        let query = Query::query(name, qtype);
        for up in &self.list {
            let started = Instant::now();
            match up.exchange(&query, checking_disabled, self.timeout).await {
                Ok(message) => {
                    let fault = match message.metadata.response_code {
                        ResponseCode::ServFail => Some(UpstreamFault::ServFail),
                        ResponseCode::Refused => Some(UpstreamFault::Refused),
                        _ => None,
                    };
                    match fault {
                        Some(f) => faults.push((Arc::clone(&up.label), f)),
                        None => {
                            return Ok(Fetched {
                                message,
                                upstream: Arc::clone(&up.label),
                                latency: started.elapsed(),
                                faults,
                            });
                        }
                    }
                }
                Err(f) => faults.push((Arc::clone(&up.label), f)),
            }
        }
        Err(AllFailed { attempts: faults })
    }
}

/// The question Lychgate sends: a fresh id, RD, EDNS with its own size, CD passed on.
fn question_bytes(id: u16, query: &Query, checking_disabled: bool) -> Option<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = checking_disabled;
    m.queries.push(query.clone());
    let mut edns = Edns::new();
    edns.set_max_payload(UPSTREAM_PAYLOAD);
    m.set_edns(edns);
    m.to_vec().ok()
}

/// Reads an upstream's answer and checks it answers `query` (the id is checked by the caller).
fn read_answer(bytes: &[u8], query: &Query) -> Result<Message, UpstreamFault> {
    let m = Message::from_vec(bytes).map_err(|_| UpstreamFault::Error)?;
    let matches = m.metadata.message_type == MessageType::Response
        && m.queries.len() == 1
        && m.queries[0].query_type == query.query_type
        && m.queries[0].name == query.name;
    if matches {
        Ok(m)
    } else {
        Err(UpstreamFault::Error)
    }
}

/// A random message id, from this thread's cryptographic generator.
fn random_id() -> u16 {
    rand::rng().random()
}

impl Upstream {
    async fn exchange(
        &self,
        query: &Query,
        checking_disabled: bool,
        timeout: Duration,
    ) -> Result<Message, UpstreamFault> {
        let deadline = tokio::time::Instant::now() + timeout;
        match &self.kind {
            Kind::Plain(addr) => exchange_plain(*addr, query, checking_disabled, deadline).await,
            Kind::Tls(tls) => {
                let bytes =
                    question_bytes(0, query, checking_disabled).ok_or(UpstreamFault::Error)?;
                let section = question_section(&bytes)
                    .map(<[u8]>::to_vec)
                    .ok_or(UpstreamFault::Error)?;
                let answer = tls.exchange(bytes, section, deadline).await?;
                read_answer(&answer, query)
            }
        }
    }
}

/// A UDP socket for one question to `upstream`, on a random source port.
fn question_socket(upstream: SocketAddr) -> Result<UdpSocket, UpstreamFault> {
    let any: std::net::IpAddr = if upstream.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    let mut rng = rand::rng();
    let mut bound = None;
    for _ in 0..PORT_TRIES {
        let port = rng.random_range(SOURCE_PORTS);
        match std::net::UdpSocket::bind((any, port)) {
            Ok(s) => {
                bound = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {}
            Err(e) => {
                tracing::warn!(upstream = %upstream, error = %e, "cannot open a UDP socket for the upstream");
                return Err(UpstreamFault::Error);
            }
        }
    }
    // Every port tried was taken (a very busy machine): the kernel's choice is random too.
    let socket = match bound {
        Some(s) => Ok(s),
        None => std::net::UdpSocket::bind((any, 0)),
    }
    .and_then(|s| {
        s.connect(upstream)?;
        s.set_nonblocking(true)?;
        UdpSocket::from_std(s)
    });
    socket.map_err(|e| {
        tracing::warn!(upstream = %upstream, error = %e, "cannot reach the upstream");
        UpstreamFault::Error
    })
}

async fn exchange_plain(
    addr: SocketAddr,
    query: &Query,
    checking_disabled: bool,
    deadline: tokio::time::Instant,
) -> Result<Message, UpstreamFault> {
    let socket = question_socket(addr)?;
    let id = random_id();
    let bytes = question_bytes(id, query, checking_disabled).ok_or(UpstreamFault::Error)?;
    let section = question_section(&bytes).ok_or(UpstreamFault::Error)?;
    socket
        .send(&bytes)
        .await
        .map_err(|_| UpstreamFault::Error)?;
    let mut buf = vec![0u8; MAX_UDP_ANSWER];
    let answer = loop {
        let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => n,
            // An ICMP unreachable from an earlier send, or the like.
            Ok(Err(_)) => return Err(UpstreamFault::Error),
            Err(_) => return Err(UpstreamFault::Timeout),
        };
        let packet = &buf[..n];
        // Another id, or the right id with another question (forged, or a confused upstream):
        // not the answer; keep waiting for the real one (RFC 5452 §9.1).
        if packet.len() >= 2
            && u16::from_be_bytes([packet[0], packet[1]]) == id
            && answers_question(packet, section)
        {
            break packet;
        }
    };
    let message = read_answer(answer, query)?;
    if !message.metadata.truncation {
        return Ok(message);
    }
    // Too big for UDP: ask again over TCP within what is left of the time.
    match tokio::time::timeout_at(deadline, exchange_tcp(addr, query, checking_disabled)).await {
        Ok(r) => r,
        Err(_) => Err(UpstreamFault::Timeout),
    }
}

async fn exchange_tcp(
    addr: SocketAddr,
    query: &Query,
    checking_disabled: bool,
) -> Result<Message, UpstreamFault> {
    let id = random_id();
    let bytes = question_bytes(id, query, checking_disabled).ok_or(UpstreamFault::Error)?;
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|_| UpstreamFault::Error)?;
    let _ = stream.set_nodelay(true);
    write_frame(&mut stream, &bytes)
        .await
        .map_err(|_| UpstreamFault::Error)?;
    let answer = read_frame(&mut stream)
        .await
        .map_err(|_| UpstreamFault::Error)?;
    if answer.len() < 2 || u16::from_be_bytes([answer[0], answer[1]]) != id {
        return Err(UpstreamFault::Error);
    }
    read_answer(&answer, query)
}

impl Waiting {
    /// A fresh id not in use here for `question`, and where its answer will arrive.
    pub(super) fn register(&self, question: Vec<u8>) -> (u16, oneshot::Receiver<Vec<u8>>) {
        let (tx, rx) = oneshot::channel();
        let mut waiting = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut id = random_id();
        // At most 65,536 ids; with thousands in flight a free one is found in a few tries.
        for _ in 0..64 {
            if !waiting.contains_key(&id) {
                break;
            }
            id = random_id();
        }
        // Still taken (an absurd load): the older waiter loses its slot and times out.
        waiting.insert(
            id,
            Waiter {
                question,
                answer: tx,
            },
        );
        (id, rx)
    }

    /// Gives up on a question (timed out, or never sent).
    pub(super) fn forget(&self, id: u16) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
    }

    /// Hands `packet` to the question it answers; stray packets (unknown ids, late answers,
    /// answers to another question) are dropped.
    pub(super) fn deliver(&self, packet: &[u8]) {
        if packet.len() < 2 {
            return;
        }
        let id = u16::from_be_bytes([packet[0], packet[1]]);
        let waiter = {
            let mut waiting = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match waiting.get(&id) {
                Some(w) if answers_question(packet, &w.question) => waiting.remove(&id),
                _ => None,
            }
        };
        if let Some(w) = waiter {
            let _ = w.answer.send(packet.to_vec());
        }
    }

    /// Fails every question still waiting (their connection is gone).
    pub(super) fn fail_all(&self) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Name;

    /// A loopback upstream answering every question (echoing it, NOERROR, no records) and
    /// remembering the source port and id of each; first it sends a forged answer with the
    /// right id but another question, which must be ignored.
    async fn echo_upstream() -> (SocketAddr, Arc<Mutex<Vec<(u16, u16)>>>) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
                let mut question = Message::from_vec(&buf[..n]).unwrap();
                let id = question.metadata.id;
                record.lock().unwrap().push((peer.port(), id));
                let mut forged = Message::new(id, MessageType::Response, OpCode::Query);
                forged.queries.push(Query::query(
                    Name::from_ascii("forged.example.").unwrap(),
                    RecordType::A,
                ));
                let _ = socket.send_to(&forged.to_vec().unwrap(), peer).await;
                question.metadata.message_type = MessageType::Response;
                let _ = socket.send_to(&question.to_vec().unwrap(), peer).await;
            }
        });
        (addr, seen)
    }

    #[tokio::test]
    async fn each_question_goes_from_its_own_random_port_with_a_random_id() {
        let (addr, seen) = echo_upstream().await;
        let upstreams =
            Upstreams::new(&[UpstreamSpec::Plain(addr)], Duration::from_secs(2), None).unwrap();
        let asked = 40;
        for i in 0..asked {
            let fetched = upstreams
                .ask(&format!("n{i}.example.org"), RecordType::A, false)
                .await
                .expect("the real answer, not the forged one");
            assert_eq!(
                fetched.message.queries[0].name,
                Name::from_ascii(format!("n{i}.example.org.")).unwrap()
            );
        }
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), asked);
        let ports: std::collections::HashSet<u16> = seen.iter().map(|(p, _)| *p).collect();
        let ids: std::collections::HashSet<u16> = seen.iter().map(|(_, id)| *id).collect();
        // A fixed handful of sockets would show at most a few ports; 40 random draws from
        // 64,512 collide rarely.
        assert!(ports.len() >= asked - 3, "{} distinct ports", ports.len());
        assert!(ports.iter().all(|p| SOURCE_PORTS.contains(p)));
        assert!(ids.len() >= asked - 3, "{} distinct ids", ids.len());
    }

    #[test]
    fn only_an_answer_to_the_same_question_counts() {
        let query = Query::query(
            Name::from_ascii("bank.example.org.").unwrap(),
            RecordType::A,
        );
        let asked = question_bytes(7, &query, false).unwrap();
        let section = question_section(&asked).unwrap().to_vec();
        assert_eq!(section.len(), "bank.example.org".len() + 2 + 4);
        let answer_to = |name: &str, t: RecordType| {
            let mut m = Message::new(7, MessageType::Response, OpCode::Query);
            m.queries
                .push(Query::query(Name::from_ascii(name).unwrap(), t));
            m.to_vec().unwrap()
        };
        assert!(answers_question(
            &answer_to("bank.example.org.", RecordType::A),
            &section
        ));
        assert!(answers_question(
            &answer_to("BANK.Example.ORG.", RecordType::A),
            &section
        ));
        assert!(!answers_question(
            &answer_to("other.bank.example.org.", RecordType::A),
            &section
        ));
        assert!(!answers_question(
            &answer_to("bank.example.org.", RecordType::AAAA),
            &section
        ));
        // A question, not an answer, and packets too short to hold one.
        assert!(!answers_question(&asked, &section));
        assert!(!answers_question(&asked[..20], &section));
    }
}

//! Forwarding allowed questions to the upstream resolvers: UDP first (with a random id on one of
//! a few sockets, each with its own random source port, and the answer's question checked
//! against the one asked), TCP when the answer comes back truncated; each upstream in order for
//! `upstream_timeout`, the next one when it times out, fails, or answers SERVFAIL or REFUSED.
//!
//! Sockets are opened on first use: nothing is sent, or even bound, before a client asks.

use super::message::fqdn;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::RecordType;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{OnceCell, oneshot};

/// UDP sockets per upstream: enough spread of source ports and ids for thousands of questions
/// in flight without id reuse.
const SOCKETS_PER_UPSTREAM: usize = 4;
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
    addr: SocketAddr,
    label: Arc<str>,
    udp: OnceCell<Vec<Arc<UdpChannel>>>,
}

/// One connected UDP socket and the questions waiting for answers on it, by id.
#[derive(Debug)]
struct UdpChannel {
    socket: UdpSocket,
    waiting: Mutex<HashMap<u16, oneshot::Sender<Vec<u8>>>>,
}

impl Upstreams {
    /// Upstreams tried in this order, each for `timeout`.
    pub fn new(addrs: &[SocketAddr], timeout: Duration) -> Self {
        Upstreams {
            list: addrs
                .iter()
                .map(|a| Upstream {
                    addr: *a,
                    label: Arc::from(a.to_string()),
                    udp: OnceCell::new(),
                })
                .collect(),
            timeout,
        }
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

fn random_u16() -> u16 {
    let mut b = [0u8; 2];
    // The OS generator failing is not something to recover from gracefully; an id of 0 still
    // works (the answer's question is checked too).
    let _ = getrandom::fill(&mut b);
    u16::from_ne_bytes(b)
}

impl Upstream {
    async fn channels(&self) -> Result<&Vec<Arc<UdpChannel>>, UpstreamFault> {
        self.udp
            .get_or_try_init(|| async {
                let mut out = Vec::with_capacity(SOCKETS_PER_UPSTREAM);
                for _ in 0..SOCKETS_PER_UPSTREAM {
                    let local: SocketAddr = if self.addr.is_ipv4() {
                        SocketAddr::from(([0, 0, 0, 0], 0))
                    } else {
                        SocketAddr::from(([0u16; 8], 0))
                    };
                    let socket = UdpSocket::bind(local).await.map_err(|e| {
                        tracing::warn!(upstream = %self.addr, error = %e, "cannot open a UDP socket for the upstream");
                        UpstreamFault::Error
                    })?;
                    socket.connect(self.addr).await.map_err(|e| {
                        tracing::warn!(upstream = %self.addr, error = %e, "cannot reach the upstream");
                        UpstreamFault::Error
                    })?;
                    let channel = Arc::new(UdpChannel {
                        socket,
                        waiting: Mutex::new(HashMap::new()),
                    });
                    tokio::spawn(read_answers(Arc::downgrade(&channel)));
                    out.push(channel);
                }
                Ok(out)
            })
            .await
    }

    async fn exchange(
        &self,
        query: &Query,
        checking_disabled: bool,
        timeout: Duration,
    ) -> Result<Message, UpstreamFault> {
        let deadline = tokio::time::Instant::now() + timeout;
        let channels = self.channels().await?;
        let channel = &channels[usize::from(random_u16()) % channels.len()];
        let (id, rx) = channel.register();
        let Some(bytes) = question_bytes(id, query, checking_disabled) else {
            channel.forget(id);
            return Err(UpstreamFault::Error);
        };
        if channel.socket.send(&bytes).await.is_err() {
            channel.forget(id);
            return Err(UpstreamFault::Error);
        }
        let answer = match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => return Err(UpstreamFault::Error),
            Err(_) => {
                channel.forget(id);
                return Err(UpstreamFault::Timeout);
            }
        };
        let message = read_answer(&answer, query)?;
        if !message.metadata.truncation {
            return Ok(message);
        }
        // Too big for UDP: ask again over TCP within what is left of the time.
        match tokio::time::timeout_at(deadline, self.exchange_tcp(query, checking_disabled)).await {
            Ok(r) => r,
            Err(_) => Err(UpstreamFault::Timeout),
        }
    }

    async fn exchange_tcp(
        &self,
        query: &Query,
        checking_disabled: bool,
    ) -> Result<Message, UpstreamFault> {
        let id = random_u16();
        let bytes = question_bytes(id, query, checking_disabled).ok_or(UpstreamFault::Error)?;
        let len = u16::try_from(bytes.len()).map_err(|_| UpstreamFault::Error)?;
        let mut stream = TcpStream::connect(self.addr)
            .await
            .map_err(|_| UpstreamFault::Error)?;
        let _ = stream.set_nodelay(true);
        let mut framed = Vec::with_capacity(bytes.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&bytes);
        stream
            .write_all(&framed)
            .await
            .map_err(|_| UpstreamFault::Error)?;
        let mut len = [0u8; 2];
        stream
            .read_exact(&mut len)
            .await
            .map_err(|_| UpstreamFault::Error)?;
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream
            .read_exact(&mut answer)
            .await
            .map_err(|_| UpstreamFault::Error)?;
        if answer.len() < 2 || u16::from_be_bytes([answer[0], answer[1]]) != id {
            return Err(UpstreamFault::Error);
        }
        read_answer(&answer, query)
    }
}

impl UdpChannel {
    /// A fresh id not in use on this socket, and where its answer will arrive.
    fn register(&self) -> (u16, oneshot::Receiver<Vec<u8>>) {
        let (tx, rx) = oneshot::channel();
        let mut waiting = self
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut id = random_u16();
        // At most 65,536 ids; with thousands in flight a free one is found in a few tries.
        for _ in 0..64 {
            if !waiting.contains_key(&id) {
                break;
            }
            id = random_u16();
        }
        // Still taken (an absurd load): the older waiter loses its slot and times out.
        waiting.insert(id, tx);
        (id, rx)
    }

    fn forget(&self, id: u16) {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
    }
}

/// Hands each answer arriving on a channel to the question waiting for its id; stray packets
/// (unknown ids, late answers) are dropped. Ends when the channel is dropped.
async fn read_answers(channel: std::sync::Weak<UdpChannel>) {
    let mut buf = vec![0u8; MAX_UDP_ANSWER];
    loop {
        let Some(ch) = channel.upgrade() else { return };
        // Hold the channel only while a packet is read, not while idle for ever.
        let received =
            tokio::time::timeout(Duration::from_secs(30), ch.socket.recv(&mut buf)).await;
        let n = match received {
            Err(_) => continue,
            Ok(Err(_)) => continue,
            Ok(Ok(n)) => n,
        };
        if n < 2 {
            continue;
        }
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        let waiter = ch
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
        if let Some(tx) = waiter {
            let _ = tx.send(buf[..n].to_vec());
        }
    }
}

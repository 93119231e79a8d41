//! The DNS side of the harness: a fake upstream resolver that Lychgate forwards to (127.0.0.1,
//! UDP and TCP on one port, programmed per name and type, counting every question it receives),
//! and a small client that asks Lychgate from a chosen 127.0.0.x over UDP or TCP, so each
//! loopback address acts as a different group. Nothing here leaves the machine.

use crate::daemon::connect_from;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::svcb::{Alpn, EchConfigList, SVCB, SvcParamKey, SvcParamValue};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, HTTPS, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the fake upstream answers for an A question nobody programmed. Seeing it in an answer
/// means a question went upstream that the test did not expect to be forwarded.
pub const UNPROGRAMMED_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The same for AAAA.
pub const UNPROGRAMMED_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0x5151, 1);
/// The address in forged answers: a client must never see it.
pub const SPOOFED_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 66);

/// How long the client waits for Lychgate: every test question is bounded by it.
pub const CLIENT_WAIT: Duration = Duration::from_secs(2);

/// A forged answer sent ahead of the real one, as an off-path attacker (or a confused server)
/// would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forgery {
    /// The right question under a wrong id.
    WrongId,
    /// The right id answering another question (`other.<name>`).
    WrongQuestion,
}

/// How a question reached the fake upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// A datagram.
    Udp,
    /// A length-prefixed message on a TCP connection.
    Tcp,
    /// The same inside TLS (DNS over TLS, RFC 7858).
    Tls,
}

/// What the fake upstream does with a question.
#[derive(Clone, Debug)]
enum Behaviour {
    /// `NOERROR` with these answer records (none: `NODATA`).
    Answer(Vec<Record>),
    /// `NXDOMAIN` with an SOA whose TTL and minimum are this negative TTL.
    NxDomain(u32),
    /// `SERVFAIL`.
    ServFail,
    /// No answer at all, so the asker times out.
    Silent,
}

/// Everything the test programmed, and what was asked.
#[derive(Default)]
struct Programme {
    /// Per (name, type); a type of `None` covers every type of that name.
    behaviours: HashMap<(String, Option<RecordType>), Behaviour>,
    /// Overrides everything: an upstream that is down or broken as a whole.
    whole_server: Option<Behaviour>,
    /// Names answered with TC=1 (question only) over UDP, and in full over TCP.
    truncated_over_udp: HashSet<String>,
    /// Names answered only after this long, so concurrent questions overlap.
    delays: HashMap<String, Duration>,
    /// Names whose real UDP answer is preceded by a forged one.
    spoofed: HashMap<String, Forgery>,
    /// Questions received, per (name, type, transport).
    asked: HashMap<(String, RecordType, Transport), usize>,
}

impl Programme {
    fn behaviour(&self, name: &str, qtype: RecordType) -> Option<Behaviour> {
        self.whole_server
            .clone()
            .or_else(|| {
                self.behaviours
                    .get(&(name.to_string(), Some(qtype)))
                    .cloned()
            })
            .or_else(|| self.behaviours.get(&(name.to_string(), None)).cloned())
    }
}

/// A programmable DNS server on 127.0.0.1 (UDP and TCP on the same port); stops when dropped.
pub struct FakeUpstream {
    /// Where it listens (both transports).
    pub addr: SocketAddr,
    programme: Arc<Mutex<Programme>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// A name as the programme keys it: lower case, no trailing dot.
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl FakeUpstream {
    /// Starts one on a port free for both UDP and TCP.
    pub fn start() -> FakeUpstream {
        Self::start_with(None)
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> FakeUpstream {
        let (udp, tcp) = (0..50)
            .find_map(|_| {
                let udp = UdpSocket::bind("127.0.0.1:0").ok()?;
                let port = udp.local_addr().ok()?.port();
                let tcp = TcpListener::bind(("127.0.0.1", port)).ok()?;
                Some((udp, tcp))
            })
            .expect("a port free for UDP and TCP");
        let addr = udp.local_addr().expect("udp address");
        // A short read timeout lets the UDP loop notice the stop flag.
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("udp timeout");
        let programme = Arc::new(Mutex::new(Programme::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let udp_thread = {
            let (programme, stop) = (Arc::clone(&programme), Arc::clone(&stop));
            let udp = Arc::new(udp);
            std::thread::spawn(move || serve_udp(&udp, &programme, &stop))
        };
        let tcp_thread = {
            let (programme, stop) = (Arc::clone(&programme), Arc::clone(&stop));
            std::thread::spawn(move || serve_tcp(&tcp, &programme, &stop, tls.as_ref()))
        };
        FakeUpstream {
            addr,
            programme,
            stop,
            threads: vec![udp_thread, tcp_thread],
        }
    }

    /// Starts one that speaks DNS over TLS on its TCP port (UDP stays plain), with a certificate
    /// for `server_name` from a CA of its own; the CA's PEM is written to `ca_file`.
    pub fn start_tls(server_name: &str, ca_file: &std::path::Path) -> FakeUpstream {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Lychgate test CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
        std::fs::write(ca_file, ca.pem()).expect("write the CA file");
        let key = rcgen::KeyPair::generate().expect("server key");
        let cert = rcgen::CertificateParams::new(vec![server_name.to_string()])
            .expect("server params")
            .signed_by(&key, &rcgen::Issuer::from_params(&ca_params, &ca_key))
            .expect("server certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("server TLS config");
        Self::start_with(Some(Arc::new(config)))
    }

    fn set(&self, name: &str, qtype: Option<RecordType>, behaviour: Behaviour) {
        self.programme
            .lock()
            .unwrap()
            .behaviours
            .insert((key(name), qtype), behaviour);
    }

    /// Answers `qtype` questions for `name` with these records (empty: NODATA).
    pub fn answer(&self, name: &str, qtype: RecordType, records: Vec<Record>) {
        self.set(name, Some(qtype), Behaviour::Answer(records));
    }

    /// Answers every question for `name` with NXDOMAIN and an SOA carrying `negative_ttl`.
    pub fn nxdomain(&self, name: &str, negative_ttl: u32) {
        self.set(name, None, Behaviour::NxDomain(negative_ttl));
    }

    /// Answers every question for `name` with SERVFAIL.
    pub fn servfail(&self, name: &str) {
        self.set(name, None, Behaviour::ServFail);
    }

    /// Never answers questions for `name`.
    pub fn silent_for(&self, name: &str) {
        self.set(name, None, Behaviour::Silent);
    }

    /// Never answers anything: an upstream that is down.
    pub fn silent(&self) {
        self.programme.lock().unwrap().whole_server = Some(Behaviour::Silent);
    }

    /// Answers everything with SERVFAIL: a broken upstream.
    pub fn servfail_everything(&self) {
        self.programme.lock().unwrap().whole_server = Some(Behaviour::ServFail);
    }

    /// Answers `name` over UDP with TC=1 and no records, so the asker must retry over TCP.
    pub fn truncate_over_udp(&self, name: &str) {
        self.programme
            .lock()
            .unwrap()
            .truncated_over_udp
            .insert(key(name));
    }

    /// Holds every answer for `name` back for `delay`.
    pub fn delay(&self, name: &str, delay: Duration) {
        self.programme
            .lock()
            .unwrap()
            .delays
            .insert(key(name), delay);
    }

    /// Sends a forged UDP answer for `name`, pointing at [`SPOOFED_V4`], before the real one.
    pub fn spoof_first(&self, name: &str, forgery: Forgery) {
        self.programme
            .lock()
            .unwrap()
            .spoofed
            .insert(key(name), forgery);
    }

    /// Questions received for (name, type), over both transports.
    pub fn asked(&self, name: &str, qtype: RecordType) -> usize {
        self.asked_over(name, qtype, Transport::Udp)
            + self.asked_over(name, qtype, Transport::Tcp)
            + self.asked_over(name, qtype, Transport::Tls)
    }

    /// Questions received for (name, type) over one transport.
    pub fn asked_over(&self, name: &str, qtype: RecordType, transport: Transport) -> usize {
        let programme = self.programme.lock().unwrap();
        programme
            .asked
            .get(&(key(name), qtype, transport))
            .copied()
            .unwrap_or(0)
    }

    /// Every (name, type) asked so far, whatever the transport, sorted.
    pub fn questions(&self) -> Vec<(String, RecordType)> {
        let programme = self.programme.lock().unwrap();
        let mut seen: Vec<(String, RecordType)> = programme
            .asked
            .keys()
            .map(|(name, qtype, _)| (name.clone(), *qtype))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        seen.sort_by(|a, b| (&a.0, u16::from(a.1)).cmp(&(&b.0, u16::from(b.1))));
        seen
    }

    /// How many questions were received in all.
    pub fn total_asked(&self) -> usize {
        self.programme.lock().unwrap().asked.values().sum()
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the TCP loop sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn serve_udp(socket: &Arc<UdpSocket>, programme: &Arc<Mutex<Programme>>, stop: &AtomicBool) {
    let mut buf = [0u8; 65535];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, peer)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let packet = buf[..n].to_vec();
        let (socket, programme) = (Arc::clone(socket), Arc::clone(programme));
        // One thread per question, so a delayed or silent name holds up no other.
        std::thread::spawn(move || {
            if let Some(forged) = forgery(&packet, &programme) {
                let _ = socket.send_to(&forged, peer);
            }
            if let Some(reply) = respond(&packet, Transport::Udp, &programme) {
                let _ = socket.send_to(&reply, peer);
            }
        });
    }
}

fn serve_tcp(
    listener: &TcpListener,
    programme: &Arc<Mutex<Programme>>,
    stop: &AtomicBool,
    tls: Option<&Arc<rustls::ServerConfig>>,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let programme = Arc::clone(programme);
        let tls = tls.cloned();
        std::thread::spawn(move || {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            match tls {
                None => answer_frames(stream, Transport::Tcp, &programme),
                Some(config) => {
                    let Ok(conn) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    answer_frames(
                        rustls::StreamOwned::new(conn, stream),
                        Transport::Tls,
                        &programme,
                    );
                }
            }
        });
    }
}

/// Answers length-prefixed questions on one connection until it ends. Several questions may
/// share a connection (RFC 7766); silent ones get no frame.
fn answer_frames(
    mut stream: impl Read + Write,
    transport: Transport,
    programme: &Mutex<Programme>,
) {
    while let Some(packet) = read_frame(&mut stream) {
        let Some(reply) = respond(&packet, transport, programme) else {
            continue;
        };
        if write_frame(&mut stream, &reply).is_err() {
            return;
        }
    }
}

/// The forged answer to send ahead of the real one, for names programmed with `spoof_first`.
fn forgery(packet: &[u8], programme: &Mutex<Programme>) -> Option<Vec<u8>> {
    let request = Message::from_vec(packet).ok()?;
    let query = request.queries.first()?.clone();
    let owner = key(&query.name().to_ascii());
    let kind = *programme.lock().unwrap().spoofed.get(&owner)?;
    let (id, question) = match kind {
        Forgery::WrongId => (request.metadata.id.wrapping_add(1), query),
        Forgery::WrongQuestion => (
            request.metadata.id,
            Query::query(name(&format!("other.{owner}")), query.query_type()),
        ),
    };
    let mut forged = Message::response(id, OpCode::Query);
    forged.metadata.recursion_available = true;
    forged.add_query(question.clone());
    forged.add_answer(Record::from_rdata(
        question.name().clone(),
        86400,
        RData::A(A(SPOOFED_V4)),
    ));
    forged.to_vec().ok()
}

/// Builds the fake upstream's answer to one packet; `None` means stay silent.
fn respond(packet: &[u8], transport: Transport, programme: &Mutex<Programme>) -> Option<Vec<u8>> {
    let request = Message::from_vec(packet).ok()?;
    let query = request.queries.first()?.clone();
    let name = key(&query.name().to_ascii());
    let qtype = query.query_type();
    let (behaviour, truncate, delay) = {
        let mut p = programme.lock().unwrap();
        *p.asked.entry((name.clone(), qtype, transport)).or_default() += 1;
        (
            p.behaviour(&name, qtype),
            transport == Transport::Udp && p.truncated_over_udp.contains(&name),
            p.delays.get(&name).copied(),
        )
    };
    if let Some(delay) = delay {
        std::thread::sleep(delay);
    }
    let mut reply = Message::response(request.metadata.id, OpCode::Query);
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_query(query.clone());
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        reply.set_edns(edns);
    }
    match behaviour {
        Some(Behaviour::Silent) => return None,
        Some(Behaviour::Answer(records)) => {
            reply.add_answers(records);
        }
        Some(Behaviour::NxDomain(negative_ttl)) => {
            reply.metadata.response_code = hickory_proto::op::ResponseCode::NXDomain;
            reply.add_authority(soa(&name, negative_ttl));
        }
        Some(Behaviour::ServFail) => {
            reply.metadata.response_code = hickory_proto::op::ResponseCode::ServFail;
        }
        None => match qtype {
            RecordType::A => {
                reply.add_answer(record(&name, 300, RData::A(A(UNPROGRAMMED_V4))));
            }
            RecordType::AAAA => {
                reply.add_answer(record(&name, 300, RData::AAAA(AAAA(UNPROGRAMMED_V6))));
            }
            _ => {}
        },
    }
    let full = reply.to_vec().ok()?;
    // Like a real server: what does not fit the asker's UDP payload goes out truncated.
    let udp_limit = request
        .edns
        .as_ref()
        .map_or(512, |e| usize::from(e.max_payload().max(512)));
    if transport == Transport::Udp && (truncate || full.len() > udp_limit) {
        return reply.truncate().to_vec().ok();
    }
    Some(full)
}

/// Reads one length-prefixed DNS message; `None` at end of stream, timeout or error.
pub fn read_frame(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut packet = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut packet).ok()?;
    Some(packet)
}

/// Writes one length-prefixed DNS message.
pub fn write_frame(stream: &mut impl Write, packet: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(packet.len()).expect("a DNS message fits 64 KiB");
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed)?;
    // TLS streams send on flush.
    stream.flush()
}

// ---- records, for programming answers and reading them back ----

/// A name from text (panics on a bad one: test data).
pub fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap_or_else(|e| panic!("bad name {text}: {e}"))
}

fn record(owner: &str, ttl: u32, data: RData) -> Record {
    Record::from_rdata(name(owner), ttl, data)
}

/// `owner A address`.
pub fn a(owner: &str, address: &str, ttl: u32) -> Record {
    record(owner, ttl, RData::A(A(address.parse().expect("IPv4"))))
}

/// `owner AAAA address`.
pub fn aaaa(owner: &str, address: &str, ttl: u32) -> Record {
    record(
        owner,
        ttl,
        RData::AAAA(AAAA(address.parse().expect("IPv6"))),
    )
}

/// `owner CNAME target`.
pub fn cname(owner: &str, target: &str, ttl: u32) -> Record {
    record(owner, ttl, RData::CNAME(CNAME(name(target))))
}

/// `owner TXT "text"` (split into 255-byte strings as the wire format needs).
pub fn txt(owner: &str, text: &str, ttl: u32) -> Record {
    let strings = text
        .as_bytes()
        .chunks(255)
        .map(|c| String::from_utf8(c.to_vec()).expect("ASCII text"))
        .collect();
    record(owner, ttl, RData::TXT(TXT::new(strings)))
}

/// Service-mode SVCB data (`1 .`) with these ALPN ids, and an ECH config list when given.
fn service_binding(alpn: &[&str], ech: Option<&[u8]>) -> SVCB {
    let mut params = vec![(
        SvcParamKey::Alpn,
        SvcParamValue::Alpn(Alpn(alpn.iter().map(|s| s.to_string()).collect())),
    )];
    if let Some(ech) = ech {
        params.push((
            SvcParamKey::EchConfigList,
            SvcParamValue::EchConfigList(EchConfigList(ech.to_vec())),
        ));
    }
    SVCB::new(1, Name::root(), params)
}

/// `owner HTTPS 1 . alpn=… [ech=…]`.
pub fn https(owner: &str, alpn: &[&str], ech: Option<&[u8]>, ttl: u32) -> Record {
    record(owner, ttl, RData::HTTPS(HTTPS(service_binding(alpn, ech))))
}

/// `owner HTTPS 0 target`: alias mode, "ask for target instead".
pub fn https_alias(owner: &str, target: &str, ttl: u32) -> Record {
    record(
        owner,
        ttl,
        RData::HTTPS(HTTPS(SVCB::new(0, name(target), Vec::new()))),
    )
}

/// `owner SVCB 1 . alpn=… [ech=…]`.
pub fn svcb(owner: &str, alpn: &[&str], ech: Option<&[u8]>, ttl: u32) -> Record {
    record(owner, ttl, RData::SVCB(service_binding(alpn, ech)))
}

/// The SOA a negative answer carries: TTL and minimum both the negative TTL.
pub fn soa(zone: &str, negative_ttl: u32) -> Record {
    let data = SOA::new(
        name(&format!("ns.{zone}")),
        name(&format!("hostmaster.{zone}")),
        1,
        3600,
        600,
        86400,
        negative_ttl,
    );
    record(zone, negative_ttl, RData::SOA(data))
}

// ---- the client ----

/// A question as the client sends it.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    /// The name asked.
    pub name: &'a str,
    /// The type asked.
    pub qtype: RecordType,
    /// Whether an OPT record (EDNS) goes with it; without one an answer over UDP is limited
    /// to 512 bytes.
    pub edns: bool,
    /// The UDP payload size the OPT record offers.
    pub payload: u16,
}

impl<'a> Ask<'a> {
    /// A question with EDNS, as today's stub resolvers send.
    pub fn new(name: &'a str, qtype: RecordType) -> Self {
        Ask {
            name,
            qtype,
            edns: true,
            payload: 1232,
        }
    }

    /// The same question offering a different EDNS payload size.
    pub fn with_payload(self, payload: u16) -> Self {
        Ask { payload, ..self }
    }

    /// The same question without EDNS, as an old client sends.
    pub fn without_edns(self) -> Self {
        Ask {
            edns: false,
            ..self
        }
    }

    /// The wire form, with RD set and this id.
    pub fn packet(&self, id: u16) -> Vec<u8> {
        let mut message = Message::new(id, MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        let mut query = Query::query(name(self.name), self.qtype);
        query.set_query_class(DNSClass::IN);
        message.add_query(query);
        if self.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(self.payload);
            message.set_edns(edns);
        }
        message.to_vec().expect("encode question")
    }
}

/// Sends `packet` over UDP from `from` and returns the first datagram back, or `None` after
/// `wait`.
pub fn exchange_udp(
    server: SocketAddr,
    from: IpAddr,
    packet: &[u8],
    wait: Duration,
) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind(SocketAddr::new(from, 0)).expect("bind client");
    socket.connect(server).expect("connect");
    socket.set_read_timeout(Some(wait)).expect("timeout");
    socket.send(packet).expect("send");
    let mut buf = vec![0u8; 65535];
    let n = socket.recv(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Sends `packet` in one frame over a new TCP connection from `from` and returns the answer's
/// frame, or `None` if the connection closed or stayed silent for `wait`.
pub fn exchange_tcp(
    server: SocketAddr,
    from: IpAddr,
    packet: &[u8],
    wait: Duration,
) -> Option<Vec<u8>> {
    let mut stream = connect_from(from, server);
    stream.set_read_timeout(Some(wait)).expect("timeout");
    write_frame(&mut stream, packet).ok()?;
    read_frame(&mut stream)
}

/// Parses an answer to the question with `id` (panics if it is not one).
pub fn parse_answer(packet: &[u8], id: u16, ask: &Ask<'_>) -> Message {
    let message = Message::from_vec(packet)
        .unwrap_or_else(|e| panic!("answer to {ask:?} does not parse ({e}): {packet:02x?}"));
    assert_eq!(message.metadata.id, id, "answer id for {ask:?}");
    assert_eq!(
        message.metadata.message_type,
        MessageType::Response,
        "QR set for {ask:?}"
    );
    message
}

/// A fresh id per question, so a stray answer is never taken for another's.
pub fn next_id() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0x4c47);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Asks over UDP from `from` (127.0.0.x picks the group); panics without an answer in 2 s.
pub fn ask_udp(server: SocketAddr, from: IpAddr, ask: Ask<'_>) -> Message {
    let id = next_id();
    let started = Instant::now();
    let packet = exchange_udp(server, from, &ask.packet(id), CLIENT_WAIT).unwrap_or_else(|| {
        panic!(
            "no UDP answer to {ask:?} from {from} within {:?}",
            started.elapsed()
        )
    });
    parse_answer(&packet, id, &ask)
}

/// Asks over TCP from `from`; panics without an answer in 2 s.
pub fn ask_tcp(server: SocketAddr, from: IpAddr, ask: Ask<'_>) -> Message {
    let id = next_id();
    let packet = exchange_tcp(server, from, &ask.packet(id), CLIENT_WAIT)
        .unwrap_or_else(|| panic!("no TCP answer to {ask:?} from {from}"));
    parse_answer(&packet, id, &ask)
}

/// `name`/`qtype` over UDP with EDNS: the common case.
pub fn query(server: SocketAddr, from: IpAddr, name: &str, qtype: RecordType) -> Message {
    ask_udp(server, from, Ask::new(name, qtype))
}

/// The harness checked on its own, so a failing DNS test points at Lychgate, not at the fake.
#[test]
fn the_fake_upstream_answers_as_programmed_and_counts_per_transport() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "big.example.org",
        RecordType::A,
        (1..=40)
            .map(|n| a("big.example.org", &format!("203.0.113.{n}"), 300))
            .collect(),
    );
    upstream.truncate_over_udp("cut.example.org");
    upstream.nxdomain("gone.example.org", 30);
    upstream.silent_for("quiet.example.org");
    let me = IpAddr::from([127, 0, 0, 1]);
    let server = upstream.addr;

    let unknown = query(server, me, "anything.example.org", RecordType::A);
    assert_eq!(unknown.answers[0].data, RData::A(A(UNPROGRAMMED_V4)));
    let small = ask_udp(
        server,
        me,
        Ask::new("big.example.org", RecordType::A).without_edns(),
    );
    assert!(small.metadata.truncation && small.answers.is_empty());
    assert_eq!(
        query(server, me, "big.example.org", RecordType::A)
            .answers
            .len(),
        40
    );
    let cut = query(server, me, "cut.example.org", RecordType::A);
    assert!(cut.metadata.truncation);
    let whole = ask_tcp(server, me, Ask::new("cut.example.org", RecordType::A));
    assert!(!whole.metadata.truncation && whole.answers.len() == 1);
    let gone = query(server, me, "gone.example.org", RecordType::AAAA);
    assert_eq!(
        gone.metadata.response_code,
        hickory_proto::op::ResponseCode::NXDomain
    );
    assert!(matches!(gone.authorities[0].data, RData::SOA(_)));
    let quiet = Ask::new("quiet.example.org", RecordType::A).packet(7);
    assert_eq!(
        exchange_udp(server, me, &quiet, Duration::from_millis(200)),
        None
    );

    assert_eq!(
        upstream.asked_over("big.example.org", RecordType::A, Transport::Udp),
        2
    );
    assert_eq!(
        upstream.asked_over("cut.example.org", RecordType::A, Transport::Tcp),
        1
    );
    assert_eq!(upstream.asked("cut.example.org", RecordType::A), 2);
    assert_eq!(upstream.total_asked(), 7);
}

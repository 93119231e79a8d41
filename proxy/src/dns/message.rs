//! DNS messages on the wire, through `hickory-proto`: reading a client's question (and saying
//! precisely what is wrong with one that cannot be read), and writing answers that fit the
//! client's UDP size — or are sent truncated so the client retries over TCP.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use std::borrow::Cow;

/// Size of the fixed DNS header.
pub const HEADER_LEN: usize = 12;
/// UDP answers to clients without EDNS (RFC 1035).
pub const CLASSIC_UDP_LIMIT: usize = 512;

/// One client question, read and checked.
#[derive(Debug, Clone)]
pub struct Question {
    /// Message id, echoed in the answer.
    pub id: u16,
    /// The name normalised for deciding and caching: lower case, no trailing dot.
    pub host: String,
    /// The question's type.
    pub qtype: RecordType,
    /// Recursion desired, echoed.
    pub recursion_desired: bool,
    /// Checking disabled, echoed and passed on.
    pub checking_disabled: bool,
    /// The client's EDNS, if it sent an OPT record.
    pub edns: Option<ClientEdns>,
    /// The question section as the client wrote it (name, type, class): echoed byte for byte,
    /// case included (some clients check it, DNS 0x20).
    pub wire: Vec<u8>,
}

/// What the client's OPT record said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientEdns {
    /// Largest UDP answer it accepts.
    pub max_payload: u16,
    /// DNSSEC OK.
    pub dnssec_ok: bool,
}

impl Question {
    /// The question's type.
    pub fn qtype(&self) -> RecordType {
        self.qtype
    }

    /// The question as hickory's type, for answers built with hickory.
    pub fn query(&self) -> Query {
        Query::read(&mut BinDecoder::new(&self.wire))
            .unwrap_or_else(|_| Query::query(Name::root(), self.qtype))
    }

    /// The question's name as the client wrote it.
    pub fn name(&self) -> Name {
        self.query().name
    }
}

/// Why a packet gets no ordinary answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// Not worth an answer: shorter than a header, or itself a response (answering responses
    /// is how reflection loops start).
    Drop(&'static str),
    /// Answer with this code, echoing the id (and the question when it could be read).
    Answer {
        /// Message id.
        id: u16,
        /// FORMERR, NOTIMP, REFUSED or BADVERS.
        rcode: ResponseCode,
        /// What was wrong, for the log.
        reason: &'static str,
        /// The question, when it could be read.
        query: Option<Query>,
        /// Whether the client sent EDNS (BADVERS answers carry an OPT record).
        edns: bool,
    },
}

/// Reads a client's packet into a [`Question`].
pub fn read_question(packet: &[u8]) -> Result<Question, Unreadable> {
    if packet.len() < HEADER_LEN {
        return Err(Unreadable::Drop("shorter than a DNS header"));
    }
    if packet[2] & 0x80 != 0 {
        return Err(Unreadable::Drop("a response, not a question"));
    }
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let answer = |rcode, reason, query: Option<Query>, edns| Unreadable::Answer {
        id,
        rcode,
        reason,
        query,
        edns,
    };
    let message = match Message::from_vec(packet) {
        Ok(m) => m,
        Err(_) => return Err(answer(ResponseCode::FormErr, "unreadable", None, false)),
    };
    let has_edns = message.edns.is_some();
    if message.op_code != OpCode::Query {
        return Err(answer(
            ResponseCode::NotImp,
            "opcode is not QUERY",
            None,
            has_edns,
        ));
    }
    let mut queries = message.queries;
    if queries.len() != 1 {
        return Err(answer(
            ResponseCode::FormErr,
            "not exactly one question",
            None,
            has_edns,
        ));
    }
    let query = queries.remove(0);
    if let Some(edns) = &message.edns {
        if edns.version() > 0 {
            return Err(answer(
                ResponseCode::BADVERS,
                "EDNS version above 0",
                Some(query),
                true,
            ));
        }
    }
    if query.query_class != DNSClass::IN {
        return Err(answer(
            ResponseCode::Refused,
            "class is not IN",
            Some(query),
            has_edns,
        ));
    }
    if matches!(
        query.query_type,
        RecordType::OPT | RecordType::AXFR | RecordType::IXFR
    ) {
        return Err(answer(
            ResponseCode::Refused,
            "zone transfers and OPT are not answered",
            Some(query),
            has_edns,
        ));
    }
    let host = normalised_host(&query.name);
    let Ok(wire) = query.to_bytes() else {
        return Err(answer(ResponseCode::FormErr, "unreadable", None, has_edns));
    };
    Ok(Question {
        id,
        host,
        qtype: query.query_type,
        recursion_desired: message.metadata.recursion_desired,
        checking_disabled: message.metadata.checking_disabled,
        edns: message.edns.as_ref().map(|e| ClientEdns {
            max_payload: e.max_payload(),
            dnssec_ok: e.flags().dnssec_ok,
        }),
        wire,
    })
}

/// A name as the policy and the cache see it: lower case, no trailing dot (`Www.Example.COM.` →
/// `www.example.com`). IDNs are already `xn--` on the wire; other bytes stay escaped as hickory
/// writes them (`\\000`), so they can only ever match nothing.
pub fn normalised_host(name: &Name) -> String {
    let mut text = name.to_ascii();
    text.make_ascii_lowercase();
    if text.len() > 1 && text.ends_with('.') {
        text.pop();
    }
    text
}

/// A name for answers from a normalised host (`www.example.com` → `www.example.com.`).
pub fn fqdn(host: &str) -> Option<Name> {
    let mut name = Name::from_ascii(host).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// The start of an answer to `q`: id, question, RD/CD echoed, RA set, OPT when the client sent
/// one (advertising `our_payload`).
pub fn reply(q: &Question, rcode: ResponseCode, our_payload: u16) -> Message {
    let mut m = Message::response(q.id, OpCode::Query);
    m.metadata.response_code = rcode;
    m.metadata.recursion_desired = q.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.checking_disabled = q.checking_disabled;
    m.queries.push(q.query());
    if q.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(our_payload);
        m.set_edns(edns);
    }
    m
}

/// The answer to a packet that could not be read as an ordinary question.
pub fn reply_unreadable(
    id: u16,
    rcode: ResponseCode,
    query: Option<Query>,
    edns: bool,
    our_payload: u16,
) -> Message {
    let mut m = Message::response(id, OpCode::Query);
    m.metadata.response_code = rcode;
    m.metadata.recursion_available = true;
    m.metadata.message_type = MessageType::Response;
    if let Some(q) = query {
        m.queries.push(q);
    }
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(our_payload);
        m.set_edns(e);
    }
    m
}

/// The UDP size an answer to this client may have: 512 without EDNS, else the client's
/// advertised size within `[512, our_limit]`.
pub fn udp_limit(edns: Option<ClientEdns>, our_limit: u16) -> usize {
    match edns {
        None => CLASSIC_UDP_LIMIT,
        Some(e) => usize::from(e.max_payload.clamp(512, our_limit.max(512))),
    }
}

/// An encoded answer.
#[derive(Debug)]
pub struct Encoded {
    /// The bytes to send.
    pub bytes: Vec<u8>,
    /// Whether the full answer did not fit and a truncated one (TC, question only) was made.
    pub truncated: bool,
}

/// Encodes `m`; when it is longer than `limit`, encodes the truncated form instead: the header
/// with TC, the question and the OPT record, so the client retries over TCP.
pub fn encode(m: &Message, limit: Option<usize>) -> Encoded {
    let bytes = to_bytes(m);
    match limit {
        Some(limit) if bytes.len() > limit => {
            let mut short = m.clone();
            short.answers.clear();
            short.authorities.clear();
            short.additionals.clear();
            short.metadata.truncation = true;
            Encoded {
                bytes: to_bytes(&short),
                truncated: true,
            }
        }
        _ => Encoded {
            bytes,
            truncated: false,
        },
    }
}

fn to_bytes(m: &Message) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    let mut encoder = BinEncoder::new(&mut buf);
    if m.emit(&mut encoder).is_ok() {
        return buf;
    }
    // Records Lychgate cannot write back (an upstream's odd RDATA): say so rather than send
    // half a message.
    let mut failed = Message::response(m.metadata.id, OpCode::Query);
    failed.metadata.response_code = ResponseCode::ServFail;
    failed.metadata.recursion_available = true;
    failed.queries.clone_from(&m.queries);
    failed.to_vec().unwrap_or_default()
}

/// The name of a question type as logs and metrics write it (`A`, `HTTPS`, `TYPE65534`).
pub fn qtype_name(t: RecordType) -> Cow<'static, str> {
    match t {
        RecordType::Unknown(n) => Cow::Owned(format!("TYPE{n}")),
        known => match known_qtype(known) {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(known.to_string()),
        },
    }
}

fn known_qtype(t: RecordType) -> Option<&'static str> {
    Some(match t {
        RecordType::A => "A",
        RecordType::AAAA => "AAAA",
        RecordType::HTTPS => "HTTPS",
        RecordType::SVCB => "SVCB",
        RecordType::CNAME => "CNAME",
        RecordType::MX => "MX",
        RecordType::TXT => "TXT",
        RecordType::PTR => "PTR",
        RecordType::SRV => "SRV",
        RecordType::NS => "NS",
        RecordType::SOA => "SOA",
        RecordType::ANY => "ANY",
        RecordType::CAA => "CAA",
        RecordType::DS => "DS",
        RecordType::DNSKEY => "DNSKEY",
        _ => return None,
    })
}

/// The code as logs write it.
pub fn rcode_name(r: ResponseCode) -> &'static str {
    match r {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::BADVERS => "BADVERS",
        _ => "OTHER",
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use hickory_proto::rr::{RData, Record};

    /// A client's question as hickory writes it (id 0x1234, RD), for this module's and
    /// `wire.rs`'s tests.
    pub(in crate::dns) fn query_bytes(name: &str, t: RecordType, edns: Option<u16>) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 0x1234;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        if let Some(p) = edns {
            let mut e = Edns::new();
            e.set_max_payload(p);
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn a_question_is_read_and_its_name_normalised() {
        let q = read_question(&query_bytes(
            "WwW.Example.COM.",
            RecordType::AAAA,
            Some(4096),
        ))
        .unwrap();
        assert_eq!(q.id, 0x1234);
        assert_eq!(q.host, "www.example.com");
        assert_eq!(q.qtype(), RecordType::AAAA);
        assert_eq!(q.edns.unwrap().max_payload, 4096);
        // The answer echoes the question as the client wrote it.
        let r = reply(&q, ResponseCode::NoError, 1232);
        assert_eq!(r.queries[0].name.to_ascii(), "WwW.Example.COM.");
        assert_eq!(q.name().to_ascii(), "WwW.Example.COM.");
        assert_eq!(udp_limit(q.edns, 1232), 1232);
        assert_eq!(udp_limit(None, 1232), 512);
    }

    #[test]
    fn broken_packets_get_the_right_refusal_and_never_a_panic() {
        assert!(matches!(
            read_question(&[1, 2, 3]),
            Err(Unreadable::Drop(_))
        ));
        let mut response = query_bytes("a.example", RecordType::A, None);
        response[2] |= 0x80;
        assert!(matches!(read_question(&response), Err(Unreadable::Drop(_))));
        let mut cut = query_bytes("a.example", RecordType::A, None);
        cut.truncate(15);
        assert!(matches!(
            read_question(&cut),
            Err(Unreadable::Answer {
                id: 0x1234,
                rcode: ResponseCode::FormErr,
                ..
            })
        ));
        let mut notify = query_bytes("a.example", RecordType::A, None);
        notify[2] = (notify[2] & !0x78) | (4 << 3);
        assert!(matches!(
            read_question(&notify),
            Err(Unreadable::Answer {
                rcode: ResponseCode::NotImp,
                ..
            })
        ));
        // Every prefix and every single-byte corruption of a good question reads or is refused.
        let good = query_bytes("www.example.com", RecordType::HTTPS, Some(1232));
        for n in 0..good.len() {
            let _ = read_question(&good[..n]);
            for b in [0u8, 0x3f, 0xc0, 0xff] {
                let mut bad = good.clone();
                bad[n] = b;
                let _ = read_question(&bad);
            }
        }
    }

    #[test]
    fn an_answer_too_big_for_udp_is_truncated_to_the_question() {
        let q = read_question(&query_bytes("big.example", RecordType::A, None)).unwrap();
        let mut m = reply(&q, ResponseCode::NoError, 1232);
        for i in 0..60u8 {
            m.add_answer(Record::from_rdata(
                fqdn("big.example").unwrap(),
                60,
                RData::A(hickory_proto::rr::rdata::A::new(10, 0, 0, i)),
            ));
        }
        let full = encode(&m, None);
        assert!(!full.truncated && full.bytes.len() > 512);
        let short = encode(&m, Some(udp_limit(q.edns, 1232)));
        assert!(short.truncated && short.bytes.len() <= 512);
        let parsed = Message::from_vec(&short.bytes).unwrap();
        assert!(parsed.metadata.truncation);
        assert_eq!(parsed.queries.len(), 1);
        assert!(parsed.answers.is_empty());
    }
}

//! The hot path's own reading and writing of DNS packets, byte by byte. Most questions have one
//! shape — one question of letters, digits and hyphens, class IN, maybe an OPT record — and
//! most answers Lychgate makes itself are as simple (a block, a refusal): building hickory
//! messages for them cost more than deciding. Anything else goes through `hickory-proto`
//! (`message.rs`), which stays the reference: tests hold these bytes to what hickory reads.

use super::message::{ClientEdns, Encoded, Question};
use hickory_proto::rr::RecordType;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
/// `lychgate.internal.` and `hostmaster.lychgate.internal.` in wire form: the synthetic SOA's
/// server and mailbox.
const SOA_NAMES: &[u8] = b"\x08lychgate\x08internal\x00\x0ahostmaster\x08lychgate\x08internal\x00";

/// Reads a question of the common shape; `None` sends the packet to the full reader (anything
/// unusual: other opcodes, more records, escapes, compression, trailing bytes, EDNS versions).
pub fn read_question(packet: &[u8]) -> Option<Question> {
    let header = packet.get(..12)?;
    let flags = u16::from_be_bytes([header[2], header[3]]);
    // QR = 0 and opcode QUERY; counts: one question, no answers or authority, at most an OPT.
    if flags & 0xf800 != 0
        || header[4..10] != [0, 1, 0, 0, 0, 0]
        || header[10] != 0
        || header[11] > 1
    {
        return None;
    }
    let mut host = String::with_capacity(packet.len().saturating_sub(16));
    let mut i = 12;
    loop {
        let len = usize::from(*packet.get(i)?);
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = packet.get(i + 1..i + 1 + len)?;
        if !label
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            return None;
        }
        if !host.is_empty() {
            host.push('.');
        }
        for &b in label {
            host.push(char::from(b.to_ascii_lowercase()));
        }
        i += 1 + len;
    }
    if i - 12 + 1 > 255 {
        return None;
    }
    let qtype = u16::from_be_bytes([*packet.get(i + 1)?, *packet.get(i + 2)?]);
    let qclass = u16::from_be_bytes([*packet.get(i + 3)?, *packet.get(i + 4)?]);
    let question_end = i + 5;
    if qclass != CLASS_IN || matches!(qtype, TYPE_OPT | 251 | 252) {
        return None;
    }
    let edns = if header[11] == 1 {
        // The OPT record: root owner, type 41, class = payload, TTL = ext-rcode, version, flags.
        let opt = packet.get(question_end..question_end + 11)?;
        if opt[0] != 0 || u16::from_be_bytes([opt[1], opt[2]]) != TYPE_OPT || opt[6] != 0 {
            return None;
        }
        let rdlen = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
        if question_end + 11 + rdlen != packet.len() {
            return None;
        }
        Some(ClientEdns {
            max_payload: u16::from_be_bytes([opt[3], opt[4]]),
            dnssec_ok: opt[7] & 0x80 != 0,
        })
    } else {
        if question_end != packet.len() {
            return None;
        }
        None
    };
    if host.is_empty() {
        // The root: rare enough for the full reader.
        return None;
    }
    Some(Question {
        id: u16::from_be_bytes([header[0], header[1]]),
        recursion_desired: flags & 0x0100 != 0,
        checking_disabled: flags & 0x0010 != 0,
        edns,
        host,
        qtype: RecordType::from(qtype),
        wire: packet[12..question_end].to_vec(),
    })
}

/// The header of an answer to `q` with `rcode`: its id, QR, RD and CD echoed, RA set; the
/// section counts zero, for the writer to fill.
pub fn reply_header(q: &Question, rcode: u8) -> [u8; 12] {
    let mut flags: u16 = 0x8000 | 0x0080 | u16::from(rcode & 0x0f);
    if q.recursion_desired {
        flags |= 0x0100;
    }
    if q.checking_disabled {
        flags |= 0x0010;
    }
    let mut header = [0u8; 12];
    header[..2].copy_from_slice(&q.id.to_be_bytes());
    header[2..4].copy_from_slice(&flags.to_be_bytes());
    header
}

/// Appends Lychgate's OPT record (EDNS version 0, no flags or options) advertising `payload`.
pub fn push_opt(out: &mut Vec<u8>, payload: u16) {
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&payload.max(512).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
}

/// Where the name starting at `at` ends (after its root label or its compression pointer).
pub fn name_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *bytes.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l if l & 0xc0 == 0 => at += 1 + usize::from(l),
            _ => return None,
        }
    }
}

/// Writes one length-prefixed DNS message (TCP and TLS framing, RFC 1035 §4.2.2), flushed
/// (a TLS stream sends on flush).
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, message: &[u8]) -> io::Result<()> {
    let len = u16::try_from(message.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "DNS message over 64 KiB"))?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    w.write_all(&framed).await?;
    w.flush().await
}

/// Reads one length-prefixed DNS message.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    r.read_exact(&mut len).await?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    r.read_exact(&mut message).await?;
    Ok(message)
}

/// An answer being written: header, the client's question, then records whose owner is the
/// question's name (a pointer to offset 12).
#[derive(Debug)]
pub struct Answer {
    bytes: Vec<u8>,
    question_len: u16,
    counts: [u16; 3],
    edns: bool,
    our_payload: u16,
}

impl Answer {
    /// Starts the answer to `q` with `rcode` (RD and CD echoed, RA set).
    pub fn new(q: &Question, rcode: u8, our_payload: u16) -> Self {
        let mut bytes = Vec::with_capacity(12 + q.wire.len() + 96);
        bytes.extend_from_slice(&reply_header(q, rcode));
        bytes[4..6].copy_from_slice(&1u16.to_be_bytes());
        bytes.extend_from_slice(&q.wire);
        Answer {
            question_len: u16::try_from(q.wire.len()).unwrap_or(0),
            bytes,
            counts: [0; 3],
            edns: q.edns.is_some(),
            our_payload,
        }
    }

    fn record_head(&mut self, rtype: u16, ttl: u32, rdlen: usize) {
        // Owner: the question's name, by pointer.
        self.bytes.extend_from_slice(&[0xc0, 0x0c]);
        self.bytes.extend_from_slice(&rtype.to_be_bytes());
        self.bytes.extend_from_slice(&CLASS_IN.to_be_bytes());
        self.bytes.extend_from_slice(&ttl.to_be_bytes());
        self.bytes
            .extend_from_slice(&u16::try_from(rdlen).unwrap_or(0).to_be_bytes());
    }

    /// An `A` answer for the question's name.
    pub fn a(mut self, ip: Ipv4Addr, ttl: u32) -> Self {
        self.record_head(1, ttl, 4);
        self.bytes.extend_from_slice(&ip.octets());
        self.counts[0] += 1;
        self
    }

    /// An `AAAA` answer for the question's name.
    pub fn aaaa(mut self, ip: Ipv6Addr, ttl: u32) -> Self {
        self.record_head(28, ttl, 16);
        self.bytes.extend_from_slice(&ip.octets());
        self.counts[0] += 1;
        self
    }

    /// Lychgate's SOA in the authority section, so the negative answer is cached for `ttl`
    /// seconds at most (RFC 2308).
    pub fn soa(mut self, ttl: u32) -> Self {
        self.record_head(6, ttl, SOA_NAMES.len() + 20);
        self.bytes.extend_from_slice(SOA_NAMES);
        for v in [1u32, 3600, 600, 86_400, ttl] {
            self.bytes.extend_from_slice(&v.to_be_bytes());
        }
        self.counts[1] += 1;
        self
    }

    /// The finished packet, or — when it is longer than `limit` (a UDP client's size) — the
    /// truncated form: header with TC, the question and the OPT record, so the client retries
    /// over TCP.
    pub fn finish_within(self, limit: Option<usize>) -> Encoded {
        let (edns, payload) = (self.edns, self.our_payload);
        let question_end = 12 + usize::from(self.question_len);
        let bytes = self.finish();
        match limit {
            Some(limit) if bytes.len() > limit => {
                let mut short = bytes[..question_end].to_vec();
                short[2] |= 0x02;
                short[6..12].fill(0);
                if edns {
                    push_opt(&mut short, payload);
                    short[10..12].copy_from_slice(&1u16.to_be_bytes());
                }
                Encoded {
                    bytes: short,
                    truncated: true,
                }
            }
            _ => Encoded {
                bytes,
                truncated: false,
            },
        }
    }

    /// The finished packet (with an OPT record if the client sent one).
    pub fn finish(mut self) -> Vec<u8> {
        let mut arcount = 0u16;
        if self.edns {
            push_opt(&mut self.bytes, self.our_payload);
            arcount = 1;
        }
        self.bytes[6..8].copy_from_slice(&self.counts[0].to_be_bytes());
        self.bytes[8..10].copy_from_slice(&self.counts[1].to_be_bytes());
        self.bytes[10..12].copy_from_slice(&arcount.to_be_bytes());
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::RData;

    use super::super::message::tests::query_bytes as packet;

    #[test]
    fn the_fast_reader_agrees_with_hickory_or_declines() {
        for (name, t, edns) in [
            ("www.Example.COM.", RecordType::A, None),
            (
                "_ldap._tcp.dc._msdcs.school.internal.",
                RecordType::SRV,
                Some(1232),
            ),
            ("a.b", RecordType::HTTPS, Some(4096)),
        ] {
            let p = packet(name, t, edns);
            let fast = read_question(&p).expect("common shape");
            let full = super::super::message::read_question(&p).unwrap();
            assert_eq!(fast.host, full.host);
            assert_eq!(fast.qtype, full.qtype);
            assert_eq!(fast.edns, full.edns);
            assert_eq!(fast.wire, full.wire);
            assert_eq!(fast.id, full.id);
            assert_eq!(fast.recursion_desired, full.recursion_desired);
        }
        // Unusual shapes go to the full reader.
        let mut odd = packet("x.example.", RecordType::A, None);
        odd[13] = b' ';
        assert!(read_question(&odd).is_none());
        assert!(super::super::message::read_question(&odd).is_ok());
        odd = packet("x.example.", RecordType::A, None);
        odd.push(0); // trailing byte
        assert!(read_question(&odd).is_none());
        let mut response = packet("x.example.", RecordType::A, None);
        response[2] |= 0x80;
        assert!(read_question(&response).is_none());
        // Every prefix and corruption is read or declined, never a panic.
        let good = packet("www.example.com.", RecordType::A, Some(1232));
        for n in 0..good.len() {
            let _ = read_question(&good[..n]);
            for b in [0u8, 0x3f, 0x40, 0xc0, 0xff] {
                let mut bad = good.clone();
                bad[n] = b;
                let _ = read_question(&bad);
            }
        }
    }

    #[test]
    fn answers_written_here_read_back_with_hickory() {
        let q = read_question(&packet("Bets.Example.com.", RecordType::A, Some(1232))).unwrap();
        let nx = Answer::new(&q, 3, 1232).soa(60).finish();
        let m = Message::from_vec(&nx).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(m.metadata.recursion_available && m.metadata.recursion_desired);
        assert_eq!(m.queries[0].name.to_ascii(), "Bets.Example.com.");
        let RData::SOA(soa) = &m.authorities[0].data else {
            panic!("{m:?}")
        };
        assert_eq!(m.authorities[0].ttl, 60);
        assert_eq!(soa.minimum, 60);
        assert_eq!(soa.mname.to_ascii(), "lychgate.internal.");
        assert_eq!(m.edns.as_ref().unwrap().max_payload(), 1232);

        let page = Answer::new(&q, 0, 1232)
            .a(Ipv4Addr::new(10, 0, 0, 1), 30)
            .finish();
        let m = Message::from_vec(&page).unwrap();
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].name.to_ascii(), "Bets.Example.com.");
        assert_eq!(
            m.answers[0].data,
            RData::A(Ipv4Addr::new(10, 0, 0, 1).into())
        );

        let q = read_question(&packet("v6.example.", RecordType::AAAA, None)).unwrap();
        let six = Answer::new(&q, 0, 1232)
            .aaaa("fd00::1".parse().unwrap(), 30)
            .finish();
        let m = Message::from_vec(&six).unwrap();
        assert!(m.edns.is_none());
        assert_eq!(m.answers.len(), 1);
        let mut many = Answer::new(&q, 0, 1232);
        for i in 0..40u16 {
            many = many.aaaa(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i), 30);
        }
        let whole = many.finish_within(None);
        assert!(!whole.truncated && whole.bytes.len() > 512);
        assert_eq!(Message::from_vec(&whole.bytes).unwrap().answers.len(), 40);
        let mut many = Answer::new(&q, 0, 1232);
        for i in 0..40u16 {
            many = many.aaaa(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i), 30);
        }
        let short = many.finish_within(Some(512));
        assert!(short.truncated && short.bytes.len() <= 512);
        let m = Message::from_vec(&short.bytes).unwrap();
        assert!(m.metadata.truncation && m.answers.is_empty());
        assert_eq!(m.queries[0].name.to_ascii(), "v6.example.");
        let refused = Answer::new(&q, 5, 1232).finish();
        assert_eq!(
            Message::from_vec(&refused).unwrap().metadata.response_code,
            ResponseCode::Refused
        );
    }
}

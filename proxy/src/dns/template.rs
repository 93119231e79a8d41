//! A cached answer pre-written as bytes, so a cache hit is a copy and a few patches rather than
//! a hickory message built and encoded per client. The answer and authority sections are encoded
//! once, after a question of the cached name at offset 12: any client question for the same
//! name has the same length (names compare without case), so its compression pointers stay
//! right when the client's own question bytes are put in front. What each group must still
//! check — the names the answer aliases to, private addresses — is kept beside the bytes; `ech`
//! is already removed (every group gets that).

use super::answer_check::{address, alias_target, is_private, strip_ech};
use super::message::normalised_host;
use super::wire::{name_end, push_opt};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, Record, RecordType};
use std::net::IpAddr;

/// The pre-written sections of one cached answer.
#[derive(Debug)]
pub struct WireTemplate {
    /// Answer then authority records, encoded after the question.
    sections: Vec<u8>,
    /// Records in the answer section.
    ancount: u16,
    /// Records in the authority section.
    nscount: u16,
    /// Each record's TTL: where it sits in `sections`, and its value as fetched.
    ttls: Vec<(usize, u32)>,
    /// Names the answer aliases to (CNAME targets, HTTPS/SVCB alias targets), normalised.
    pub aliases: Vec<String>,
    /// Private addresses in the answer (DNS rebinding is checked per group).
    pub private: Vec<IpAddr>,
    /// Whether `ech` parameters were removed.
    pub ech_stripped: bool,
}

impl WireTemplate {
    /// Whether the answer section is empty (NXDOMAIN or NODATA: the SOA sets the TTL).
    pub fn is_negative(&self) -> bool {
        self.ancount == 0
    }

    /// Writes the sections for a question `host`/`qtype`; `None` when they cannot be written
    /// (the hickory path then serves the answer).
    pub fn new(
        host: &str,
        qtype: RecordType,
        answers: &[Record],
        authorities: &[Record],
    ) -> Option<Self> {
        let mut name = Name::from_ascii(host).ok()?;
        name.set_fqdn(true);
        let mut m = Message::new(0, MessageType::Response, OpCode::Query);
        m.queries.push(Query::query(name, qtype));
        let mut ech_stripped = false;
        let mut aliases = Vec::new();
        let mut private = Vec::new();
        m.answers = answers
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if let Some(target) = alias_target(&r.data) {
                    aliases.push(normalised_host(target));
                }
                if let Some(ip) = address(&r.data).filter(|ip| is_private(*ip)) {
                    private.push(ip);
                }
                ech_stripped |= strip_ech(&mut r.data);
                r
            })
            .collect();
        m.authorities = authorities.to_vec();
        let bytes = m.to_vec().ok()?;
        let question_end = 12 + question_len(&bytes)?;
        let ancount = u16::try_from(answers.len()).ok()?;
        let nscount = u16::try_from(authorities.len()).ok()?;
        let ttls = ttl_offsets(&bytes, question_end, answers.len() + authorities.len())?
            .into_iter()
            .map(|at| {
                let ttl =
                    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
                (at - question_end, ttl)
            })
            .collect();
        Some(WireTemplate {
            sections: bytes[question_end..].to_vec(),
            ancount,
            nscount,
            ttls,
            aliases,
            private,
            ech_stripped,
        })
    }

    /// The whole answer for a client: `header` (12 bytes, counts filled here), its question
    /// bytes, the sections with each TTL counted down by `age` and capped at `cap`, and an OPT
    /// record advertising `opt_payload` when the client sent one.
    pub fn write(
        &self,
        header: [u8; 12],
        question: &[u8],
        age: u32,
        cap: u32,
        opt_payload: Option<u16>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + question.len() + self.sections.len() + 11);
        out.extend_from_slice(&header);
        out[4..6].copy_from_slice(&1u16.to_be_bytes());
        out[6..8].copy_from_slice(&self.ancount.to_be_bytes());
        out[8..10].copy_from_slice(&self.nscount.to_be_bytes());
        out[10..12].copy_from_slice(&u16::from(opt_payload.is_some()).to_be_bytes());
        out.extend_from_slice(question);
        let base = out.len();
        out.extend_from_slice(&self.sections);
        for &(at, ttl) in &self.ttls {
            let ttl = ttl.saturating_sub(age).min(cap);
            out[base + at..base + at + 4].copy_from_slice(&ttl.to_be_bytes());
        }
        if let Some(payload) = opt_payload {
            push_opt(&mut out, payload);
        }
        out
    }
}

/// Length of the question section (one question) of an encoded message.
fn question_len(bytes: &[u8]) -> Option<usize> {
    Some(name_end(bytes, 12)? + 4 - 12)
}

/// The TTL offsets of `count` records starting at `at`.
fn ttl_offsets(bytes: &[u8], mut at: usize, count: usize) -> Option<Vec<usize>> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let name = name_end(bytes, at)?;
        let rdlen = usize::from(u16::from_be_bytes([
            *bytes.get(name + 8)?,
            *bytes.get(name + 9)?,
        ]));
        out.push(name + 4);
        at = name + 10 + rdlen;
        if at > bytes.len() {
            return None;
        }
    }
    (at == bytes.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::RData;
    use hickory_proto::rr::rdata::svcb::{Alpn, EchConfigList, SVCB, SvcParamKey, SvcParamValue};
    use hickory_proto::rr::rdata::{A, CNAME, HTTPS, SOA};

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn a_written_answer_reads_back_for_a_client_question_in_any_case() {
        let answers = vec![
            Record::from_rdata(
                n("www.example.org."),
                300,
                RData::CNAME(CNAME(n("cdn.example.net."))),
            ),
            Record::from_rdata(n("cdn.example.net."), 60, RData::A(A::new(192, 0, 2, 9))),
            Record::from_rdata(n("cdn.example.net."), 60, RData::A(A::new(10, 0, 0, 9))),
            Record::from_rdata(
                n("cdn.example.net."),
                60,
                RData::HTTPS(HTTPS(SVCB::new(
                    1,
                    Name::root(),
                    vec![
                        (
                            SvcParamKey::Alpn,
                            SvcParamValue::Alpn(Alpn(vec!["h2".into()])),
                        ),
                        (
                            SvcParamKey::EchConfigList,
                            SvcParamValue::EchConfigList(EchConfigList(vec![9, 9])),
                        ),
                    ],
                ))),
            ),
        ];
        let t = WireTemplate::new("www.example.org", RecordType::A, &answers, &[]).unwrap();
        assert_eq!(t.aliases, vec!["cdn.example.net".to_string()]);
        assert_eq!(t.private, vec!["10.0.0.9".parse::<IpAddr>().unwrap()]);
        assert!(t.ech_stripped);
        // The client's question, in its own case.
        let mut client = Message::new(0x4242, MessageType::Query, OpCode::Query);
        client
            .queries
            .push(Query::query(n("WWW.Example.ORG."), RecordType::A));
        let client = client.to_vec().unwrap();
        let question = &client[12..];
        let mut header = [0u8; 12];
        header[0..2].copy_from_slice(&0x4242u16.to_be_bytes());
        header[2] = 0x81;
        header[3] = 0x80;
        let bytes = t.write(header, question, 10, 45, Some(1232));
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.id, 0x4242);
        assert_eq!(m.queries[0].name.to_ascii(), "WWW.Example.ORG.");
        assert_eq!(m.answers.len(), 4);
        // TTLs: 300 − 10 capped at 45; 60 − 10 = 50 capped at 45.
        assert!(m.answers.iter().all(|r| r.ttl == 45), "{m:?}");
        assert_eq!(
            m.answers[0].name.to_ascii().to_lowercase(),
            "www.example.org."
        );
        let RData::HTTPS(HTTPS(svcb)) = &m.answers[3].data else {
            panic!()
        };
        assert_eq!(svcb.svc_params.len(), 1, "ech removed");
        assert_eq!(m.edns.unwrap().max_payload(), 1232);
        let plain = t.write(header, question, 100, u32::MAX, None);
        let m = Message::from_vec(&plain).unwrap();
        assert!(m.edns.is_none());
        assert_eq!(m.answers[0].ttl, 200);
        assert_eq!(m.answers[1].ttl, 0);
    }

    #[test]
    fn negative_answers_keep_their_soa() {
        let soa = Record::from_rdata(
            n("example.org."),
            900,
            RData::SOA(SOA::new(
                n("ns.example.org."),
                n("host.example.org."),
                1,
                2,
                3,
                4,
                300,
            )),
        );
        let t = WireTemplate::new("gone.example.org", RecordType::AAAA, &[], &[soa]).unwrap();
        let mut client = Message::new(7, MessageType::Query, OpCode::Query);
        client
            .queries
            .push(Query::query(n("gone.example.org."), RecordType::AAAA));
        let client = client.to_vec().unwrap();
        let mut header = [0u8; 12];
        header[3] = 0x83;
        let m = Message::from_vec(&t.write(header, &client[12..], 0, 3600, None)).unwrap();
        assert_eq!(m.authorities.len(), 1);
        assert_eq!(m.authorities[0].ttl, 900);
    }
}

//! An upstream answer checked for one client's group before it is sent: the names it aliases to
//! (CNAME chains, HTTPS/SVCB alias targets) decided like the question's name, private addresses
//! for public names refused (DNS rebinding), `ech` parameters removed, and TTLs counted down from
//! when it was fetched — capped for names in a time-windowed category, so the window's end takes
//! effect promptly. Pure: the caller supplies the decision function.

use super::message::normalised_host;
use hickory_proto::rr::rdata::HTTPS;
use hickory_proto::rr::rdata::svcb::SvcParamKey;
use hickory_proto::rr::{Name, RData, Record};
use lychgate_classifier::category::CategorySet;
use lychgate_classifier::policy::{Action, Decision};
use std::net::IpAddr;

/// What the check found.
#[derive(Debug)]
pub enum Verdict {
    /// Send it.
    Pass,
    /// A name in the answer is blocked for the group.
    AliasBlocked {
        /// The blocked name.
        name: String,
        /// Its decision.
        decision: Decision,
    },
    /// A private address for a public name.
    Rebinding {
        /// The address.
        address: IpAddr,
    },
}

/// An answer ready to send, or the reason it may not be.
#[derive(Debug)]
pub struct Checked {
    /// The answer section, TTLs adjusted, `ech` removed.
    pub answers: Vec<Record>,
    /// The authority section, TTLs adjusted.
    pub authorities: Vec<Record>,
    /// Whether it may be sent.
    pub verdict: Verdict,
    /// Whether `ech` parameters were removed.
    pub ech_stripped: bool,
}

/// What the check needs to know besides the records.
#[derive(Debug, Clone, Copy)]
pub struct CheckRules<'a> {
    /// Seconds since the answer was fetched.
    pub age: u32,
    /// Refuse private addresses (false when rebinding is allowed or the name is internal).
    pub refuse_private: bool,
    /// Addresses never counted as rebinding (the block page's).
    pub exempt_addresses: &'a [IpAddr],
}

/// Checks `answers`/`authorities` with `decide` (the group's decision for a name) and `cap`
/// (the largest TTL to hand out, given the categories involved).
pub fn check(
    answers: &[Record],
    authorities: &[Record],
    rules: CheckRules<'_>,
    mut decide: impl FnMut(&str) -> Decision,
    cap: impl Fn(CategorySet) -> u32,
) -> Checked {
    let mut verdict = Verdict::Pass;
    let mut alias_categories = CategorySet::EMPTY;
    for r in answers {
        if let Some(target) = alias_target(&r.data) {
            let name = normalised_host(target);
            let d = decide(&name);
            alias_categories = alias_categories.union(d.categories);
            if d.action == Action::Block && matches!(verdict, Verdict::Pass) {
                verdict = Verdict::AliasBlocked { name, decision: d };
            }
        }
        if rules.refuse_private && matches!(verdict, Verdict::Pass) {
            if let Some(address) = address(&r.data) {
                if is_private(address) && !rules.exempt_addresses.contains(&address) {
                    verdict = Verdict::Rebinding { address };
                }
            }
        }
    }
    let ttl_cap = cap(alias_categories);
    let mut ech_stripped = false;
    let answers = answers
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.ttl = r.ttl.saturating_sub(rules.age).min(ttl_cap);
            ech_stripped |= strip_ech(&mut r.data);
            r
        })
        .collect();
    let authorities = authorities
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.ttl = r.ttl.saturating_sub(rules.age).min(ttl_cap);
            r
        })
        .collect();
    Checked {
        answers,
        authorities,
        verdict,
        ech_stripped,
    }
}

/// The part of an upstream answer that belongs to the question `asked`: answer records owned by
/// the asked name or by a CNAME target in its chain (followed from the name), and authority
/// SOA records of a zone holding one of those names (a negative answer's TTL comes from it).
/// Everything else — records for names nobody asked about that an upstream or a forger slipped
/// in, NS records and their glue — is dropped before the answer is cached, so no client ever
/// caches it. (The additional section is never kept; Lychgate writes its own OPT.)
pub fn in_question_chain(
    asked: &str,
    answers: Vec<Record>,
    authorities: Vec<Record>,
) -> (Vec<Record>, Vec<Record>) {
    // Spelled as `normalised_host` spells owners: lower case, no trailing dot, the root `.`.
    let asked = match asked.trim_end_matches('.') {
        "" => ".".to_string(),
        name => name.to_ascii_lowercase(),
    };
    let mut chain = vec![asked];
    // Each round adds at least one name or stops, so at most one round per record.
    for _ in 0..=answers.len() {
        let before = chain.len();
        for r in &answers {
            if let RData::CNAME(target) = &r.data {
                if chain.contains(&normalised_host(&r.name)) {
                    let target = normalised_host(&target.0);
                    if !chain.contains(&target) {
                        chain.push(target);
                    }
                }
            }
        }
        if chain.len() == before {
            break;
        }
    }
    let answers = answers
        .into_iter()
        .filter(|r| chain.contains(&normalised_host(&r.name)))
        .collect();
    let authorities = authorities
        .into_iter()
        .filter(|r| {
            let zone = normalised_host(&r.name);
            matches!(r.data, RData::SOA(_)) && chain.iter().any(|n| is_within(n, &zone))
        })
        .collect();
    (answers, authorities)
}

/// Whether `name` is `zone` or below it (both normalised; `.` is the root).
fn is_within(name: &str, zone: &str) -> bool {
    zone == "."
        || name == zone
        || (name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}

/// The name a record sends the client on to: a CNAME's target, or an HTTPS/SVCB record's
/// target (none when it is `.`, the owner itself). Each is decided for the client's group.
pub(super) fn alias_target(data: &RData) -> Option<&Name> {
    match data {
        RData::CNAME(c) => Some(&c.0),
        RData::HTTPS(HTTPS(svcb)) | RData::SVCB(svcb) if !svcb.target_name.is_root() => {
            Some(&svcb.target_name)
        }
        _ => None,
    }
}

/// The address an A or AAAA record gives.
pub(super) fn address(data: &RData) -> Option<IpAddr> {
    match data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
        _ => None,
    }
}

/// Removes the `ech` parameter of an HTTPS or SVCB record; true if there was one. Without it
/// the browser sends its real server name in the clear, which the transparent proxy and the
/// CONNECT check read.
pub(super) fn strip_ech(data: &mut RData) -> bool {
    let (RData::HTTPS(HTTPS(svcb)) | RData::SVCB(svcb)) = data else {
        return false;
    };
    let before = svcb.svc_params.len();
    svcb.svc_params
        .retain(|(key, _)| *key != SvcParamKey::EchConfigList);
    svcb.svc_params.len() != before
}

/// Addresses that belong on a private network, never in a public name's answer: RFC 1918,
/// loopback, link-local, CGNAT shared space, "this network", unique-local and IPv4-mapped forms.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Name;
    use hickory_proto::rr::rdata::svcb::{Alpn, EchConfigList, SVCB, SvcParamValue};
    use hickory_proto::rr::rdata::{A, CNAME};
    use lychgate_classifier::policy::Rule;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn decision(action: Action) -> Decision {
        Decision {
            action,
            category: None,
            categories: CategorySet::EMPTY,
            rule: Rule::Default,
            search: None,
            concerns: [None; lychgate_classifier::policy::MAX_CONCERNS],
            concern_len: 0,
        }
    }

    fn rules(refuse_private: bool) -> CheckRules<'static> {
        CheckRules {
            age: 10,
            refuse_private,
            exempt_addresses: &[],
        }
    }

    #[test]
    fn an_alias_of_a_blocked_name_is_blocked() {
        let answers = vec![
            Record::from_rdata(
                name("cdn.allowed.example."),
                300,
                RData::CNAME(CNAME(name("bets.blocked.example."))),
            ),
            Record::from_rdata(
                name("bets.blocked.example."),
                300,
                RData::A(A::new(192, 0, 2, 7)),
            ),
        ];
        let checked = check(
            &answers,
            &[],
            rules(true),
            |n| {
                decision(if n.ends_with("blocked.example") {
                    Action::Block
                } else {
                    Action::Allow
                })
            },
            |_| u32::MAX,
        );
        match checked.verdict {
            Verdict::AliasBlocked { name, .. } => assert_eq!(name, "bets.blocked.example"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_the_question_s_chain_and_its_zone_s_soa_are_kept() {
        use hickory_proto::rr::rdata::{NS, SOA};
        let a_for = |owner: &str, last: u8| {
            Record::from_rdata(name(owner), 300, RData::A(A::new(192, 0, 2, last)))
        };
        let cname = |owner: &str, target: &str| {
            Record::from_rdata(name(owner), 300, RData::CNAME(CNAME(name(target))))
        };
        let answers = vec![
            // Out of order on purpose: the chain is followed whatever the order.
            a_for("edge.CDN.example.net.", 1),
            cname("www.school.example.", "school.cdn.example.net."),
            cname("school.cdn.example.net.", "edge.cdn.example.net."),
            // Slipped in: another name, and a CNAME hanging off a name not in the chain.
            a_for("bank.example.com.", 66),
            cname("other.example.", "www.school.example."),
        ];
        let soa = |owner: &str| {
            let n = name(owner);
            Record::from_rdata(
                n.clone(),
                300,
                RData::SOA(SOA::new(n.clone(), n, 1, 1, 1, 1, 60)),
            )
        };
        let authorities = vec![
            soa("example.net."),
            soa("bank.example.com."),
            Record::from_rdata(
                name("example.net."),
                300,
                RData::NS(NS(name("ns1.example.net."))),
            ),
        ];
        let (answers, authorities) = in_question_chain("www.school.example", answers, authorities);
        let owners: Vec<String> = answers.iter().map(|r| r.name.to_ascii()).collect();
        assert_eq!(
            owners,
            [
                "edge.CDN.example.net.",
                "www.school.example.",
                "school.cdn.example.net."
            ]
        );
        assert_eq!(authorities.len(), 1);
        assert_eq!(authorities[0].name, name("example.net."));
        assert!(is_within("a.b.example", "example") && is_within("x", "."));
        // The root's own records (a `. NS` question) are its chain too.
        let root_ns = Record::from_rdata(Name::root(), 300, RData::NS(NS(name("a.root."))));
        assert_eq!(in_question_chain(".", vec![root_ns], vec![]).0.len(), 1);
        assert!(!is_within("badexample", "example"));
    }

    #[test]
    fn ttls_count_down_and_are_capped() {
        let answers = vec![Record::from_rdata(
            name("a.example."),
            300,
            RData::A(A::new(192, 0, 2, 7)),
        )];
        let checked = check(
            &answers,
            &[],
            rules(true),
            |_| decision(Action::Allow),
            |_| 60,
        );
        assert!(matches!(checked.verdict, Verdict::Pass));
        assert_eq!(checked.answers[0].ttl, 60);
        let checked = check(
            &answers,
            &[],
            rules(true),
            |_| decision(Action::Allow),
            |_| u32::MAX,
        );
        assert_eq!(checked.answers[0].ttl, 290);
    }

    #[test]
    fn private_addresses_for_public_names_are_refused_unless_exempt() {
        let answers = vec![Record::from_rdata(
            name("evil.example."),
            300,
            RData::A(A::new(192, 168, 1, 5)),
        )];
        let allow = |_: &str| decision(Action::Allow);
        let checked = check(&answers, &[], rules(true), allow, |_| u32::MAX);
        assert!(matches!(checked.verdict, Verdict::Rebinding { .. }));
        let checked = check(&answers, &[], rules(false), allow, |_| u32::MAX);
        assert!(matches!(checked.verdict, Verdict::Pass));
        let exempt = ["192.168.1.5".parse().unwrap()];
        let r = CheckRules {
            exempt_addresses: &exempt,
            ..rules(true)
        };
        assert!(matches!(
            check(&answers, &[], r, allow, |_| u32::MAX).verdict,
            Verdict::Pass
        ));
        for ip in [
            "10.1.2.3",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "fd00::1",
            "fe80::1",
            "::ffff:192.168.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["192.0.2.1", "8.8.8.8", "2001:db8::1", "100.128.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn ech_is_removed_and_the_rest_kept() {
        let svcb = SVCB::new(
            1,
            Name::root(),
            vec![
                (
                    SvcParamKey::Alpn,
                    SvcParamValue::Alpn(Alpn(vec!["h2".into()])),
                ),
                (
                    SvcParamKey::EchConfigList,
                    SvcParamValue::EchConfigList(EchConfigList(vec![1, 2, 3])),
                ),
            ],
        );
        let answers = vec![Record::from_rdata(
            name("www.example."),
            300,
            RData::HTTPS(HTTPS(svcb)),
        )];
        let checked = check(
            &answers,
            &[],
            rules(true),
            |_| decision(Action::Allow),
            |_| u32::MAX,
        );
        assert!(checked.ech_stripped);
        let RData::HTTPS(HTTPS(svcb)) = &checked.answers[0].data else {
            panic!()
        };
        assert_eq!(svcb.svc_params.len(), 1);
        assert_eq!(svcb.svc_params[0].0, SvcParamKey::Alpn);
    }
}

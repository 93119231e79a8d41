//! Where the proxy may connect on a client's behalf (SSRF guard). Applied to the addresses
//! actually dialled — after resolution, by the one resolver every path uses — so a name cannot
//! be checked as one address and connected to as another (DNS rebinding).
//!
//! Refused for everyone: loopback, unspecified (`0.0.0.0/8`, `::`), link-local and cloud
//! metadata (`169.254/16`, `fe80::/10`), and every address of the gateway's own interfaces.
//! Private and shared ranges (`10/8`, `172.16/12`, `192.168/16`, `100.64/10`, `fc00::/7`) are
//! refused unless `[proxy] allowed_private_destinations` lists them (which may also list loopback
//! blocks, for a lab or a benchmark, with a check-config warning). IPv4-mapped IPv6 forms
//! (`::ffff:127.0.0.1`) are judged as the IPv4 address they reach. An address written in a
//! `[[static_host]]` is trusted (the technician chose it), except that Lychgate's own listening
//! ports on any local address are never reachable through the proxy.

use crate::net::Cidr;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a destination address is refused. Labels are bounded: they are metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationRefusal {
    /// One of Lychgate's own listening ports on a local address (a loop, or the admin API).
    OwnListener,
    /// `127.0.0.0/8` or `::1`.
    Loopback,
    /// `0.0.0.0/8` or `::` (which Linux connects to this machine).
    Unspecified,
    /// `169.254.0.0/16` (cloud metadata lives here) or `fe80::/10`.
    LinkLocal,
    /// An address of one of the gateway's own interfaces.
    OwnAddress,
    /// A private or shared range the school has not listed.
    Private,
}

impl DestinationRefusal {
    /// Every reason, for pre-registering the counter.
    pub const ALL: [DestinationRefusal; 6] = [
        DestinationRefusal::OwnListener,
        DestinationRefusal::Loopback,
        DestinationRefusal::Unspecified,
        DestinationRefusal::LinkLocal,
        DestinationRefusal::OwnAddress,
        DestinationRefusal::Private,
    ];

    /// Label for metrics and the log's `rule`.
    pub const fn label(self) -> &'static str {
        match self {
            DestinationRefusal::OwnListener => "own_listener",
            DestinationRefusal::Loopback => "loopback",
            DestinationRefusal::Unspecified => "unspecified",
            DestinationRefusal::LinkLocal => "link_local",
            DestinationRefusal::OwnAddress => "own_address",
            DestinationRefusal::Private => "private",
        }
    }

    /// In words, for the log's `rule`.
    pub const fn describe(self) -> &'static str {
        match self {
            DestinationRefusal::OwnListener => "one of Lychgate's own listeners",
            DestinationRefusal::Loopback => "a loopback address",
            DestinationRefusal::Unspecified => "an unspecified address (this machine)",
            DestinationRefusal::LinkLocal => "a link-local or metadata address",
            DestinationRefusal::OwnAddress => "an address of the gateway itself",
            DestinationRefusal::Private => {
                "a private address not in [proxy] allowed_private_destinations"
            }
        }
    }
}

/// The address a socket really reaches: an IPv4-mapped IPv6 address is its IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What kind of address this is, ignoring the school's allowances and the gateway's own
/// addresses: `None` for an ordinary public address.
fn special(ip: IpAddr) -> Option<DestinationRefusal> {
    match canonical(ip) {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<DestinationRefusal> {
    let [a, b, ..] = ip.octets();
    if a == 0 {
        Some(DestinationRefusal::Unspecified)
    } else if ip.is_loopback() {
        Some(DestinationRefusal::Loopback)
    } else if ip.is_link_local() {
        Some(DestinationRefusal::LinkLocal)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(DestinationRefusal::Private)
    } else {
        None
    }
}

fn special_v6(ip: Ipv6Addr) -> Option<DestinationRefusal> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some(DestinationRefusal::Unspecified)
    } else if ip.is_loopback() {
        Some(DestinationRefusal::Loopback)
    } else if first & 0xffc0 == 0xfe80 {
        Some(DestinationRefusal::LinkLocal)
    } else if first & 0xfe00 == 0xfc00 {
        Some(DestinationRefusal::Private)
    } else {
        None
    }
}

/// Whether a destination is written in `[[static_host]]` (trusted) or came from anywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// An address a technician wrote in `[[static_host]]`.
    StaticHost,
    /// A resolver answer or an address the client wrote.
    Untrusted,
}

/// The destination policy: pure, built once the listeners are bound.
#[derive(Debug, Clone, Default)]
pub struct DestinationPolicy {
    /// Lychgate's bound listeners (proxy, admin, transparent, DNS).
    own_listeners: Vec<SocketAddr>,
    /// Addresses of the gateway's own interfaces, listed at start.
    own_addresses: HashSet<IpAddr>,
    /// Private ranges the school opened (`[proxy] allowed_private_destinations`).
    allowed_private: Vec<Cidr>,
}

impl DestinationPolicy {
    /// A policy for these listeners, interface addresses and allowed private ranges.
    pub fn new(
        own_listeners: Vec<SocketAddr>,
        own_addresses: impl IntoIterator<Item = IpAddr>,
        allowed_private: Vec<Cidr>,
    ) -> Self {
        DestinationPolicy {
            own_listeners,
            own_addresses: own_addresses.into_iter().map(canonical).collect(),
            allowed_private,
        }
    }

    /// Whether the proxy may connect to `dst`.
    pub fn check(&self, dst: SocketAddr, trust: Trust) -> Result<(), DestinationRefusal> {
        let ip = canonical(dst.ip());
        let kind = special(ip);
        let own_address = self.own_addresses.contains(&ip);
        let local = own_address
            || matches!(
                kind,
                Some(DestinationRefusal::Loopback | DestinationRefusal::Unspecified)
            )
            || self.own_listeners.iter().any(|l| canonical(l.ip()) == ip);
        if local && self.own_listeners.iter().any(|l| l.port() == dst.port()) {
            return Err(DestinationRefusal::OwnListener);
        }
        if trust == Trust::StaticHost {
            return Ok(());
        }
        match kind {
            // The gateway's own LAN address is private too, but no listing opens it.
            Some(DestinationRefusal::Private) | None if own_address => {
                Err(DestinationRefusal::OwnAddress)
            }
            // Loopback is listable only for a lab or a benchmark (check-config warns); the
            // own-listener check above has already run.
            Some(refusal @ (DestinationRefusal::Private | DestinationRefusal::Loopback)) => {
                if self.allowed_private.iter().any(|c| c.contains(ip)) {
                    Ok(())
                } else {
                    Err(refusal)
                }
            }
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }
}

/// The addresses of this machine's interfaces, read from `/proc` (IPv4 local routes in
/// `/proc/net/fib_trie`, IPv6 in `/proc/net/if_inet6`). A file that cannot be read adds
/// nothing: loopback and unspecified addresses are refused by kind anyway.
pub fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/proc/net/fib_trie") {
        out.extend(local_v4_from_fib_trie(&text));
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/if_inet6") {
        out.extend(v6_from_if_inet6(&text));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// `/proc/net/fib_trie`: a leaf `|-- a.b.c.d` followed by `/32 host LOCAL` is an address of
/// this machine.
fn local_v4_from_fib_trie(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut leaf: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("|-- ") {
            leaf = rest.trim().parse().ok();
        } else if line.starts_with("/32 host LOCAL") {
            if let Some(ip) = leaf {
                out.push(IpAddr::V4(ip));
            }
        }
    }
    out
}

/// `/proc/net/if_inet6`: 32 hex digits, then index, prefix, scope, flags and the interface.
fn v6_from_if_inet6(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter_map(|hex| {
            u128::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 32)
        })
        .map(|n| IpAddr::V6(Ipv6Addr::from(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::private_ranges;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn policy() -> DestinationPolicy {
        DestinationPolicy::new(
            vec![
                sa("127.0.0.1:3128"),
                sa("0.0.0.0:9090"),
                sa("[::]:53"),
                sa("10.0.0.1:3129"),
            ],
            ["10.0.0.1".parse().unwrap(), "203.0.113.7".parse().unwrap()],
            vec!["10.20.0.0/16".parse().unwrap()],
        )
    }

    fn refused(dst: &str, trust: Trust) -> Option<&'static str> {
        policy().check(sa(dst), trust).err().map(|r| r.label())
    }

    #[test]
    fn public_addresses_are_allowed() {
        assert_eq!(refused("93.184.216.34:80", Trust::Untrusted), None);
        assert_eq!(refused("[2606:2800:220:1::1]:443", Trust::Untrusted), None);
        // 100.63/16 and 100.128/16 sit either side of the shared range.
        assert_eq!(refused("100.63.255.255:80", Trust::Untrusted), None);
        assert_eq!(refused("100.128.0.0:80", Trust::Untrusted), None);
        assert_eq!(refused("172.32.0.1:80", Trust::Untrusted), None);
    }

    #[test]
    fn loopback_unspecified_and_link_local_are_refused_in_every_form() {
        for (dst, why) in [
            ("127.0.0.1:8080", "loopback"),
            ("127.45.6.7:22", "loopback"),
            ("[::1]:8080", "loopback"),
            ("[::ffff:127.0.0.1]:8080", "loopback"),
            ("0.0.0.0:8080", "unspecified"),
            ("0.1.2.3:8080", "unspecified"),
            ("[::]:8080", "unspecified"),
            ("[::ffff:0.0.0.0]:8080", "unspecified"),
            ("169.254.169.254:80", "link_local"),
            ("[::ffff:169.254.169.254]:80", "link_local"),
            ("[fe80::1]:80", "link_local"),
            ("[febf::1]:80", "link_local"),
        ] {
            assert_eq!(refused(dst, Trust::Untrusted), Some(why), "{dst}");
        }
    }

    #[test]
    fn private_ranges_are_refused_unless_listed() {
        for dst in [
            "10.1.2.3:80",
            "172.16.0.1:80",
            "172.31.255.255:80",
            "192.168.1.1:80",
            "100.64.0.1:80",
            "100.127.255.255:80",
            "[fc00::1]:80",
            "[fd12:3456::1]:80",
            "[::ffff:192.168.1.1]:80",
        ] {
            assert_eq!(refused(dst, Trust::Untrusted), Some("private"), "{dst}");
        }
        assert_eq!(refused("10.20.3.4:80", Trust::Untrusted), None, "listed");
        assert_eq!(refused("[::ffff:10.20.3.4]:80", Trust::Untrusted), None);
    }

    #[test]
    fn a_listed_loopback_block_opens_loopback_but_never_lychgates_own_listeners() {
        let p = DestinationPolicy::new(
            vec![sa("127.0.0.1:3128"), sa("0.0.0.0:9090")],
            ["127.0.0.1".parse().unwrap()],
            vec!["127.0.0.1/32".parse().unwrap()],
        );
        assert_eq!(p.check(sa("127.0.0.1:18081"), Trust::Untrusted), Ok(()));
        assert_eq!(
            p.check(sa("127.0.0.2:18081"), Trust::Untrusted),
            Err(DestinationRefusal::Loopback),
            "only the listed block"
        );
        for own in ["127.0.0.1:3128", "127.0.0.1:9090"] {
            assert_eq!(
                p.check(sa(own), Trust::Untrusted),
                Err(DestinationRefusal::OwnListener),
                "{own}"
            );
        }
    }

    #[test]
    fn the_gateways_own_addresses_are_refused_even_in_a_listed_range() {
        assert_eq!(
            refused("203.0.113.7:80", Trust::Untrusted),
            Some("own_address")
        );
        // 10.0.0.1 is private and the gateway's own; listing 10.0.0.0/8 would not open it.
        let p = DestinationPolicy::new(
            Vec::new(),
            ["10.0.0.1".parse().unwrap()],
            vec!["10.0.0.0/8".parse().unwrap()],
        );
        assert_eq!(
            p.check(sa("10.0.0.1:80"), Trust::Untrusted),
            Err(DestinationRefusal::OwnAddress)
        );
        assert_eq!(p.check(sa("10.0.0.2:80"), Trust::Untrusted), Ok(()));
    }

    #[test]
    fn own_listeners_are_refused_on_every_local_address_even_for_static_hosts() {
        for dst in [
            "127.0.0.1:3128",
            "127.0.0.2:3128",
            "0.0.0.0:9090",
            "127.0.0.1:9090",
            "[::ffff:127.0.0.1]:9090",
            "[::1]:53",
            "10.0.0.1:9090",
            "203.0.113.7:53",
            "10.0.0.1:3129",
        ] {
            for trust in [Trust::StaticHost, Trust::Untrusted] {
                assert_eq!(refused(dst, trust), Some("own_listener"), "{dst} {trust:?}");
            }
        }
        // The same port on someone else's address is not Lychgate.
        assert_eq!(refused("93.184.216.34:9090", Trust::Untrusted), None);
    }

    #[test]
    fn static_hosts_are_trusted_for_what_the_technician_wrote() {
        assert_eq!(refused("127.0.0.1:8080", Trust::StaticHost), None);
        assert_eq!(refused("192.168.1.10:80", Trust::StaticHost), None);
        assert_eq!(refused("169.254.1.1:80", Trust::StaticHost), None);
    }

    #[test]
    fn interface_addresses_are_read_from_proc() {
        let fib = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n\
                   \x20    +-- 127.0.0.0/8 2 0 2\n           |-- 127.0.0.1\n              /32 host LOCAL\n\
                   \x20       |-- 127.255.255.255\n           /32 link BROADCAST\n\
                   \x20          |-- 192.0.2.0\n              /24 link UNICAST\n\
                   \x20          |-- 192.0.2.2\n              /32 host LOCAL\n";
        assert_eq!(
            local_v4_from_fib_trie(fib),
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "192.0.2.2".parse().unwrap()
            ]
        );
        let inet6 = "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n\
                     00000000000000000000000000000001 01 80 10 80       lo\n\
                     garbage\n";
        assert_eq!(
            v6_from_if_inet6(inet6),
            vec![
                "fe80::fc:ff:fe00:1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
    }

    #[test]
    fn private_ranges_are_the_documented_ones() {
        let text: Vec<String> = private_ranges().iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "100.64.0.0/10",
                "fc00::/7"
            ]
        );
    }
}

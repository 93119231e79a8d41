//! The key a client is counted under: its IPv4 address, or its IPv6 /64. One IPv6 host is
//! usually given a whole /64 (SLAAC, privacy addresses), so keying by full address would let one
//! device appear as countless clients to every per-client table.

use std::net::{IpAddr, Ipv6Addr};

/// `ip` as a per-client key: IPv4 (an IPv4-mapped IPv6 address included) as it is, IPv6 as the
/// first address of its /64.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_stays_whole_and_ipv6_is_cut_to_its_64() {
        let key = |s: &str| client_key(s.parse().unwrap()).to_string();
        assert_eq!(key("10.0.3.17"), "10.0.3.17");
        assert_eq!(key("::ffff:10.0.3.17"), "10.0.3.17");
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }
}

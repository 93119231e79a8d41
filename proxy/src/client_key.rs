//! The key per-client limits count under. One IPv6 device may use many addresses within its
//! /64 (privacy extensions hand out new ones every day, and anyone can pick more), so each /64
//! counts as one client; an IPv4-mapped IPv6 address is the IPv4 client it stands for.

use std::net::{IpAddr, Ipv6Addr};

/// The /64 (IPv6) or the address (IPv4) a client's per-client limits are kept for.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !(u128::from(u64::MAX));
            IpAddr::V6(Ipv6Addr::from(network))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> String {
        client_key(s.parse().unwrap()).to_string()
    }

    #[test]
    fn ipv4_is_kept_and_ipv6_becomes_its_slash_64() {
        assert_eq!(key("10.0.3.17"), "10.0.3.17");
        assert_eq!(key("::ffff:10.0.3.17"), "10.0.3.17");
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::1"), "::");
    }
}

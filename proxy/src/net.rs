//! Address blocks (CIDR) for client networks, on `ipnet`.

use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

/// An address block such as `10.0.3.0/24` or `fd00::/64`, always with its host bits clear (a
/// bare address is a one-address block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr(IpNet);

/// An address block that cannot be used as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// Not an address block at all.
    #[error(
        "`{0}` is not an address block: write e.g. `10.0.3.0/24`, `192.168.1.20` or `fd00::/64`"
    )]
    Malformed(String),
    /// An address with a prefix that cuts into it, e.g. `10.0.3.5/24`: a network or one device?
    #[error(
        "`{written}` has host bits set: did you mean the network `{network}`, or the one address `{address}`?"
    )]
    HostBits {
        /// As written.
        written: String,
        /// The block it truncates to.
        network: Cidr,
        /// The single address it names.
        address: IpAddr,
    },
}

impl CidrError {
    /// The block a [`CidrError::HostBits`] truncates to, so a duplicate check can still see it.
    pub fn truncated(&self) -> Option<Cidr> {
        match self {
            CidrError::HostBits { network, .. } => Some(*network),
            CidrError::Malformed(_) => None,
        }
    }
}

impl Cidr {
    /// The block's network address.
    pub fn addr(&self) -> IpAddr {
        self.0.network()
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.0.prefix_len()
    }

    /// Whether an address is inside the block (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }

    /// The network address and dotted mask of an IPv4 block (as PAC's `isInNet` wants them);
    /// `None` for IPv6.
    pub fn ipv4_network_and_mask(&self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        match self.0 {
            IpNet::V4(v4) => Some((v4.network(), v4.netmask())),
            IpNet::V6(_) => None,
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, CidrError> {
        let written = s.trim();
        let net = match written.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => written
                .parse::<IpAddr>()
                .map(IpNet::from)
                .map_err(|_| CidrError::Malformed(s.to_string()))?,
        };
        if net.trunc() != net {
            return Err(CidrError::HostBits {
                written: written.to_string(),
                network: Cidr(net.trunc()),
                address: net.addr(),
            });
        }
        Ok(Cidr(net))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The private and shared ranges `allowed_private_destinations` may open.
pub fn private_ranges() -> [Cidr; 5] {
    const RANGES: [&str; 5] = [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
    ];
    RANGES.map(|r| r.parse().unwrap_or_else(|_| unreachable!("valid CIDR {r}")))
}

/// The default connection reserve of each of `networks` client networks out of `total` slots:
/// half the total, split evenly, so the other half is shared by whoever needs it.
pub fn fair_reserve(total: usize, networks: usize) -> usize {
    (total / 2).checked_div(networks).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_v4_and_v6() {
        let c: Cidr = "10.0.3.0/24".parse().unwrap();
        assert!(c.contains("10.0.3.77".parse().unwrap()));
        assert!(!c.contains("10.0.4.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.0.3.9".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6: Cidr = "fd00::/64".parse().unwrap();
        assert!(v6.contains("fd00::1".parse().unwrap()));
        assert!(!v6.contains("fd01::1".parse().unwrap()));
        assert!(!v6.contains("10.0.3.9".parse().unwrap()));
        let host: Cidr = "127.0.0.3".parse().unwrap();
        assert_eq!(host.prefix(), 32);
        assert!(host.contains("127.0.0.3".parse().unwrap()));
        assert_eq!(host.to_string(), "127.0.0.3/32");
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["10.0.0.0/33", "10.0.0/24", "fd00::/129", "host/24", ""] {
            assert!(
                matches!(bad.parse::<Cidr>(), Err(CidrError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn host_bits_are_an_error_that_names_the_network() {
        let e = "10.0.3.5/24".parse::<Cidr>().unwrap_err();
        assert_eq!(e.truncated(), Some("10.0.3.0/24".parse().unwrap()));
        let text = e.to_string();
        assert!(
            text.contains("did you mean the network `10.0.3.0/24`"),
            "{text}"
        );
        assert!(text.contains("`10.0.3.5`"), "{text}");
        let e = "fd00::1/64".parse::<Cidr>().unwrap_err();
        assert_eq!(e.truncated(), Some("fd00::/64".parse().unwrap()));
    }

    #[test]
    fn ipv4_mask_for_pac() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert_eq!(
            c.ipv4_network_and_mask(),
            Some((Ipv4Addr::new(10, 0, 0, 0), Ipv4Addr::new(255, 0, 0, 0)))
        );
        let v6: Cidr = "fd00::/64".parse().unwrap();
        assert_eq!(v6.ipv4_network_and_mask(), None);
    }

    #[test]
    fn the_default_reserve_is_half_the_total_split_evenly() {
        assert_eq!(fair_reserve(8192, 4), 1024);
        assert_eq!(fair_reserve(4, 2), 1);
        assert_eq!(fair_reserve(10, 0), 0);
        assert_eq!(fair_reserve(3, 4), 0);
    }
}

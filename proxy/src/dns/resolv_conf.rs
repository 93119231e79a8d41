//! The system's resolvers, from `/etc/resolv.conf`: the default upstreams when `[dns] upstreams`
//! is not set. A gateway often lists itself there (`nameserver 127.0.0.1` with Lychgate on port
//! 53): such entries would send questions round in a loop, so they are left out, and said so.

use std::net::{IpAddr, SocketAddr};

/// The `nameserver` lines of a resolv.conf text, port 53. Scoped IPv6 addresses (`fe80::1%eth0`)
/// lose their scope: a link-local upstream is not something a gateway should use.
pub fn nameservers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next()?.trim();
            let mut words = line.split_whitespace();
            if words.next()? != "nameserver" {
                return None;
            }
            let addr = words.next()?;
            let addr = addr.split('%').next()?;
            addr.parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .collect()
}

/// Whether sending to `upstream` would reach one of Lychgate's own DNS listeners.
pub fn is_own_listener(upstream: SocketAddr, own: &[SocketAddr]) -> bool {
    own.iter().any(|l| {
        l.port() == upstream.port()
            && (l.ip() == upstream.ip()
                || (l.ip().is_unspecified()
                    && (upstream.ip().is_loopback() || upstream.ip().is_unspecified())))
    })
}

/// The upstreams to use from a resolv.conf text, without Lychgate's own listeners; the second
/// list holds those left out.
pub fn upstreams_from(text: &str, own: &[SocketAddr]) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
    nameservers(text)
        .into_iter()
        .partition(|a| !is_own_listener(*a, own))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_lines_are_read_and_the_rest_ignored() {
        let text = "# generated\nsearch school.internal\nnameserver 10.0.0.2\nnameserver  fe80::1%eth0 # router\n; comment\nnameserver ::1\nnameserver bogus\noptions edns0\n";
        assert_eq!(
            nameservers(text),
            vec![
                "10.0.0.2:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
    }

    #[test]
    fn a_gateway_pointing_at_itself_is_not_its_own_upstream() {
        let own: Vec<SocketAddr> = vec![
            "0.0.0.0:53".parse().unwrap(),
            "10.0.0.1:53".parse().unwrap(),
        ];
        let (use_, loops) = upstreams_from(
            "nameserver 127.0.0.1\nnameserver 10.0.0.1\nnameserver 10.0.0.2\n",
            &own,
        );
        assert_eq!(use_, vec!["10.0.0.2:53".parse::<SocketAddr>().unwrap()]);
        assert_eq!(loops.len(), 2);
        // On another port there is no loop (Lychgate on 5300 in the default config).
        let own: Vec<SocketAddr> = vec!["127.0.0.1:5300".parse().unwrap()];
        let (use_, loops) = upstreams_from("nameserver 127.0.0.1\n", &own);
        assert_eq!(use_.len(), 1);
        assert!(loops.is_empty());
    }
}

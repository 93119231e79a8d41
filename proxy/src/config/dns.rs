//! The `[dns]` section: how the filtering DNS server answers (upstreams, the blocked answer,
//! TTL caps, rebinding, cache and client limits), read (stage one: [`RawDns`]) and checked into
//! [`DnsSettings`] (stage two). `docs/dns.md` documents every key.

use super::reader::{Fields, Located, Source};
use super::serving::{number, seconds};
use lychgate_classifier::host::{Host, normalize_host};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// `[dns]` as written.
#[derive(Debug, Default)]
pub struct RawDns {
    /// Upstream resolvers.
    pub upstreams: Option<Vec<Located<String>>>,
    /// Extra CA certificates for DNS-over-TLS upstreams.
    pub upstream_ca_file: Option<Located<String>>,
    /// Milliseconds per upstream attempt.
    pub upstream_timeout_ms: Option<Located<i64>>,
    /// `nxdomain` or `block-page`.
    pub blocked_answer: Option<Located<String>>,
    /// Where the block page is served.
    pub block_address: Option<Vec<Located<String>>>,
    /// TTL of block answers.
    pub blocked_ttl_seconds: Option<Located<i64>>,
    /// TTL cap for names in time-windowed categories.
    pub window_ttl_seconds: Option<Located<i64>>,
    /// `block` or `allow`.
    pub rebinding: Option<Located<String>>,
    /// Zones whose private addresses are expected.
    pub internal_domains: Option<Vec<Located<String>>>,
    /// Answers kept.
    pub cache_entries: Option<Located<i64>>,
    /// Longest time an answer is kept.
    pub max_cache_ttl_seconds: Option<Located<i64>>,
    /// Longest time a negative answer is kept.
    pub max_negative_ttl_seconds: Option<Located<i64>>,
    /// Largest UDP answer.
    pub max_udp_payload: Option<Located<i64>>,
    /// Questions per second per client.
    pub max_qps_per_client: Option<Located<i64>>,
    /// TCP connections in total.
    pub max_tcp_connections: Option<Located<i64>>,
    /// TCP connections per client.
    pub max_tcp_connections_per_client: Option<Located<i64>>,
    /// Seconds an idle TCP connection is kept.
    pub tcp_idle_timeout_seconds: Option<Located<i64>>,
    /// `SO_REUSEPORT` sockets per address.
    pub udp_sockets: Option<Located<i64>>,
}

/// Stage one: reads `[dns]` from the top-level table.
pub fn read(src: &mut Source<'_>, top: &mut Fields<'_, '_>) -> RawDns {
    let Some(mut t) = top.table(src, "dns") else {
        return RawDns::default();
    };
    let raw = RawDns {
        upstreams: t.strings(src, "upstreams"),
        upstream_ca_file: t.string(src, "upstream_ca_file"),
        upstream_timeout_ms: t.integer(src, "upstream_timeout_ms"),
        blocked_answer: t.string(src, "blocked_answer"),
        block_address: t.strings(src, "block_address"),
        blocked_ttl_seconds: t.integer(src, "blocked_ttl_seconds"),
        window_ttl_seconds: t.integer(src, "window_ttl_seconds"),
        rebinding: t.string(src, "rebinding"),
        internal_domains: t.strings(src, "internal_domains"),
        cache_entries: t.integer(src, "cache_entries"),
        max_cache_ttl_seconds: t.integer(src, "max_cache_ttl_seconds"),
        max_negative_ttl_seconds: t.integer(src, "max_negative_ttl_seconds"),
        max_udp_payload: t.integer(src, "max_udp_payload"),
        max_qps_per_client: t.integer(src, "max_qps_per_client"),
        max_tcp_connections: t.integer(src, "max_tcp_connections"),
        max_tcp_connections_per_client: t.integer(src, "max_tcp_connections_per_client"),
        tcp_idle_timeout_seconds: t.integer(src, "tcp_idle_timeout_seconds"),
        udp_sockets: t.integer(src, "udp_sockets"),
    };
    t.finish(src);
    raw
}

/// What a blocked name is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockedAnswer {
    /// `NXDOMAIN` for every type.
    Nxdomain,
    /// `A`/`AAAA` of the address where the block page is served; other types `NODATA`.
    BlockPage {
        /// The IPv4 block address.
        v4: Option<Ipv4Addr>,
        /// The IPv6 block address.
        v6: Option<Ipv6Addr>,
    },
}

/// Where allowed questions go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamSpec {
    /// Plain DNS: UDP, with TCP when an answer is truncated.
    Plain(SocketAddr),
    /// DNS over TLS (RFC 7858): one kept-alive connection, questions pipelined.
    Tls {
        /// Address and port (853 unless given).
        addr: SocketAddr,
        /// The name the server's certificate must carry (its address when not given).
        server_name: Option<String>,
    },
}

impl std::fmt::Display for UpstreamSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamSpec::Plain(a) => write!(f, "{a}"),
            UpstreamSpec::Tls {
                addr,
                server_name: Some(n),
            } => write!(f, "tls://{addr}#{n}"),
            UpstreamSpec::Tls {
                addr,
                server_name: None,
            } => write!(f, "tls://{addr}"),
        }
    }
}

/// How the filtering DNS server answers.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// Configured upstreams; `None` means the system's (`/etc/resolv.conf`).
    pub upstreams: Option<Vec<UpstreamSpec>>,
    /// A PEM file of CA certificates trusted for DNS-over-TLS upstreams besides the system's.
    pub upstream_ca_file: Option<std::path::PathBuf>,
    /// Time allowed per upstream attempt.
    pub upstream_timeout: Duration,
    /// The blocked answer.
    pub blocked_answer: BlockedAnswer,
    /// TTL of block answers, seconds.
    pub blocked_ttl: u32,
    /// TTL cap for names in a category some time window of the group covers, seconds.
    pub window_ttl: u32,
    /// Refuse private addresses in answers for public names.
    pub block_rebinding: bool,
    /// Zones whose private addresses are expected (normalised, no trailing dot).
    pub internal_domains: Vec<String>,
    /// Upstream answers kept (0: no cache).
    pub cache_entries: usize,
    /// Longest time an answer is kept, seconds.
    pub max_cache_ttl: u32,
    /// Longest time a negative answer is kept, seconds.
    pub max_negative_ttl: u32,
    /// Largest UDP answer sent, bytes.
    pub max_udp_payload: u16,
    /// Questions per second per client address.
    pub max_qps_per_client: u32,
    /// TCP connections in total.
    pub max_tcp_connections: usize,
    /// TCP connections per client address.
    pub max_tcp_connections_per_client: usize,
    /// Time an idle TCP connection is kept.
    pub tcp_idle_timeout: Duration,
    /// UDP sockets per address (`SO_REUSEPORT`); 0 = one per CPU.
    pub udp_sockets: usize,
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings {
            upstreams: None,
            upstream_ca_file: None,
            upstream_timeout: Duration::from_millis(2000),
            blocked_answer: BlockedAnswer::Nxdomain,
            blocked_ttl: 60,
            window_ttl: 60,
            block_rebinding: true,
            internal_domains: Vec::new(),
            cache_entries: 10_000,
            max_cache_ttl: 86_400,
            max_negative_ttl: 3600,
            max_udp_payload: 1232,
            max_qps_per_client: 1000,
            max_tcp_connections: 1024,
            max_tcp_connections_per_client: 32,
            tcp_idle_timeout: Duration::from_secs(10),
            udp_sockets: 0,
        }
    }
}

/// Stage two: checks `[dns]`. `base_dir` is the config file's folder (relative CA paths).
pub fn validate(src: &mut Source<'_>, raw: &RawDns, base_dir: &std::path::Path) -> DnsSettings {
    let d = DnsSettings::default();
    let upstreams = raw.upstreams.as_ref().map(|list| {
        if list.is_empty() {
            src.error(
                0,
                "dns.upstreams",
                "is empty",
                Some("leave it out to use /etc/resolv.conf, or list e.g. [\"10.0.0.2:53\"]"),
            );
        }
        list.iter()
            .filter_map(|u| upstream(src, u))
            .collect::<Vec<_>>()
    });
    let blocked_answer = blocked_answer(src, raw);
    let block_rebinding = match &raw.rebinding {
        None => d.block_rebinding,
        Some(v) => match v.value.as_str() {
            "block" => true,
            "allow" => false,
            other => {
                src.error(
                    v.offset,
                    &v.field,
                    format!("`{other}` is not a rebinding policy"),
                    Some("write \"block\" or \"allow\""),
                );
                d.block_rebinding
            }
        },
    };
    let mut internal_domains = Vec::new();
    for v in raw.internal_domains.iter().flatten() {
        match normalize_host(&v.value) {
            Ok(Host::Name(n)) => internal_domains.push(n),
            _ => src.error(
                v.offset,
                &v.field,
                format!("`{}` is not a domain name", v.value),
                None,
            ),
        }
    }
    let upstream_ca_file = raw.upstream_ca_file.as_ref().map(|v| {
        let path = base_dir.join(&v.value);
        if !path.is_file() {
            src.error(
                v.offset,
                &v.field,
                format!("`{}` is not a readable file", path.display()),
                Some("a PEM file of CA certificates for DNS-over-TLS upstreams"),
            );
        }
        path
    });
    DnsSettings {
        upstreams,
        upstream_ca_file,
        upstream_timeout: Duration::from_millis(number(
            raw.upstream_timeout_ms.as_ref(),
            u64::try_from(d.upstream_timeout.as_millis()).unwrap_or(u64::MAX),
        )),
        blocked_answer,
        blocked_ttl: number(raw.blocked_ttl_seconds.as_ref(), d.blocked_ttl),
        window_ttl: number(raw.window_ttl_seconds.as_ref(), d.window_ttl),
        block_rebinding,
        internal_domains,
        cache_entries: number(raw.cache_entries.as_ref(), d.cache_entries),
        max_cache_ttl: number(raw.max_cache_ttl_seconds.as_ref(), d.max_cache_ttl),
        max_negative_ttl: number(raw.max_negative_ttl_seconds.as_ref(), d.max_negative_ttl),
        max_udp_payload: number(raw.max_udp_payload.as_ref(), d.max_udp_payload),
        max_qps_per_client: number(raw.max_qps_per_client.as_ref(), d.max_qps_per_client),
        max_tcp_connections: number(raw.max_tcp_connections.as_ref(), d.max_tcp_connections),
        max_tcp_connections_per_client: number(
            raw.max_tcp_connections_per_client.as_ref(),
            d.max_tcp_connections_per_client,
        ),
        tcp_idle_timeout: seconds(raw.tcp_idle_timeout_seconds.as_ref(), d.tcp_idle_timeout),
        udp_sockets: number(raw.udp_sockets.as_ref(), d.udp_sockets),
    }
}

fn upstream(src: &mut Source<'_>, v: &Located<String>) -> Option<UpstreamSpec> {
    let text = v.value.trim();
    if let Some(rest) = text.strip_prefix("tls://") {
        let (addr, name) = match rest.split_once('#') {
            Some((a, n)) => (a, Some(n)),
            None => (rest, None),
        };
        let addr = addr.parse::<SocketAddr>().ok().or_else(|| {
            addr.parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 853))
        });
        let name_ok = name.is_none_or(|n| {
            matches!(normalize_host(n), Ok(Host::Name(_)))
                && rustls_pki_types::ServerName::try_from(n).is_ok()
        });
        if let (Some(addr), true) = (addr, name_ok) {
            return Some(UpstreamSpec::Tls {
                addr,
                server_name: name.map(str::to_string),
            });
        }
        src.error(
            v.offset,
            &v.field,
            format!("`{text}` is not a DNS-over-TLS upstream"),
            Some("write tls://ADDRESS[:PORT][#CERTIFICATE-NAME], e.g. \"tls://9.9.9.9#dns.quad9.net\" (port 853 unless given)"),
        );
        return None;
    }
    if text.starts_with("https://") {
        src.error(
            v.offset,
            &v.field,
            format!("`{text}`: DNS-over-HTTPS upstreams are not supported"),
            Some("use DNS over TLS, e.g. \"tls://9.9.9.9#dns.quad9.net\", or a plain resolver"),
        );
        return None;
    }
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Some(UpstreamSpec::Plain(a));
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(UpstreamSpec::Plain(SocketAddr::new(ip, 53)));
    }
    src.error(
        v.offset,
        &v.field,
        format!("`{text}` is not an upstream address"),
        Some("write an address, with a port if not 53: \"10.0.0.2\", \"127.0.0.1:5353\", \"[2001:db8::53]:53\""),
    );
    None
}

fn blocked_answer(src: &mut Source<'_>, raw: &RawDns) -> BlockedAnswer {
    let mut v4 = None;
    let mut v6 = None;
    for a in raw.block_address.iter().flatten() {
        match a.value.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) if v4.is_none() => v4 = Some(ip),
            Ok(IpAddr::V6(ip)) if v6.is_none() => v6 = Some(ip),
            Ok(_) => src.error(
                a.offset,
                &a.field,
                format!("`{}`: give at most one IPv4 and one IPv6 address", a.value),
                None,
            ),
            Err(_) => src.error(
                a.offset,
                &a.field,
                format!("`{}` is not an IP address", a.value),
                None,
            ),
        }
    }
    let Some(mode) = &raw.blocked_answer else {
        return BlockedAnswer::Nxdomain;
    };
    match mode.value.as_str() {
        "nxdomain" => BlockedAnswer::Nxdomain,
        "block-page" => {
            if v4.is_none() && v6.is_none() && raw.block_address.is_none() {
                src.error(
                    mode.offset,
                    &mode.field,
                    "\"block-page\" needs `block_address`",
                    Some("add e.g. block_address = [\"10.0.0.1\"]: the gateway's LAN address, where port 80 shows the block page"),
                );
            }
            BlockedAnswer::BlockPage { v4, v6 }
        }
        other => {
            src.error(
                mode.offset,
                &mode.field,
                format!("`{other}` is not a blocked answer"),
                Some("write \"nxdomain\" or \"block-page\""),
            );
            BlockedAnswer::Nxdomain
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::reader::Fields;
    use std::path::Path;
    use toml::de::DeTable;

    fn check(text: &str) -> (DnsSettings, Vec<String>) {
        let mut src = Source::new(Path::new("test.toml"), text);
        let (doc, _) = DeTable::parse_recoverable(text);
        let mut top = Fields::new(doc.get_ref(), "", 0, &crate::config::schema::TOP);
        let raw = read(&mut src, &mut top);
        let settings = validate(&mut src, &raw, Path::new("."));
        let errors = src.errors.0.iter().map(|e| e.to_string()).collect();
        (settings, errors)
    }

    #[test]
    fn defaults_without_a_section() {
        let (s, errors) = check("");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(s.blocked_answer, BlockedAnswer::Nxdomain);
        assert!(s.upstreams.is_none());
        assert!(s.block_rebinding);
    }

    #[test]
    fn upstreams_and_block_page() {
        let (s, errors) = check(
            "[dns]\nupstreams = [\"127.0.0.1:5353\", \"10.0.0.2\", \"tls://9.9.9.9#dns.quad9.net\", \"tls://[2001:db8::53]:8853\"]\nblocked_answer = \"block-page\"\nblock_address = [\"10.0.0.1\", \"fd00::1\"]\ninternal_domains = [\"School.Internal.\"]\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            s.upstreams.unwrap(),
            vec![
                UpstreamSpec::Plain("127.0.0.1:5353".parse().unwrap()),
                UpstreamSpec::Plain("10.0.0.2:53".parse().unwrap()),
                UpstreamSpec::Tls {
                    addr: "9.9.9.9:853".parse().unwrap(),
                    server_name: Some("dns.quad9.net".into())
                },
                UpstreamSpec::Tls {
                    addr: "[2001:db8::53]:8853".parse().unwrap(),
                    server_name: None
                },
            ]
        );
        assert_eq!(
            s.blocked_answer,
            BlockedAnswer::BlockPage {
                v4: Some(Ipv4Addr::new(10, 0, 0, 1)),
                v6: Some("fd00::1".parse().unwrap())
            }
        );
        assert_eq!(s.internal_domains, vec!["school.internal".to_string()]);
    }

    #[test]
    fn every_mistake_is_reported_with_its_line() {
        let (_, errors) = check(
            "[dns]\nupstreams = [\"nonsense\", \"https://dns.google/dns-query\", \"tls://nowhere#x\"]\nblocked_answer = \"block-page\"\nrebinding = \"maybe\"\nmax_udp_payload = 100\ncolour = \"red\"\n",
        );
        let all = errors.join("\n");
        assert!(
            all.contains("test.toml:2") && all.contains("nonsense"),
            "{all}"
        );
        assert!(
            all.contains("DNS-over-HTTPS upstreams are not supported"),
            "{all}"
        );
        assert!(
            all.contains("`tls://nowhere#x` is not a DNS-over-TLS upstream"),
            "{all}"
        );
        assert!(all.contains("needs `block_address`"), "{all}");
        assert!(
            all.contains("test.toml:4") && all.contains("maybe"),
            "{all}"
        );
        assert!(
            all.contains("test.toml:5") && all.contains("out of range"),
            "{all}"
        );
        assert!(all.contains("colour"), "{all}");
    }
}

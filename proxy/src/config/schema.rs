//! The declaration of every config key, one table per section, in the order
//! `docs/configuration.md` lists them. Reading, range checks, unknown-key hints, the docs tables
//! and the key-by-key view all come from here: a new key is one entry (and the line that reads
//! it into its raw struct). See [`super::keys`] for what each field means.

use super::keys::{Absent, Key, Section, Value};

/// ``.
pub(crate) static TOP: Section = Section {
    name: "",
    keys: &[
        Key {
            name: "timezone",
            value: Value::Str,
            absent: Absent::Is("\"Europe/London\""),
            shown_type: "string",
            doc: "IANA zone for time windows; daylight saving is followed, so a gateway clock on UTC does not shift lessons",
            ..Key::BASE
        },
        Key {
            name: "default_group",
            value: Value::Str,
            absent: Absent::Required(
                "name the group that unknown clients get, at least as strict as every pupil group",
            ),
            shown_type: "string",
            doc: "group of clients that match no network and have not signed in; `check-config` warns when it is less strict than any pupil group (an `allow_list_only` group blocks every category it does not allow)",
            ..Key::BASE
        },
        Key {
            name: "state_dir",
            value: Value::Str,
            absent: Absent::Is("\"var/lib\""),
            shown_type: "path",
            doc: "where Lychgate keeps what it records besides the request log: today the staff review requests (`<state_dir>/review-requests.jsonl`, see `docs/block-page.md`). Created 0750. A gateway uses `/var/lib/lychgate`",
            ..Key::BASE
        },
        Key {
            name: "listen",
            value: Value::Table(&LISTEN),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "list",
            value: Value::Tables(&LIST),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "phrases",
            value: Value::Table(&PHRASES),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "category",
            value: Value::Tables(&CATEGORY),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "network",
            value: Value::Tables(&NETWORK),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "groups",
            value: Value::Map(&GROUP),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "proxy",
            value: Value::Table(&PROXY),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "static_host",
            value: Value::Tables(&STATIC_HOST),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "log",
            value: Value::Table(&LOG),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "identity",
            value: Value::Table(&IDENTITY),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "block_page",
            value: Value::Table(&BLOCK_PAGE),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "dns",
            value: Value::Table(&DNS),
            absent: Absent::Nothing,
            ..Key::BASE
        },
    ],
};

/// `listen`.
pub(crate) static LISTEN: Section = Section {
    name: "listen",
    keys: &[
        Key {
            name: "proxy",
            value: Value::Str,
            absent: Absent::Is("\"127.0.0.1:3128\""),
            doc: "explicit web proxy",
            ..Key::BASE
        },
        Key {
            name: "dns",
            value: Value::OneOrMoreStrs,
            absent: Absent::Is("[\"127.0.0.1:5300\"]"),
            doc: "filtering DNS server, UDP and TCP (5300 runs without root and is not mDNS's 5353; a gateway uses 53). One address or a list: `dns = [\"10.0.0.1:53\", \"[fd00:1::1]:53\"]`",
            ..Key::BASE
        },
        Key {
            name: "admin",
            value: Value::Str,
            absent: Absent::Is("\"127.0.0.1:9090\""),
            doc: "metrics (`/metrics`), health (`/healthz`, `/readyz`) and the identity map (`POST /identity`); keep it on loopback or a management network",
            ..Key::BASE
        },
        Key {
            name: "transparent_http",
            value: Value::Str,
            absent: Absent::Means("none (the default config: `127.0.0.1:3129`)"),
            doc: "transparent port-80 listener: the gateway's nftables rules redirect the LAN's port 80 here; also serves `/wpad.dat` for DNS-based WPAD",
            ..Key::BASE
        },
        Key {
            name: "transparent_https",
            value: Value::Str,
            absent: Absent::Means("none (the default config: `127.0.0.1:3130`)"),
            doc: "transparent port-443 listener: reads the TLS ClientHello's server name (SNI), decides, then passes the bytes through without decrypting",
            ..Key::BASE
        },
    ],
};

/// `list`.
pub(crate) static LIST: Section = Section {
    name: "list",
    keys: &[
        Key {
            name: "category",
            value: Value::Str,
            absent: Absent::Required("name the category the list's entries belong to"),
            doc: "the category the entries belong to (canonical names in `blocklists/README.md`, or a `[[category]]` of your own)",
            ..Key::BASE
        },
        Key {
            name: "path",
            value: Value::Str,
            absent: Absent::Required("`builtin:<category>` or a path relative to this file"),
            doc: "`builtin:<category>` for the list shipped with Lychgate, or a path relative to this file's folder (a folder for `squidguard`)",
            ..Key::BASE
        },
        Key {
            name: "format",
            value: Value::Str,
            absent: Absent::Is("\"native\""),
            limits: "`native`, `plain`, `hosts`, `adblock`, `squidguard`",
            doc: "`native` (default), `plain`, `hosts`, `adblock`, `squidguard` — see `docs/lists.md`",
            ..Key::BASE
        },
        Key {
            name: "name",
            value: Value::Str,
            absent: Absent::Means("its `path`"),
            doc: "optional name shown by `check-config` and `explain` (the illegal list is only ever shown by this name)",
            ..Key::BASE
        },
    ],
};

/// `phrases`.
pub(crate) static PHRASES: Section = Section {
    name: "phrases",
    keys: &[Key {
        name: "lists",
        value: Value::Strs,
        absent: Absent::Is("[]"),
        doc: "phrase lists: `builtin:phrases` (all shipped), `builtin:phrases/<theme>`, or paths (native or e2guardian format — `docs/phrases.md`)",
        ..Key::BASE
    }],
};

/// `category`.
pub(crate) static CATEGORY: Section = Section {
    name: "category",
    keys: &[
        Key {
            name: "name",
            value: Value::Str,
            absent: Absent::Required("a lower-case name such as `homework-cheats`"),
            doc: "lower-case letters, digits, `-`, `_`",
            ..Key::BASE
        },
        Key {
            name: "sensitive",
            value: Value::Bool,
            absent: Absent::Is("false"),
            doc: "`true` if a child's block page must not name it (default `false`)",
            ..Key::BASE
        },
    ],
};

/// `network`.
pub(crate) static NETWORK: Section = Section {
    name: "network",
    keys: &[
        Key {
            name: "cidr",
            value: Value::Str,
            absent: Absent::Required("an address block such as `10.0.3.0/24`"),
            doc: "`10.0.3.0/24`, `192.168.1.20` (one address) or `fd00::/64`. The address must be the network's own: `10.0.3.5/24` is an error (\"host bits set: did you mean the network `10.0.3.0/24`, or the one address `10.0.3.5`?\"), since it could mean either",
            ..Key::BASE
        },
        Key {
            name: "group",
            value: Value::Str,
            absent: Absent::Means("`default_group`"),
            doc: "the group of clients in it",
            ..Key::BASE
        },
        Key {
            name: "name",
            value: Value::Str,
            absent: Absent::Nothing,
            doc: "description",
            ..Key::BASE
        },
        Key {
            name: "reserved_connections",
            value: Value::Int {
                min: 0,
                max: 1 << 20,
            },
            absent: Absent::Means("an even share of half of `[proxy] max_connections`"),
            doc: "proxy connections kept for this network's clients alone (see *Connection reserves* below)",
            ..Key::BASE
        },
        Key {
            name: "auth",
            value: Value::Str,
            absent: Absent::Is("\"optional\""),
            limits: "`optional`, `required`",
            doc: "`optional` (default) or `required`: whether clients here must sign in to the explicit proxy (`Proxy-Authorization: Basic`, checked against `[identity] users_file`). `required` answers 407 until they do; use it where devices are shared and only a login says who is browsing (KS2 laptops). With `optional` a login is used when the browser sends one, and the address decides otherwise",
            ..Key::BASE
        },
    ],
};

/// `groups.NAME`.
pub(crate) static GROUP: Section = Section {
    name: "groups.NAME",
    keys: &[
        Key {
            name: "kind",
            value: Value::Str,
            absent: Absent::Required("staff, pupil or guest"),
            limits: "`staff`, `pupil`, `guest`",
            doc: "`staff`, `pupil` or `guest` (the block page's wording and the defaults of `fail_closed`, `no_sni` and `non_tls_tunnel` depend on it)",
            ..Key::BASE
        },
        Key {
            name: "account_type",
            value: Value::Str,
            absent: Absent::Means("`individual` (`none` for guests)"),
            limits: "`individual`, `shared`, `weak`, `none`",
            doc: "how surely a login identifies one person: `individual`, `shared` (a class login), `weak` (Year 1's animal passwords), `none` (network only). Logged with every request; never presented as certain",
            ..Key::BASE
        },
        Key {
            name: "block",
            value: Value::Strs,
            absent: Absent::Is("[]"),
            doc: "categories blocked (`illegal` always is)",
            ..Key::BASE
        },
        Key {
            name: "allow",
            value: Value::Strs,
            absent: Absent::Is("[]"),
            doc: "categories allowed; only matters with `allow_list_only`",
            ..Key::BASE
        },
        Key {
            name: "allow_list_only",
            value: Value::Bool,
            absent: Absent::Is("false"),
            doc: "only essential services, `allow` categories, allowing windows and allow overrides pass (Reception)",
            ..Key::BASE
        },
        Key {
            name: "ip_literal",
            value: Value::Str,
            absent: Absent::Means("`block` (`allow` for staff)"),
            limits: "`allow`, `block`",
            doc: "URLs whose host is a bare IP address, in any notation",
            ..Key::BASE
        },
        Key {
            name: "look_alikes",
            value: Value::Str,
            absent: Absent::Means("`block` (`allow` for staff)"),
            limits: "`allow`, `block`",
            doc: "addresses that imitate a listed site with look-alike letters from another script",
            ..Key::BASE
        },
        Key {
            name: "safe_search",
            value: Value::Bool,
            absent: Absent::Means("`true` (`false` for staff)"),
            doc: "enforce SafeSearch (applied by the proxy and DNS filter)",
            ..Key::BASE
        },
        Key {
            name: "youtube",
            value: Value::Str,
            absent: Absent::Is("\"off\""),
            limits: "`off`, `moderate`, `strict`",
            doc: "`off`, `moderate` or `strict` restricted mode",
            ..Key::BASE
        },
        Key {
            name: "phrase_threshold",
            value: Value::Int {
                min: 1,
                max: 100_000,
            },
            absent: Absent::Is("100"),
            doc: "phrase score at which a request counts as in a phrase's category (e2guardian uses 50 for young children, 100 older, 160 adults)",
            ..Key::BASE
        },
        Key {
            name: "fail_closed",
            value: Value::Bool,
            absent: Absent::Means("`true` (`false` for staff)"),
            doc: "what happens while the request log cannot be written (disk full, read-only, I/O errors): `true` refuses requests with a 503 page and closes open tunnels; `false` serves them, each flagged `fail_open` in the log once it can be written again",
            ..Key::BASE
        },
        Key {
            name: "no_sni",
            value: Value::Str,
            absent: Absent::Means("`block` (`allow` for staff)"),
            limits: "`allow`, `block`",
            doc: "TLS connections whose ClientHello names no server (SNI): `allow` lets the rest of the policy decide (on the destination address in transparent mode, on the CONNECT host otherwise), `block` refuses them all",
            ..Key::BASE
        },
        Key {
            name: "non_tls_tunnel",
            value: Value::Str,
            absent: Absent::Means("`block` (`allow` for staff)"),
            limits: "`allow`, `block`",
            doc: "a CONNECT tunnel whose first bytes are not a TLS ClientHello (SSH, VPNs, tunnelling tools over port 443): `allow` passes it, `block` closes it. Transparent port 443 always refuses non-TLS bytes",
            ..Key::BASE
        },
        Key {
            name: "window",
            value: Value::Tables(&WINDOW),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "override",
            value: Value::Tables(&OVERRIDE),
            absent: Absent::Nothing,
            ..Key::BASE
        },
    ],
};

/// `groups.NAME.window`.
pub(crate) static WINDOW: Section = Section {
    name: "groups.NAME.window",
    keys: &[
        Key {
            name: "days",
            value: Value::Str,
            absent: Absent::Is("\"daily\""),
            doc: "`Mon-Fri`, `Sat,Sun`, `Fri-Mon`, `weekdays`, `weekends`, `daily` (default)",
            ..Key::BASE
        },
        Key {
            name: "time",
            value: Value::Str,
            absent: Absent::Required("write `HH:MM-HH:MM`, e.g. `12:00-13:00`"),
            doc: "`HH:MM-HH:MM`: start inclusive, end exclusive; `22:00-06:00` runs overnight into the next day; `24:00` is midnight at the end",
            ..Key::BASE
        },
        Key {
            name: "allow",
            value: Value::Strs,
            absent: Absent::Is("[]"),
            doc: "the categories the window allows while open (a window has `allow` or `block`, not both)",
            ..Key::BASE
        },
        Key {
            name: "block",
            value: Value::Strs,
            absent: Absent::Is("[]"),
            doc: "the categories the window blocks while open; a blocking window beats an allowing one",
            ..Key::BASE
        },
    ],
};

/// `groups.NAME.override`.
pub(crate) static OVERRIDE: Section = Section {
    name: "groups.NAME.override",
    keys: &[
        Key {
            name: "action",
            value: Value::Str,
            absent: Absent::Required("`allow` or `block`"),
            limits: "`allow`, `block`",
            doc: "`allow` or `block`",
            ..Key::BASE
        },
        Key {
            name: "host",
            value: Value::Str,
            absent: Absent::Nothing,
            doc: "`example.com` (with subdomains) or `=www.example.com` (that name only)",
            ..Key::BASE
        },
        Key {
            name: "url",
            value: Value::Str,
            absent: Absent::Nothing,
            doc: "`example.com/path` — that part of the site (path-segment boundary)",
            ..Key::BASE
        },
        Key {
            name: "reason",
            value: Value::Str,
            absent: Absent::Means("required"),
            doc: "why: shown by `explain`, kept in the change-control log; an empty reason is refused",
            ..Key::BASE
        },
    ],
};

/// `proxy`.
pub(crate) static PROXY: Section = Section {
    name: "proxy",
    keys: &[
        Key {
            name: "connect_ports",
            value: Value::Ints,
            absent: Absent::Is("[443]"),
            shown_type: "list of ports",
            limits: "1–65535, at least one",
            doc: "ports a `CONNECT` may reach, like squid's `SSL_ports`. Anything else is refused with 403 and the flag `port_not_allowed`: without this a browser-proxy could tunnel SSH, SMTP or a VPN anywhere. Add 8443 and the like only for a service the school uses",
            ..Key::BASE
        },
        Key {
            name: "via",
            value: Value::Str,
            absent: Absent::Is("\"lychgate\""),
            shown_type: "string",
            limits: "letters, digits, `-`, `.`, `_`",
            doc: "the name Lychgate adds to the `Via` header of forwarded requests and responses; a request that already carries it has looped back into the proxy and is refused with 400 (flag `via_loop`). Give each Lychgate a different name when two are chained (e.g. a trust-wide one behind a school one)",
            ..Key::BASE
        },
        Key {
            name: "service_host",
            value: Value::Str,
            absent: Absent::Is("\"lychgate.internal\""),
            shown_type: "host name",
            limits: "a host name",
            doc: "requests to this name are answered by Lychgate itself (the review form, the PAC file) and never forwarded. If you change it, change `[block_page] pages_url` to match, or the staff review form posts somewhere else",
            ..Key::BASE
        },
        Key {
            name: "header_timeout_seconds",
            value: Value::Int { min: 1, max: 3600 },
            absent: Absent::Is("10"),
            shown_type: "integer",
            limits: "1–3600",
            doc: "time a client has to send a complete request head; also how long an idle keep-alive connection is kept. Guards against slowloris (a few clients holding every connection by sending headers a byte at a time)",
            ..Key::BASE
        },
        Key {
            name: "connect_timeout_seconds",
            value: Value::Int { min: 1, max: 600 },
            absent: Absent::Is("10"),
            shown_type: "integer",
            limits: "1–600",
            doc: "time to connect to an origin before the 502 page",
            ..Key::BASE
        },
        Key {
            name: "response_timeout_seconds",
            value: Value::Int { min: 1, max: 3600 },
            absent: Absent::Is("60"),
            shown_type: "integer",
            limits: "1–3600",
            doc: "time for an origin to send its response head before the 504 page (the body may then take as long as it takes)",
            ..Key::BASE
        },
        Key {
            name: "tunnel_idle_timeout_seconds",
            value: Value::Int {
                min: 1,
                max: 86_400,
            },
            absent: Absent::Is("600"),
            shown_type: "integer",
            limits: "1–86400",
            doc: "a tunnel (CONNECT or transparent 443) that carries no byte either way for this long is closed (flag `idle_timeout`); frees connections that phones and tablets leave open",
            ..Key::BASE
        },
        Key {
            name: "hello_timeout_seconds",
            value: Value::Int { min: 1, max: 600 },
            absent: Absent::Is("10"),
            shown_type: "integer",
            limits: "1–600",
            doc: "time a client has to send its TLS ClientHello on a tunnel before the connection is closed (flag `bad_hello`)",
            ..Key::BASE
        },
        Key {
            name: "max_header_bytes",
            value: Value::Int {
                min: 8192,
                max: 1 << 20,
            },
            absent: Absent::Is("65536"),
            shown_type: "integer",
            limits: "8192–1048576",
            doc: "largest request head accepted, counted exactly: request line, header fields and the blank line (431 and flag `header_too_large` beyond it). A head may also carry at most 100 header fields (a fixed limit; 431 beyond it)",
            ..Key::BASE
        },
        Key {
            name: "max_connections",
            value: Value::Int {
                min: 1,
                max: 1 << 20,
            },
            absent: Absent::Is("8192"),
            shown_type: "integer",
            limits: "1–1048576",
            doc: "client connections open at once, in total, split into each `[[network]]`'s reserve and a shared part (see *Connection reserves*); more are closed at once and counted in `lychgate_refused_connections_total`",
            ..Key::BASE
        },
        Key {
            name: "max_connections_per_client",
            value: Value::Int {
                min: 1,
                max: 1 << 20,
            },
            absent: Absent::Is("256"),
            shown_type: "integer",
            limits: "1–1048576",
            doc: "client connections open at once from one client, so one misbehaving device cannot take them all. A client is an IPv4 address or an IPv6 /64 (a device can use many addresses of its /64). A shared address (a NAT in front of Lychgate) needs a larger value",
            ..Key::BASE
        },
        Key {
            name: "pool_idle_per_host",
            value: Value::Int { min: 0, max: 4096 },
            absent: Absent::Is("64"),
            shown_type: "integer",
            limits: "0–4096",
            doc: "idle keep-alive connections to each origin kept for reuse by plain-HTTP requests (0: none, a new connection every time)",
            ..Key::BASE
        },
        Key {
            name: "pool_idle_timeout_seconds",
            value: Value::Int { min: 1, max: 3600 },
            absent: Absent::Is("60"),
            shown_type: "integer",
            limits: "1–3600",
            doc: "how long an idle origin connection is kept",
            ..Key::BASE
        },
        Key {
            name: "allowed_private_destinations",
            value: Value::Strs,
            absent: Absent::Is("[]"),
            shown_type: "list of address blocks",
            limits: "blocks inside `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, `100.64.0.0/10` or `fc00::/7`",
            doc: "private or shared ranges the proxy may fetch from for a client, e.g. `[\"10.0.5.0/24\"]` for the school's own web servers. Everything else private is refused (see [Destination policy](#destination-policy)); link-local, public and the gateway's own addresses can never be listed. A loopback block (`127.0.0.1/32`) may be listed for a lab or the side-by-side benchmarks, whose origin runs on the gateway itself: check-config and `run` warn about it, and Lychgate's own listeners stay refused",
            ..Key::BASE
        },
    ],
};

/// `static_host`.
pub(crate) static STATIC_HOST: Section = Section {
    name: "static_host",
    keys: &[
        Key {
            name: "name",
            value: Value::Str,
            absent: Absent::Required("the host name, e.g. `www.bbc.co.uk`"),
            doc: "a host name (normalised like any other: case and trailing dot do not matter); each name once",
            ..Key::BASE
        },
        Key {
            name: "addresses",
            value: Value::Strs,
            absent: Absent::Means("required"),
            doc: "one or more IP addresses, e.g. `[\"127.0.0.1\"]` or `[\"10.0.0.20\", \"fd00::20\"]`",
            ..Key::BASE
        },
    ],
};

/// `dns`.
pub(crate) static DNS: Section = Section {
    name: "dns",
    keys: &[
        Key {
            name: "upstreams",
            value: Value::Strs,
            absent: Absent::Means("the `nameserver` lines of `/etc/resolv.conf`"),
            doc: "resolvers allowed questions go to, in order: `\"10.0.0.2\"` (port 53), `\"127.0.0.1:5353\"`, `\"[2001:db8::53]:53\"`, or DNS over TLS: `\"tls://9.9.9.9#dns.quad9.net\"` (port 853 unless given; the certificate must carry the name after `#`, or the address without one). A resolv.conf entry that is Lychgate's own DNS address is left out (a loop) and reported at start. `https://` (DNS over HTTPS) is refused with a clear error",
            ..Key::BASE
        },
        Key {
            name: "upstream_ca_file",
            value: Value::Str,
            absent: Absent::Nothing,
            doc: "a PEM file of CA certificates trusted for `tls://` upstreams besides the system's (a school or trust CA); relative to the config file's folder",
            ..Key::BASE
        },
        Key {
            name: "upstream_timeout_ms",
            value: Value::Int {
                min: 100,
                max: 30_000,
            },
            absent: Absent::Is("2000"),
            doc: "time per upstream; the next one is tried after it, and SERVFAIL sent when all have failed",
            ..Key::BASE
        },
        Key {
            name: "blocked_answer",
            value: Value::Str,
            absent: Absent::Is("\"nxdomain\""),
            limits: "`nxdomain`, `block-page`",
            doc: "`\"nxdomain\"`, or `\"block-page\"`: `A`/`AAAA` of `block_address` (where port 80 shows the block page) and `NODATA` for other types",
            ..Key::BASE
        },
        Key {
            name: "block_address",
            value: Value::Strs,
            absent: Absent::Nothing,
            limits: "at most one IPv4 and one IPv6 address",
            doc: "required by `\"block-page\"`: at most one IPv4 and one IPv6 address, normally the gateway's LAN addresses",
            ..Key::BASE
        },
        Key {
            name: "blocked_ttl_seconds",
            value: Value::Int {
                min: 1,
                max: 86_400,
            },
            absent: Absent::Is("60"),
            doc: "TTL of block answers",
            ..Key::BASE
        },
        Key {
            name: "window_ttl_seconds",
            value: Value::Int {
                min: 1,
                max: 86_400,
            },
            absent: Absent::Is("60"),
            doc: "largest TTL handed out for a name in a category one of the group's time windows covers, so a window's end reaches devices promptly",
            ..Key::BASE
        },
        Key {
            name: "rebinding",
            value: Value::Str,
            absent: Absent::Is("\"block\""),
            limits: "`block`, `allow`",
            doc: "`\"block\"` refuses answers that give a public name a private, loopback or link-local address (DNS rebinding); `\"allow\"` passes them",
            ..Key::BASE
        },
        Key {
            name: "internal_domains",
            value: Value::Strs,
            absent: Absent::Is("[]"),
            doc: "the school's own zones, whose private addresses are expected (`home.arpa`, `.internal` and `[[static_host]]` names always are)",
            ..Key::BASE
        },
        Key {
            name: "cache_entries",
            value: Value::Int {
                min: 0,
                max: 10_000_000,
            },
            absent: Absent::Is("10000"),
            doc: "upstream answers kept (0 = no cache)",
            ..Key::BASE
        },
        Key {
            name: "max_cache_ttl_seconds",
            value: Value::Int {
                min: 1,
                max: 604_800,
            },
            absent: Absent::Is("86400"),
            doc: "longest time an answer is kept",
            ..Key::BASE
        },
        Key {
            name: "max_negative_ttl_seconds",
            value: Value::Int {
                min: 1,
                max: 86_400,
            },
            absent: Absent::Is("3600"),
            doc: "longest time an NXDOMAIN/NODATA answer is kept",
            ..Key::BASE
        },
        Key {
            name: "max_udp_payload",
            value: Value::Int {
                min: 512,
                max: 4096,
            },
            absent: Absent::Is("1232"),
            doc: "largest UDP answer; larger answers go truncated so the client retries over TCP",
            ..Key::BASE
        },
        Key {
            name: "max_qps_per_client",
            value: Value::Int {
                min: 1,
                max: 1_000_000,
            },
            absent: Absent::Is("1000"),
            doc: "questions per second per client (an IPv4 address or an IPv6 /64), bursts of two seconds' worth; more are not answered (counted, and summarised per client with the flag `rate_limited`). Raise it for a domain controller that forwards the whole school's questions",
            ..Key::BASE
        },
        Key {
            name: "max_tcp_connections",
            value: Value::Int {
                min: 1,
                max: 1 << 20,
            },
            absent: Absent::Is("1024"),
            doc: "open DNS-over-TCP connections in total; each network reserves `max_tcp_connections / (2 × number of networks)` of them, the rest are shared (as for the proxy's connections)",
            ..Key::BASE
        },
        Key {
            name: "max_tcp_connections_per_client",
            value: Value::Int {
                min: 1,
                max: 1 << 20,
            },
            absent: Absent::Is("32"),
            doc: "open DNS-over-TCP connections per client (an IPv4 address or an IPv6 /64)",
            ..Key::BASE
        },
        Key {
            name: "tcp_idle_timeout_seconds",
            value: Value::Int { min: 1, max: 3600 },
            absent: Absent::Is("10"),
            doc: "an idle TCP connection is closed after this",
            ..Key::BASE
        },
        Key {
            name: "udp_sockets",
            value: Value::Int { min: 0, max: 64 },
            absent: Absent::Is("0"),
            doc: "UDP sockets per address sharing the port (`SO_REUSEPORT`); 0 = one per CPU",
            ..Key::BASE
        },
    ],
};

/// `log`.
pub(crate) static LOG: Section = Section {
    name: "log",
    keys: &[
        Key {
            name: "dir",
            value: Value::Str,
            absent: Absent::Is("\"var/log\""),
            shown_type: "path",
            doc: "folder of the daily files, relative to the working directory; created 0750. A gateway uses `/var/log/lychgate`. `lychgate run` refuses to start if it cannot open today's file",
            limits: "| folder of the daily files, relative to the working directory; created 0750. A gateway uses `/var/log/lychgate`. `lychgate run` refuses to start if it cannot open today's file",
            ..Key::BASE
        },
        Key {
            name: "file_stem",
            value: Value::Str,
            absent: Absent::Is("\"requests\""),
            shown_type: "string",
            limits: "letters, digits, `-`, `_`, `.` (not first)",
            doc: "files are `<stem>-YYYY-MM-DD.jsonl` (`.jsonl.gz` for earlier days)",
            ..Key::BASE
        },
        Key {
            name: "retention_days",
            value: Value::Int {
                min: 1,
                max: 36_500,
            },
            absent: Absent::Is("365"),
            shown_type: "integer",
            limits: "1–36500",
            doc: "compressed days older than this are deleted: a school year and the summer holiday. Set it to your data-protection records' period",
            ..Key::BASE
        },
        Key {
            name: "query",
            value: Value::Str,
            absent: Absent::Is("\"search-terms-only\""),
            shown_type: "string",
            limits: "`full`, `search-terms-only`, `none`",
            doc: "how much of a URL's query string is kept (GDPR data minimisation): `search-terms-only` drops the query but keeps the decoded search terms the Suspicious Search report needs",
            ..Key::BASE
        },
        Key {
            name: "queue_capacity",
            value: Value::Int {
                min: 1,
                max: 1 << 20,
            },
            absent: Absent::Is("8192"),
            shown_type: "integer",
            limits: "1–1048576",
            doc: "records waiting for the writer before requests wait for it (backpressure: a record is never dropped)",
            ..Key::BASE
        },
        Key {
            name: "batch_max",
            value: Value::Int {
                min: 1,
                max: 1 << 16,
            },
            absent: Absent::Is("512"),
            shown_type: "integer",
            limits: "1–65536",
            doc: "most records the writer puts in one write",
            ..Key::BASE
        },
        Key {
            name: "summary_interval_seconds",
            value: Value::Int { min: 1, max: 3600 },
            absent: Absent::Is("10"),
            shown_type: "integer",
            limits: "1–3600",
            doc: "how often traffic refused before it is served (over-rate or unreadable DNS questions, clients outside the networks) is written as one summary line per client and reason with its exact count, instead of a line each (`docs/logging.md`)",
            ..Key::BASE
        },
        Key {
            name: "fsync_interval_ms",
            value: Value::Int {
                min: 0,
                max: 3_600_000,
            },
            absent: Absent::Is("1000"),
            shown_type: "integer",
            limits: "0–3600000",
            doc: "most milliseconds a written line waits for its fsync: what a power cut can lose (a crash of Lychgate alone loses no answered line either way: answers wait for their line to be written). 0 fsyncs every batch before its requests are answered",
            ..Key::BASE
        },
    ],
};

/// `identity`.
pub(crate) static IDENTITY: Section = Section {
    name: "identity",
    keys: &[
        Key {
            name: "users_file",
            value: Value::Str,
            absent: Absent::Nothing,
            shown_type: "path",
            doc: "proxy logins, one a line: `name:group:account_type:argon2id-hash` (an empty account type means the group's), relative to the config's folder; managed with `lychgate user add NAME --group ks2` (the password is asked for, never given on the command line). Without it nobody can sign in, and an `auth = \"required\"` network can never get in",
            limits: "| proxy logins, one a line: `name:group:account_type:argon2id-hash` (an empty account type means the group's), relative to the config's folder; managed with `lychgate user add NAME --group ks2` (the password is asked for, never given on the command line). Without it nobody can sign in, and an `auth = \"required\"` network can never get in",
            ..Key::BASE
        },
        Key {
            name: "auth_cache_seconds",
            value: Value::Int {
                min: 1,
                max: 86_400,
            },
            absent: Absent::Is("300"),
            shown_type: "integer",
            limits: "1–86400",
            doc: "how long a verified sign-in is remembered (as a keyed fingerprint, never the password), so each request does not cost an argon2 hash",
            ..Key::BASE
        },
        Key {
            name: "failure_limit",
            value: Value::Int { min: 1, max: 1000 },
            absent: Absent::Is("5"),
            shown_type: "integer",
            limits: "1–1000",
            doc: "failed sign-ins (and identity-map token checks) allowed from one client per window; then 429 with `Retry-After` (stops guessing Year 1's four animal passwords). A client is an IPv4 address, or an IPv6 /64 (one device can use many addresses in its /64). Checks count from the moment they start, so guesses sent all at once get no more than this",
            ..Key::BASE
        },
        Key {
            name: "failure_window_seconds",
            value: Value::Int {
                min: 1,
                max: 86_400,
            },
            absent: Absent::Is("60"),
            shown_type: "integer",
            limits: "1–86400",
            doc: "that window",
            ..Key::BASE
        },
        Key {
            name: "default_binding_seconds",
            value: Value::Int {
                min: 1,
                max: 604_800,
            },
            absent: Absent::Is("3600"),
            shown_type: "integer",
            limits: "1–604800",
            doc: "how long an identity-map binding lasts when the login script does not say",
            ..Key::BASE
        },
        Key {
            name: "max_binding_seconds",
            value: Value::Int {
                min: 1,
                max: 604_800,
            },
            absent: Absent::Is("43200"),
            shown_type: "integer",
            limits: "1–604800",
            doc: "longest binding a login script can ask for (longer ones are cut to this), so a forgotten log-off does not label a machine for days",
            ..Key::BASE
        },
        Key {
            name: "device",
            value: Value::Tables(&DEVICE),
            absent: Absent::Nothing,
            ..Key::BASE
        },
        Key {
            name: "token",
            value: Value::Tables(&TOKEN),
            absent: Absent::Nothing,
            ..Key::BASE
        },
    ],
};

/// `identity.device`.
pub(crate) static DEVICE: Section = Section {
    name: "identity.device",
    keys: &[
        Key {
            name: "ip",
            value: Value::Str,
            absent: Absent::Required("the device's fixed address"),
            doc: "the device's fixed address; each address once",
            ..Key::BASE
        },
        Key {
            name: "name",
            value: Value::Str,
            absent: Absent::Required("a name for logs, e.g. `library-pc-3`"),
            doc: "a name for the log, e.g. `library-pc-3`",
            ..Key::BASE
        },
        Key {
            name: "group",
            value: Value::Str,
            absent: Absent::Means("the `user`'s group, else its network's"),
            doc: "its group; when absent, the `user`'s group, else its network's group",
            ..Key::BASE
        },
        Key {
            name: "user",
            value: Value::Str,
            absent: Absent::Nothing,
            doc: "the person who uses it (a users-file login), logged as that user",
            ..Key::BASE
        },
    ],
};

/// `identity.token`.
pub(crate) static TOKEN: Section = Section {
    name: "identity.token",
    keys: &[
        Key {
            name: "name",
            value: Value::Str,
            absent: Absent::Required("a name for logs, e.g. `classroom-pcs`"),
            doc: "a name for the log, e.g. `classroom-pcs`",
            ..Key::BASE
        },
        Key {
            name: "scope",
            value: Value::Str,
            absent: Absent::Required("`classroom` or `login-server`"),
            limits: "`classroom`, `login-server`",
            doc: "`classroom`: may bind only the calling machine's own address, and never a staff user; `login-server`: any client address to any user (for a central login server). Whatever the scope, the bound address must be inside a configured `[[network]]` and never unspecified (`0.0.0.0`, `::`), multicast or broadcast (403 otherwise)",
            ..Key::BASE
        },
        Key {
            name: "hash",
            value: Value::Str,
            absent: Absent::Required("make one with `lychgate user token`"),
            limits: "`$argon2id$…`",
            doc: "the token's argon2id hash (`$argon2id$…`); a plain token is refused. `lychgate user token --scope classroom --name classroom-pcs` prints a new token once and the lines to paste here",
            secret: true,
            ..Key::BASE
        },
    ],
};

/// `block_page`.
pub(crate) static BLOCK_PAGE: Section = Section {
    name: "block_page",
    keys: &[
        Key {
            name: "school_name",
            value: Value::Str,
            absent: Absent::Is("\"Lychgate\""),
            doc: "header and title of every page",
            ..Key::BASE
        },
        Key {
            name: "logo",
            value: Value::Str,
            absent: Absent::Nothing,
            doc: "PNG, JPEG or SVG of at most 256 KiB, relative to the config's folder; read once at load and embedded in every page (a missing, too large or non-image file is a config error)",
            ..Key::BASE
        },
        Key {
            name: "primary_colour",
            value: Value::Str,
            absent: Absent::Is("\"#1d4f91\""),
            limits: "`#rgb` or `#rrggbb`",
            doc: "header bar, buttons, reference box",
            ..Key::BASE
        },
        Key {
            name: "background_colour",
            value: Value::Str,
            absent: Absent::Is("\"#ffffff\""),
            limits: "`#rgb` or `#rrggbb`",
            doc: "page background",
            ..Key::BASE
        },
        Key {
            name: "contact",
            value: Value::Str,
            absent: Absent::Nothing,
            doc: "who staff and guests ask, e.g. `\"Ask Mrs Patel in the school office\"`",
            ..Key::BASE
        },
        Key {
            name: "pupil_message",
            value: Value::Str,
            absent: Absent::Is("\"Turn off the screen and tell your teacher.\""),
            doc: "the pupil page's instruction, in the school's own words",
            ..Key::BASE
        },
        Key {
            name: "review",
            value: Value::Bool,
            absent: Absent::Is("true"),
            doc: "whether staff block pages offer \"Request a review\"",
            ..Key::BASE
        },
        Key {
            name: "pages_url",
            value: Value::Str,
            absent: Absent::Means(
                "`\"http://lychgate.internal\"`, with the `transparent_http` listener's port when that is not 80",
            ),
            doc: "where browsers reach Lychgate's own pages (`http://` or `https://`, host and optional port, no path); the review form posts to `<pages_url>/review`. Its host must be `[proxy] service_host` (or an address the proxy answers itself). The default's port matters in transparent mode: the browser connects to the gateway directly (traffic to the gateway is not redirected), so it must name a port Lychgate listens on; through the explicit proxy any port reaches the service host",
            ..Key::BASE
        },
    ],
};

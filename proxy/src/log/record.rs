//! One line of the request log: [`RequestRecord`], schema version 1 (documented field by field in
//! `docs/logging.md`). Field order here is the order on disk, so adding a field means adding it at
//! the end (additive changes keep `"v":1`; a rename or a change of meaning bumps the version).

use super::reference::new_reference;
use crate::identity::AccountType;
use jiff::ZonedDateTime;
use lychgate_classifier::concern::{Severity, Theme};
use lychgate_classifier::phrases::ConcernHit;
use lychgate_classifier::policy::Action;
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Duration;

/// The schema version written in every line's `v` field.
pub const SCHEMA_VERSION: u8 = 1;

/// The `v` field: a value that can only ever be the current schema version, so no caller can
/// write a line claiming a schema this code does not produce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchemaVersion;

impl Serialize for SchemaVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(SCHEMA_VERSION)
    }
}

/// What kind of traffic a line records (`type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordType {
    /// A plain HTTP request through the proxy (explicit or transparent port 80).
    Http,
    /// A `CONNECT` tunnel through the explicit proxy.
    Connect,
    /// A transparently intercepted TLS connection (port 443), known by its SNI.
    Tls,
    /// A DNS question to the filtering resolver.
    Dns,
    /// An administrative event tied to a client: an identity binding, a review request.
    Admin,
}

/// What happened to the request (`decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogDecision {
    /// Served.
    Allow,
    /// Refused by policy (block page, NXDOMAIN, closed tunnel).
    Block,
    /// Not served because something failed (upstream unreachable, bad request, logging down in a
    /// fail-closed group); `status` and `flags` say more.
    Error,
}

impl From<Action> for LogDecision {
    fn from(a: Action) -> Self {
        match a {
            Action::Allow => LogDecision::Allow,
            Action::Block => LogDecision::Block,
        }
    }
}

/// One safeguarding concern raised by the request (`concerns[]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Concern {
    /// The safeguarding theme (`abuse`, `suicide`, `grooming` ...; the names used in phrase lists).
    #[serde(serialize_with = "ser_theme")]
    pub theme: Theme,
    /// How serious (`advisory`, `warning`, `danger`).
    #[serde(serialize_with = "ser_severity")]
    pub severity: Severity,
}

impl From<&ConcernHit> for Concern {
    fn from(hit: &ConcernHit) -> Self {
        Concern {
            theme: hit.theme,
            severity: hit.severity,
        }
    }
}

/// Notable facts about a request (`flags[]`). A closed list, so every flag is documented and a
/// report can rely on the spelling; add a variant (and a line in `docs/logging.md`) for a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// A search engine's SafeSearch was enforced on the request.
    SafeSearch,
    /// YouTube restricted mode was enforced on the request.
    YoutubeRestrict,
    /// The TLS SNI and the HTTP `Host` (or the CONNECT authority) named different sites.
    SniMismatch,
    /// The client offered proxy credentials that did not verify.
    AuthFailed,
    /// Refused because the request log was failing and the group is fail-closed.
    FailClosed,
    /// Served while the request log was failing because the group is fail-open.
    FailOpen,
    /// The client went away before the response was complete.
    ClientClosed,
    /// Handling stopped before a response was sent (the client's connection closed mid-way, or
    /// an internal error); the line records how far it got.
    Unfinished,
    /// Proxy sign-in refused: too many recent failures from this address.
    AuthRateLimited,
    /// The client's network requires proxy sign-in and none was offered (answered 407).
    AuthRequired,
    /// The tunnel's first bytes were a broken, oversized or late TLS ClientHello.
    BadHello,
    /// Transparent mode: the Host or SNI does not resolve to the address the client connected to (refused).
    HostMismatch,
    /// An identity-map request on the admin listener (`POST /identity`); `rule` says what was bound or refused.
    IdentityBinding,
    /// A request for Lychgate's own pages (PAC file, review form).
    LychgatePage,
    /// A TLS connection without a server name.
    NoSni,
    /// The client is outside every configured network (open-proxy prevention).
    NotInNetwork,
    /// The bytes in a tunnel were not TLS.
    NotTls,
    /// CONNECT to a port not in `connect_ports`.
    PortNotAllowed,
    /// A staff review request from a block page.
    ReviewRequest,
    /// Refused: conflicting Content-Length / Transfer-Encoding (request smuggling).
    AmbiguousFraming,
    /// A CONNECT tunnel could not be taken over after the 200.
    UpgradeFailed,
    /// The origin could not be reached or failed mid-way.
    UpstreamError,
    /// The origin's name did not resolve.
    UpstreamDns,
    /// The origin refused the connection.
    UpstreamRefused,
    /// The origin did not answer in time.
    UpstreamTimeout,
    /// The request pointed back at Lychgate itself.
    Loop,
    /// The destination policy refused the address (loopback, link-local, private, the gateway
    /// itself); `rule` names the reason.
    DestinationRefused,
    /// The request already carried Lychgate's Via pseudonym (a forwarding loop).
    ViaLoop,
    /// The tunnel was closed after carrying nothing for `tunnel_idle_timeout_seconds`.
    IdleTimeout,
    /// The tunnel was closed because Lychgate was stopping.
    Shutdown,
    /// The client did not send a complete request head in time (slowloris guard).
    HeaderTimeout,
    /// The request head was larger than `max_header_bytes`.
    HeaderTooLarge,
    /// The request could not be parsed as HTTP/1.
    Unparseable,
    /// DNS: a canary name (Firefox's DoH switch, iCloud Private Relay) answered NXDOMAIN.
    Canary,
    /// DNS: an allowed name whose answer aliases (CNAME) a blocked one.
    CnameBlocked,
    /// DNS: `ech` parameters removed from an HTTPS/SVCB answer, so the SNI stays readable.
    EchStripped,
    /// DNS: a private address in the answer for a public name (DNS rebinding), refused.
    Rebinding,
    /// DNS: the client asked faster than `max_qps_per_client`; not answered.
    RateLimited,
    /// DNS: the answer did not fit the client's UDP size and was sent truncated (TC).
    Truncated,
    /// DNS: the question could not be read (answered FORMERR, NOTIMP or BADVERS).
    Malformed,
    /// The line stands for `count` refused requests from one client (or from the clients beyond
    /// the summary table) in one interval, not for one request.
    Summary,
}

/// One request, as written to the log. Build it with [`RequestRecord::new`] and fill in what the
/// request revealed; the writer applies the query-logging mode before writing.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    /// Schema version, always [`SCHEMA_VERSION`].
    pub v: SchemaVersion,
    /// When the request arrived; written as RFC 3339 with the configured zone's offset and
    /// millisecond precision (`2026-11-30T09:15:02.123+00:00`). The writer puts it in the
    /// configured zone whatever zone it was made in.
    #[serde(serialize_with = "ser_time")]
    pub time: ZonedDateTime,
    /// Reference code shown on the block page ([`super::new_reference`]).
    pub id: String,
    /// What kind of traffic.
    #[serde(rename = "type")]
    pub kind: RecordType,
    /// The client's address (IPv4-mapped IPv6 written as IPv4).
    pub client: IpAddr,
    /// The signed-in user, if any.
    pub user: Option<String>,
    /// How surely `user` identifies one person.
    #[serde(serialize_with = "ser_account_type")]
    pub account_type: AccountType,
    /// The named device from the identity map, if any.
    pub device: Option<String>,
    /// The policy group the request was decided for.
    pub group: String,
    /// HTTP method (`GET`, `CONNECT` ...); `None` for TLS and DNS.
    pub method: Option<String>,
    /// `http` or `https` when known.
    pub scheme: Option<String>,
    /// Host name or IP literal as normalised for the decision; `None` when the request had none.
    pub host: Option<String>,
    /// URL path; `None` where there is none (CONNECT, TLS, DNS).
    pub path: Option<String>,
    /// URL query without the `?`, subject to the query-logging mode.
    pub query: Option<String>,
    /// HTTP status sent to the client; 0 when there is none (DNS, a dropped connection).
    pub status: u16,
    /// Bytes received from the client.
    pub bytes_in: u64,
    /// Bytes sent to the client.
    pub bytes_out: u64,
    /// Time from arrival to the last byte sent; written as milliseconds with microsecond
    /// precision (`12.345`).
    #[serde(rename = "duration_ms", serialize_with = "ser_duration_ms")]
    pub duration: Duration,
    /// Allow, block or error.
    pub decision: LogDecision,
    /// The category that decided it, if any.
    pub category: Option<String>,
    /// The rule that decided it, in short (`override deny example.com`, `category gambling`).
    pub rule: Option<String>,
    /// Search terms, if the request was a search (subject to the query-logging mode).
    pub search: Option<String>,
    /// Safeguarding concerns, whatever the decision; empty when none.
    pub concerns: Vec<Concern>,
    /// Notable facts; empty when none.
    pub flags: Vec<Flag>,
    /// DNS: the question's type (`A`, `AAAA`, `HTTPS` …); `None` for web requests.
    pub qtype: Option<Cow<'static, str>>,
    /// DNS: the answer's response code (`NOERROR`, `NXDOMAIN` …); `None` when nothing was sent.
    pub rcode: Option<&'static str>,
    /// DNS: whether the answer came from the cache; `None` when no upstream was involved.
    pub cache_hit: Option<bool>,
    /// DNS: how long the upstream took to answer; written as milliseconds like `duration_ms`.
    #[serde(serialize_with = "ser_opt_duration_ms")]
    pub upstream_ms: Option<Duration>,
    /// How many requests the line stands for: 1, or a summary's exact count (flag `summary`).
    pub count: u64,
    /// CONNECT: the authority the client asked for (`host:port`), whatever the SNI said (then
    /// in `host`); `None` for everything else.
    pub authority: Option<String>,
}

impl RequestRecord {
    /// A record of a request from `client` in `group` arriving at `time`, with a fresh reference
    /// code, no user, an `allow` decision and every other field empty or zero.
    pub fn new(kind: RecordType, time: ZonedDateTime, client: IpAddr, group: &str) -> Self {
        Self::with_id(kind, time, client, group, new_reference())
    }

    /// The same, with the reference code the request already has (shown on its page).
    pub fn with_id(
        kind: RecordType,
        time: ZonedDateTime,
        client: IpAddr,
        group: &str,
        id: String,
    ) -> Self {
        RequestRecord {
            v: SchemaVersion,
            time,
            id,
            kind,
            client: client.to_canonical(),
            user: None,
            account_type: AccountType::None,
            device: None,
            group: group.to_owned(),
            method: None,
            scheme: None,
            host: None,
            path: None,
            query: None,
            status: 0,
            bytes_in: 0,
            bytes_out: 0,
            duration: Duration::ZERO,
            decision: LogDecision::Allow,
            category: None,
            rule: None,
            search: None,
            concerns: Vec::new(),
            flags: Vec::new(),
            qtype: None,
            rcode: None,
            cache_hit: None,
            upstream_ms: None,
            count: 1,
            authority: None,
        }
    }

    /// Appends the record as one JSON line (with its `\n`) to `out`. JSON escapes control
    /// characters, so nothing a client sends can split or forge a line.
    pub fn write_line(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        super::line::write(self, out);
        Ok(())
    }
}

/// The `time` format: RFC 3339, milliseconds, numeric offset.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3f%:z";

fn ser_time<S: Serializer>(t: &ZonedDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&t.strftime(TIME_FORMAT))
}

fn ser_duration_ms<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    // Whole microseconds divided once: prints `12.345`, not `12.345000000000001`.
    let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    #[allow(clippy::cast_precision_loss)] // exact below 2^53 µs (285 years)
    s.serialize_f64(micros as f64 / 1000.0)
}

fn ser_opt_duration_ms<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_duration_ms(d, s),
        None => s.serialize_none(),
    }
}

fn ser_account_type<S: Serializer>(a: &AccountType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a.name())
}

fn ser_theme<S: Serializer>(t: &Theme, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.name())
}

fn ser_severity<S: Serializer>(v: &Severity, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.name())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fully filled record, for tests here and in the writer.
    pub(crate) fn sample(n: u32) -> RequestRecord {
        let time: jiff::Timestamp = "2026-11-30T09:15:02.123456Z".parse().unwrap();
        let mut r = RequestRecord::new(
            RecordType::Http,
            time.to_zoned_datetime(jiff::tz::TimeZone::UTC),
            "10.0.3.17".parse().unwrap(),
            "ks2",
        );
        r.id = format!("TEST{n:04}");
        r.user = Some("ava.b".into());
        r.account_type = AccountType::Individual;
        r.method = Some("GET".into());
        r.scheme = Some("http".into());
        r.host = Some("www.example.com".into());
        r.path = Some(format!("/search/{n}"));
        r.query = Some("q=how+to+tie+a+knot&sid=12345".into());
        r.status = 200;
        r.bytes_in = 512;
        r.bytes_out = 10_240;
        r.duration = Duration::from_micros(12_345);
        r.search = Some("how to tie a knot".into());
        r
    }

    const FIELDS: [&str; 30] = [
        "v",
        "time",
        "id",
        "type",
        "client",
        "user",
        "account_type",
        "device",
        "group",
        "method",
        "scheme",
        "host",
        "path",
        "query",
        "status",
        "bytes_in",
        "bytes_out",
        "duration_ms",
        "decision",
        "category",
        "rule",
        "search",
        "concerns",
        "flags",
        "qtype",
        "rcode",
        "cache_hit",
        "upstream_ms",
        "count",
        "authority",
    ];

    fn line(r: &RequestRecord) -> String {
        let mut out = Vec::new();
        r.write_line(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fields_are_written_in_the_documented_order() {
        let text = line(&sample(1));
        let mut at = 0;
        for f in FIELDS {
            let key = format!("\"{f}\":");
            let found = text[at..]
                .find(&key)
                .unwrap_or_else(|| panic!("{f} in {text}"));
            at += found + key.len();
        }
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value.as_object().unwrap().len(), FIELDS.len());
    }

    #[test]
    fn values_have_the_documented_form() {
        let mut r = sample(1);
        r.decision = Action::Block.into();
        r.category = Some("gambling".into());
        r.concerns.push(Concern {
            theme: Theme::Suicide,
            severity: Severity::Danger,
        });
        r.flags.extend([Flag::SafeSearch, Flag::FailClosed]);
        let text = line(&r);
        assert!(text.ends_with('\n') && !text[..text.len() - 1].contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["v"], 1);
        assert_eq!(v["time"], "2026-11-30T09:15:02.123+00:00");
        assert_eq!(v["type"], "http");
        assert_eq!(v["client"], "10.0.3.17");
        assert_eq!(v["account_type"], "individual");
        assert_eq!(v["device"], serde_json::Value::Null);
        assert_eq!(v["status"], 200);
        assert_eq!(v["duration_ms"], 12.345);
        assert_eq!(v["decision"], "block");
        assert_eq!(
            v["concerns"],
            serde_json::json!([{"theme": "suicide", "severity": "danger"}])
        );
        assert_eq!(
            v["flags"],
            serde_json::json!(["safe_search", "fail_closed"])
        );
    }

    #[test]
    fn time_carries_the_zone_offset_and_whole_milliseconds() {
        let mut r = sample(1);
        let summer: jiff::Timestamp = "2026-07-01T08:00:00Z".parse().unwrap();
        r.time = summer.to_zoned_datetime(jiff::tz::TimeZone::get("Europe/London").unwrap());
        let v: serde_json::Value = serde_json::from_str(&line(&r)).unwrap();
        assert_eq!(v["time"], "2026-07-01T09:00:00.000+01:00");
    }

    #[test]
    fn new_records_are_empty_allows_with_a_reference() {
        let now: jiff::Timestamp = "2026-11-30T09:00:00Z".parse().unwrap();
        let r = RequestRecord::new(
            RecordType::Dns,
            now.to_zoned_datetime(jiff::tz::TimeZone::UTC),
            "::ffff:192.168.1.9".parse().unwrap(),
            "guests",
        );
        assert_eq!(r.id.len(), super::super::reference::REFERENCE_LEN);
        let v: serde_json::Value = serde_json::from_str(&line(&r)).unwrap();
        assert_eq!(v["client"], "192.168.1.9");
        assert_eq!(v["type"], "dns");
        assert_eq!(v["decision"], "allow");
        assert_eq!(v["user"], serde_json::Value::Null);
        assert_eq!(v["account_type"], "none");
        assert_eq!(v["status"], 0);
        assert_eq!(v["duration_ms"], 0.0);
        assert_eq!(v["concerns"], serde_json::json!([]));
    }

    #[test]
    fn client_text_cannot_break_a_line() {
        let mut r = sample(1);
        r.path = Some("/a\n{\"v\":1,\"id\":\"FORGED\"}\r".into());
        r.user = Some("x\"y".into());
        let text = line(&r);
        assert_eq!(text.matches('\n').count(), 1);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["id"], "TEST0001");
        assert_eq!(v["user"], "x\"y");
    }
}

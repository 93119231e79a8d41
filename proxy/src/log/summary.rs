//! Refused traffic, counted and summarised: requests refused before they are served (over the
//! client's rate, unreadable, from outside the school's networks) are not a line each — one
//! client could otherwise write tens of megabytes a second and fill the log disk, which turns
//! every fail-closed pupil off. Each is counted here under (client, kind, reason), and every
//! interval the table becomes one line per key with the exact count (`docs/logging.md`).
//!
//! The table is bounded: once it holds [`RefusedSummary::capacity`] clients, refusals from new
//! clients are counted in an "other clients" entry per kind and reason, so a flood from many
//! addresses still counts every request without growing memory.

use super::record::{Flag, LogDecision, RecordType, RequestRecord};
use crate::client_key::client_key;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::Duration;

/// Clients the table holds before new ones fold into the "other clients" entries: enough for
/// every device of a large primary school and then some.
pub const SUMMARY_CLIENTS: usize = 4096;

/// The address written as `client` on an "other clients" line.
pub const OTHER_CLIENTS: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// Why a request was refused before it was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusedReason {
    /// Over the client's rate (DNS `max_qps_per_client`): not answered.
    RateLimited,
    /// Unreadable (answered FORMERR, NOTIMP, BADVERS or REFUSED, or dropped).
    Malformed,
    /// From outside every configured network.
    NotInNetwork,
    /// HTTP: no complete request head within the header timeout (slowloris guard).
    HeaderTimeout,
    /// HTTP: a request head larger than `max_header_bytes`.
    HeaderTooLarge,
    /// HTTP: bytes that do not parse as an HTTP/1 request.
    Unparseable,
}

impl RefusedReason {
    fn flag(self) -> Flag {
        match self {
            RefusedReason::RateLimited => Flag::RateLimited,
            RefusedReason::Malformed => Flag::Malformed,
            RefusedReason::NotInNetwork => Flag::NotInNetwork,
            RefusedReason::HeaderTimeout => Flag::HeaderTimeout,
            RefusedReason::HeaderTooLarge => Flag::HeaderTooLarge,
            RefusedReason::Unparseable => Flag::Unparseable,
        }
    }

    fn decision(self) -> LogDecision {
        match self {
            RefusedReason::NotInNetwork => LogDecision::Block,
            RefusedReason::RateLimited
            | RefusedReason::Malformed
            | RefusedReason::HeaderTimeout
            | RefusedReason::HeaderTooLarge
            | RefusedReason::Unparseable => LogDecision::Error,
        }
    }

    fn words(self) -> &'static str {
        match self {
            RefusedReason::RateLimited => "over the client's rate limit, not answered",
            RefusedReason::Malformed => "unreadable",
            RefusedReason::NotInNetwork => "client is not in a configured network",
            RefusedReason::HeaderTimeout => "no complete request head in time",
            RefusedReason::HeaderTooLarge => "request head too large",
            RefusedReason::Unparseable => "not an HTTP/1 request",
        }
    }
}

/// One refused request, as the summary counts it.
#[derive(Debug, Clone, Copy)]
pub struct Refused<'a> {
    /// What kind of traffic.
    pub kind: RecordType,
    /// Why it was refused.
    pub reason: RefusedReason,
    /// The client's address (counted under its /64 for IPv6).
    pub client: IpAddr,
    /// The client's group by address (`unknown` from outside the networks).
    pub group: &'a str,
    /// When it arrived.
    pub time: jiff::Timestamp,
    /// Bytes received from the client.
    pub bytes_in: u64,
    /// Bytes sent back (a refusal page or answer; 0 when nothing was sent).
    pub bytes_out: u64,
    /// HTTP status sent; 0 for none.
    pub status: u16,
}

impl<'a> Refused<'a> {
    /// The refusal a finished record describes (its client, group, time, bytes and status).
    pub fn of_record(record: &'a RequestRecord, reason: RefusedReason) -> Self {
        Refused {
            kind: record.kind,
            reason,
            client: record.client,
            group: &record.group,
            time: record.time.timestamp(),
            bytes_in: record.bytes_in,
            bytes_out: record.bytes_out,
            status: record.status,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    /// The client key; `None` for the clients beyond the table.
    client: Option<IpAddr>,
    kind: RecordType,
    reason: RefusedReason,
}

#[derive(Debug)]
struct Tally {
    group: String,
    count: u64,
    first: jiff::Timestamp,
    last: jiff::Timestamp,
    bytes_in: u64,
    bytes_out: u64,
    status: u16,
}

#[derive(Debug, Default)]
struct Table {
    tallies: HashMap<Key, Tally>,
    /// Entries with a client (the "other clients" ones are not counted against the capacity).
    clients: usize,
}

/// The counts of refused requests since the last flush.
#[derive(Debug)]
pub struct RefusedSummary {
    capacity: usize,
    table: Mutex<Table>,
}

impl Default for RefusedSummary {
    fn default() -> Self {
        Self::new(SUMMARY_CLIENTS)
    }
}

impl RefusedSummary {
    /// An empty summary holding at most `capacity` clients' entries.
    pub fn new(capacity: usize) -> Self {
        RefusedSummary {
            capacity,
            table: Mutex::new(Table::default()),
        }
    }

    /// Counts one refused request.
    pub fn add(&self, refused: &Refused<'_>) {
        let mut key = Key {
            client: Some(client_key(refused.client)),
            kind: refused.kind,
            reason: refused.reason,
        };
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !table.tallies.contains_key(&key) {
            if table.clients >= self.capacity {
                key.client = None;
            } else {
                table.clients += 1;
            }
        }
        let tally = table.tallies.entry(key).or_insert_with(|| Tally {
            group: if key.client.is_some() {
                refused.group.to_owned()
            } else {
                "unknown".to_owned()
            },
            count: 0,
            first: refused.time,
            last: refused.time,
            bytes_in: 0,
            bytes_out: 0,
            status: refused.status,
        });
        tally.count += 1;
        tally.first = tally.first.min(refused.time);
        tally.last = tally.last.max(refused.time);
        tally.bytes_in = tally.bytes_in.saturating_add(refused.bytes_in);
        tally.bytes_out = tally.bytes_out.saturating_add(refused.bytes_out);
    }

    /// Empties the table into one summary line per entry, oldest first: `time` is the first
    /// refusal, `duration_ms` the time to the last, `count` how many.
    pub fn drain(&self) -> Vec<RequestRecord> {
        let tallies = {
            let mut table = self
                .table
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            table.clients = 0;
            std::mem::take(&mut table.tallies)
        };
        let mut lines: Vec<RequestRecord> = tallies
            .into_iter()
            .map(|(key, tally)| summary_line(key, tally))
            .collect();
        lines.sort_by_key(|r| r.time.timestamp());
        lines
    }

    /// How many client entries the table holds before folding new clients together.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

fn summary_line(key: Key, tally: Tally) -> RequestRecord {
    let time = tally.first.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let client = key.client.unwrap_or(OTHER_CLIENTS);
    let mut r = RequestRecord::new(key.kind, time, client, &tally.group);
    r.scheme = match key.kind {
        RecordType::Http => Some("http".to_string()),
        RecordType::Connect | RecordType::Tls => Some("https".to_string()),
        RecordType::Dns | RecordType::Admin => None,
    };
    let from = match key.client {
        None => "clients beyond the summary table".to_string(),
        Some(IpAddr::V6(v6)) => format!("{v6}/64"),
        Some(IpAddr::V4(v4)) => v4.to_string(),
    };
    let what = if key.kind == RecordType::Dns {
        "questions"
    } else {
        "requests"
    };
    r.rule = Some(format!(
        "{what} refused ({}): {} from {from}",
        key.reason.words(),
        tally.count
    ));
    r.decision = key.reason.decision();
    r.flags = vec![key.reason.flag(), Flag::Summary];
    r.status = tally.status;
    r.bytes_in = tally.bytes_in;
    r.bytes_out = tally.bytes_out;
    r.duration = Duration::try_from(tally.last.duration_since(tally.first)).unwrap_or_default();
    r.count = tally.count;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(1_796_000_000_000 + ms).unwrap()
    }

    fn refused(client: &str, reason: RefusedReason, ms: i64) -> Refused<'static> {
        Refused {
            kind: RecordType::Dns,
            reason,
            client: client.parse().unwrap(),
            group: "ks2",
            time: at(ms),
            bytes_in: 30,
            bytes_out: 0,
            status: 0,
        }
    }

    #[test]
    fn one_line_per_client_and_reason_with_the_exact_count_and_span() {
        let s = RefusedSummary::new(16);
        for i in 0..5000 {
            s.add(&refused("10.0.3.17", RefusedReason::RateLimited, i));
        }
        s.add(&refused("10.0.3.17", RefusedReason::Malformed, 7));
        s.add(&refused("10.0.3.18", RefusedReason::RateLimited, 3));
        let lines = s.drain();
        assert_eq!(lines.len(), 3);
        let limited = lines
            .iter()
            .find(|r| r.client.to_string() == "10.0.3.17" && r.flags[0] == Flag::RateLimited)
            .unwrap();
        assert_eq!(limited.count, 5000);
        assert_eq!(limited.bytes_in, 5000 * 30);
        assert_eq!(limited.time.timestamp(), at(0));
        assert_eq!(limited.duration, Duration::from_millis(4999));
        assert_eq!(limited.flags, vec![Flag::RateLimited, Flag::Summary]);
        assert_eq!(limited.decision, LogDecision::Error);
        assert_eq!(limited.group, "ks2");
        assert!(
            limited
                .rule
                .as_deref()
                .unwrap()
                .contains("5000 from 10.0.3.17")
        );
        assert!(s.drain().is_empty(), "a flush empties the table");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let s = RefusedSummary::new(16);
        s.add(&refused("2001:db8:1:2::1", RefusedReason::NotInNetwork, 0));
        s.add(&refused(
            "2001:db8:1:2::ffff",
            RefusedReason::NotInNetwork,
            1,
        ));
        let lines = s.drain();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].count, 2);
        assert_eq!(lines[0].client.to_string(), "2001:db8:1:2::");
        assert_eq!(lines[0].decision, LogDecision::Block);
    }

    #[test]
    fn a_full_table_folds_new_clients_together_and_still_counts_every_one() {
        let s = RefusedSummary::new(4);
        let mut sent = 0;
        for n in 0..=255u8 {
            for _ in 0..3 {
                s.add(&refused(
                    &format!("192.0.2.{n}"),
                    RefusedReason::NotInNetwork,
                    0,
                ));
                sent += 1;
            }
        }
        let lines = s.drain();
        assert_eq!(lines.len(), 5, "four clients and one line for the rest");
        assert_eq!(lines.iter().map(|r| r.count).sum::<u64>(), sent);
        let others = lines.iter().find(|r| r.client == OTHER_CLIENTS).unwrap();
        assert_eq!(others.count, sent - 4 * 3);
        assert_eq!(others.group, "unknown");
        // After a flush the table has room again.
        s.add(&refused("192.0.2.200", RefusedReason::NotInNetwork, 0));
        assert_eq!(s.drain()[0].client.to_string(), "192.0.2.200");
    }
}

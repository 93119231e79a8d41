//! The JSON line of a [`RequestRecord`], written by hand: the writer formats one line per
//! request on a busy proxy, and serde's generic path (plus `strftime` for the time) cost more
//! than the rest of the writer together. The output is the same JSON serde would write for the
//! record (a test compares them), so `Serialize` stays the reference for the format.

use super::record::{LogDecision, RecordType, RequestRecord};
use std::io::Write as _;

/// Appends `record` as one JSON line, `\n` included.
pub fn write(record: &RequestRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"v\":1,\"time\":\"");
    time(record, out);
    out.extend_from_slice(b"\",\"id\":");
    string(&record.id, out);
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(match record.kind {
        RecordType::Http => b"http",
        RecordType::Connect => b"connect",
        RecordType::Tls => b"tls",
        RecordType::Dns => b"dns",
        RecordType::Admin => b"admin",
    });
    out.extend_from_slice(b"\",\"client\":\"");
    let _ = write!(out, "{}", record.client);
    out.extend_from_slice(b"\",\"user\":");
    opt_string(record.user.as_deref(), out);
    out.extend_from_slice(b",\"account_type\":\"");
    out.extend_from_slice(record.account_type.name().as_bytes());
    out.extend_from_slice(b"\",\"device\":");
    opt_string(record.device.as_deref(), out);
    out.extend_from_slice(b",\"group\":");
    string(&record.group, out);
    out.extend_from_slice(b",\"method\":");
    opt_string(record.method.as_deref(), out);
    out.extend_from_slice(b",\"scheme\":");
    opt_string(record.scheme.as_deref(), out);
    out.extend_from_slice(b",\"host\":");
    opt_string(record.host.as_deref(), out);
    out.extend_from_slice(b",\"path\":");
    opt_string(record.path.as_deref(), out);
    out.extend_from_slice(b",\"query\":");
    opt_string(record.query.as_deref(), out);
    out.extend_from_slice(b",\"status\":");
    number(u64::from(record.status), out);
    out.extend_from_slice(b",\"bytes_in\":");
    number(record.bytes_in, out);
    out.extend_from_slice(b",\"bytes_out\":");
    number(record.bytes_out, out);
    out.extend_from_slice(b",\"duration_ms\":");
    milliseconds(record.duration, out);
    out.extend_from_slice(b",\"decision\":\"");
    out.extend_from_slice(match record.decision {
        LogDecision::Allow => b"allow",
        LogDecision::Block => b"block",
        LogDecision::Error => b"error",
    });
    out.extend_from_slice(b"\",\"category\":");
    opt_string(record.category.as_deref(), out);
    out.extend_from_slice(b",\"rule\":");
    opt_string(record.rule.as_deref(), out);
    out.extend_from_slice(b",\"search\":");
    opt_string(record.search.as_deref(), out);
    out.extend_from_slice(b",\"concerns\":[");
    for (i, c) in record.concerns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"theme\":");
        string(c.theme.name(), out);
        out.extend_from_slice(b",\"severity\":");
        string(c.severity.name(), out);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"flags\":[");
    for (i, f) in record.flags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Flags are a closed set of snake_case names: serde's rename gives the spelling.
        let _ = serde_json::to_writer(&mut *out, f);
    }
    out.extend_from_slice(b"],\"qtype\":");
    opt_string(record.qtype.as_deref(), out);
    out.extend_from_slice(b",\"rcode\":");
    opt_string(record.rcode, out);
    out.extend_from_slice(b",\"cache_hit\":");
    out.extend_from_slice(match record.cache_hit {
        None => b"null",
        Some(true) => b"true",
        Some(false) => b"false",
    });
    out.extend_from_slice(b",\"upstream_ms\":");
    match record.upstream_ms {
        Some(d) => milliseconds(d, out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"count\":");
    number(record.count, out);
    out.extend_from_slice(b",\"authority\":");
    opt_string(record.authority.as_deref(), out);
    out.extend_from_slice(b"}\n");
}

/// RFC 3339 with milliseconds and a numeric offset: `2026-11-30T09:15:02.123+00:00`.
fn time(record: &RequestRecord, out: &mut Vec<u8>) {
    let t = &record.time;
    let offset = t.offset().seconds();
    let (sign, offset) = if offset < 0 {
        (b'-', -offset)
    } else {
        (b'+', offset)
    };
    digits(i64::from(t.year()), 4, out);
    out.push(b'-');
    digits(i64::from(t.month()), 2, out);
    out.push(b'-');
    digits(i64::from(t.day()), 2, out);
    out.push(b'T');
    digits(i64::from(t.hour()), 2, out);
    out.push(b':');
    digits(i64::from(t.minute()), 2, out);
    out.push(b':');
    digits(i64::from(t.second()), 2, out);
    out.push(b'.');
    digits(i64::from(t.millisecond()), 3, out);
    out.push(sign);
    digits(i64::from(offset / 3600), 2, out);
    out.push(b':');
    digits(i64::from(offset % 3600 / 60), 2, out);
}

/// A non-negative number zero-padded to `width` digits.
fn digits(n: i64, width: usize, out: &mut Vec<u8>) {
    let n = n.unsigned_abs();
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let len = buf.len() - i;
    for _ in len..width {
        out.push(b'0');
    }
    out.extend_from_slice(&buf[i..]);
}

fn number(n: u64, out: &mut Vec<u8>) {
    digits(i64::try_from(n).unwrap_or(i64::MAX), 1, out);
}

/// Milliseconds with up to three decimals, as serde writes the f64 `micros / 1000.0`
/// (`12.0`, `0.9`, `3.245`).
fn milliseconds(d: std::time::Duration, out: &mut Vec<u8>) {
    let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    number(micros / 1000, out);
    out.push(b'.');
    let frac = micros % 1000;
    if frac == 0 {
        out.push(b'0');
        return;
    }
    let mut three = [
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ];
    let mut len = 3;
    while len > 1 && three[len - 1] == b'0' {
        len -= 1;
    }
    out.extend_from_slice(&three[..len]);
    three.fill(0);
}

fn opt_string(s: Option<&str>, out: &mut Vec<u8>) {
    match s {
        Some(s) => string(s, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// A JSON string, escaped as serde_json does: quotes, backslashes and control characters, so
/// nothing a client sends can end a line or forge a field. Eight bytes at a time are checked
/// for anything to escape (most strings have nothing), then copied whole.
fn string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if !may_need_escape(u64::from_ne_bytes(word)) {
                i += 8;
                continue;
            }
        }
        let end = (i + 8).min(bytes.len());
        while i < end {
            let b = bytes[i];
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0..=0x1f => {
                    out.extend_from_slice(&bytes[start..i]);
                    let _ = write!(out, "\\u{b:04x}");
                    i += 1;
                    start = i;
                    continue;
                }
                _ => {
                    i += 1;
                    continue;
                }
            };
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(escape);
            i += 1;
            start = i;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the eight bytes in `w` is a control character, `"` or `\\` (the classic
/// "has zero byte" tests, exact as a yes/no).
const fn may_need_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let q = w ^ (ONES * b'"' as u64);
    let quote = q.wrapping_sub(ONES) & !q & HIGH;
    let b = w ^ (ONES * b'\\' as u64);
    let backslash = b.wrapping_sub(ONES) & !b & HIGH;
    (below_space | quote | backslash) != 0
}

#[cfg(test)]
mod tests {
    use super::super::record::tests::sample;
    use super::*;
    use std::time::Duration;

    fn via_serde(r: &RequestRecord) -> Vec<u8> {
        let mut out = serde_json::to_vec(r).unwrap();
        out.push(b'\n');
        out
    }

    proptest::proptest! {
        #[test]
        fn strings_are_escaped_exactly_as_serde_escapes_them(text in "(?s).{0,40}") {
            let mut mine = Vec::new();
            string(&text, &mut mine);
            proptest::prop_assert_eq!(
                String::from_utf8(mine).unwrap(),
                serde_json::to_string(&text).unwrap()
            );
        }
    }

    #[test]
    fn escapes_are_found_in_every_position_of_a_word() {
        for at in 0..20 {
            for special in ['"', '\\', '\n', '\u{1}', '\u{1f}'] {
                let mut text: String = "abcdefghijklmnopqrst".into();
                text.replace_range(at..=at, &special.to_string());
                let mut mine = Vec::new();
                string(&text, &mut mine);
                assert_eq!(
                    String::from_utf8(mine).unwrap(),
                    serde_json::to_string(&text).unwrap()
                );
            }
        }
    }

    #[test]
    fn the_hand_written_line_is_the_line_serde_writes() {
        let mut r = sample(7);
        for (i, duration) in [0u64, 1, 900, 1000, 3245, 12_000, 12_340, 123_456_789]
            .into_iter()
            .enumerate()
        {
            r.duration = Duration::from_micros(duration);
            r.query = Some(format!("q=\"x\"\\y\n\u{1}\u{7f}é{i}"));
            r.user = (i % 2 == 0).then(|| "ava.b".to_string());
            // Every other line a DNS question, so the DNS-only fields are compared filled too.
            if i % 2 == 1 {
                r.qtype = Some("HTTPS".into());
                r.rcode = Some("NXDOMAIN");
                r.cache_hit = Some(i % 4 == 1);
                r.upstream_ms = Some(Duration::from_micros(duration / 3));
                r.count = duration;
            } else {
                r.authority = Some(format!("[2001:db8::{i}]:443 \"x\"\u{1}"));
            }
            let mut mine = Vec::new();
            write(&r, &mut mine);
            assert_eq!(
                String::from_utf8_lossy(&mine),
                String::from_utf8_lossy(&via_serde(&r))
            );
        }
    }

    #[test]
    fn offsets_and_empty_lists_match_too() {
        let mut r = sample(1);
        let t: jiff::Timestamp = "2026-07-01T23:59:59.999Z".parse().unwrap();
        r.time = t.to_zoned_datetime(jiff::tz::TimeZone::get("Europe/London").unwrap());
        r.concerns.clear();
        r.flags.clear();
        let mut mine = Vec::new();
        write(&r, &mut mine);
        assert_eq!(
            String::from_utf8_lossy(&mine),
            String::from_utf8_lossy(&via_serde(&r))
        );
        assert!(String::from_utf8_lossy(&mine).contains("\"2026-07-02T00:59:59.999+01:00\""));
    }
}

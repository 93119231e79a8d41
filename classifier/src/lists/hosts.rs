//! Hosts files: `ADDRESS NAME [NAME ...]`, `#` comments. Lines whose address is a sink
//! (`0.0.0.0`, `::`, or loopback: `127.0.0.1`, `::1`, all of 127/8) block each name with its
//! subdomains. Lines mapping names to a real address (`192.168.1.10 printer`) are ordinary
//! hosts-file entries, not blocks: they are counted in `skipped`, without a warning. The usual
//! boilerplate names (`localhost`, `broadcasthost`, `ip6-*` ...) are ignored.

use super::SkipReason;
use super::lines::{Ctx, quote};
use crate::domains::MatchScope;
use std::net::IpAddr;

/// Names every stock hosts file maps to loopback: never entries.
fn is_boilerplate(name: &str) -> bool {
    const NAMES: [&str; 8] = [
        "localhost",
        "localhost.localdomain",
        "localhost4",
        "localhost4.localdomain4",
        "localhost6",
        "localhost6.localdomain6",
        "broadcasthost",
        "local",
    ];
    let lower = name.trim_end_matches('.');
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(lower))
        || lower
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("ip6-"))
}

fn parse_addr(s: &str) -> Option<IpAddr> {
    // `fe80::1%eth0`: a zone index is fine, the address is what counts.
    let s = s.split('%').next().unwrap_or(s);
    s.parse().ok()
}

pub(crate) fn parse_line(ctx: &mut Ctx<'_>, n: u32, line: &str) {
    let t = line.split('#').next().unwrap_or(line).trim();
    if t.is_empty() {
        return;
    }
    let mut words = t.split_whitespace();
    let Some(first) = words.next() else {
        return;
    };
    let Some(addr) = parse_addr(first) else {
        ctx.warn(
            n,
            format!(
                "{} is not an IP address: hosts lines are `ADDRESS NAME...` (is this a plain list?)",
                quote(first)
            ),
        );
        return;
    };
    let mut names = words.peekable();
    if names.peek().is_none() {
        ctx.warn(n, format!("{}: no host name after the address", quote(t)));
        return;
    }
    if !(addr.is_unspecified() || addr.is_loopback()) {
        ctx.skip(SkipReason::NotABlock);
        return;
    }
    let mut produced = false;
    let mut warned = false;
    for name in names {
        let maybe_ip = name.starts_with(|c: char| c.is_ascii_digit()) || name.contains(':');
        if is_boilerplate(name) || (maybe_ip && parse_addr(name).is_some()) {
            continue;
        }
        if ctx.domain_or_warn(name, MatchScope::Subdomains, n) {
            produced = true;
        } else {
            warned = true;
        }
    }
    if !produced && !warned {
        ctx.skip(SkipReason::NotABlock);
    }
}

#[cfg(test)]
mod tests {
    use crate::lists::tests_support::{Collect, Entry};
    use crate::lists::{ListFormat, load_str};
    use std::path::Path;

    #[test]
    fn hosts_lines() {
        let text = "127.0.0.1 localhost\n\
                    ::1 localhost ip6-localhost ip6-loopback\n\
                    255.255.255.255 broadcasthost\n\
                    0.0.0.0 a.example B.example # two\n\
                    127.0.0.1\tc.example\n\
                    :: d.example\n\
                    192.168.1.1 printer\n\
                    0.0.0.0 0.0.0.0\n\
                    e.example\n\
                    0.0.0.0\n\
                    0.0.0.0 good.example bad..example\n";
        let mut c = Collect::default();
        let s = load_str(Path::new("h"), text, ListFormat::Hosts, &mut c).unwrap();
        assert_eq!(
            c.entries,
            [
                Entry::sub("a.example", 4),
                Entry::sub("b.example", 4),
                Entry::sub("c.example", 5),
                Entry::sub("d.example", 6),
                Entry::sub("good.example", 11),
            ]
        );
        assert_eq!(
            s.warnings.iter().map(|w| w.line).collect::<Vec<_>>(),
            [9, 10, 11]
        );
        // localhost, ip6 boilerplate, broadcasthost (real address), printer, 0.0.0.0 name
        assert_eq!(s.skipped, 5);
    }
}

//! Plain lists: one domain per line, meaning the domain and all its subdomains (as unbound's
//! and dnsmasq's block lists do). `#` and `!` start comments; a leading `*.` or `.` is accepted
//! and means the same.

use super::lines::{Ctx, quote};
use super::strip_hash_comment;
use crate::domains::MatchScope;

pub(crate) fn parse_line(ctx: &mut Ctx<'_>, n: u32, line: &str) {
    let t = strip_hash_comment(line).trim();
    if t.is_empty() || t.starts_with('!') {
        return;
    }
    domain_line(ctx, n, t, "plain");
}

/// One domain on a line of a plain-style file (plain lists, squidGuard `domains`).
pub(crate) fn domain_line(ctx: &mut Ctx<'_>, n: u32, t: &str, what: &str) {
    let mut words = t.split_whitespace();
    if let (Some(first), Some(_)) = (words.next(), words.next()) {
        let hint = if first.parse::<std::net::IpAddr>().is_ok() {
            " (this looks like a hosts file: use format `hosts`)"
        } else {
            ""
        };
        ctx.warn(
            n,
            format!(
                "{}: expected one domain per line in a {what} list{hint}",
                quote(t)
            ),
        );
        return;
    }
    if t.contains('/') {
        ctx.warn(
            n,
            format!(
                "{}: paths and URLs are not allowed in a {what} list (use the native format, or a squidGuard `urls` file)",
                quote(t)
            ),
        );
        return;
    }
    let name = t
        .strip_prefix("*.")
        .or_else(|| t.strip_prefix('.'))
        .unwrap_or(t);
    ctx.domain_or_warn(name, MatchScope::Subdomains, n);
}

#[cfg(test)]
mod tests {
    use crate::lists::tests_support::{Collect, Entry};
    use crate::lists::{ListFormat, load_str};
    use std::path::Path;

    #[test]
    fn plain_lines() {
        let text = "\u{FEFF}# c\r\n! c\r\nA.example\r\n*.b.example\r\n.c.example # x\r\n\r\n0.0.0.0 d.example\r\ne.example/x\r\nf..example\r\nmünchen.example\r\n";
        let mut c = Collect::default();
        let s = load_str(Path::new("p"), text, ListFormat::Plain, &mut c).unwrap();
        assert_eq!(
            c.entries,
            [
                Entry::sub("a.example", 3),
                Entry::sub("b.example", 4),
                Entry::sub("c.example", 5),
                Entry::sub("xn--mnchen-3ya.example", 10),
            ]
        );
        assert_eq!(
            s.warnings.iter().map(|w| w.line).collect::<Vec<_>>(),
            [7, 8, 9]
        );
        assert!(s.warnings[0].message.contains("use format `hosts`"));
    }
}

//! Lychgate's own list format (docs/lists.md):
//!
//! ```text
//! # comment                 whole-line comment; also `entry  # comment` after whitespace
//! example.com               the domain and all its subdomains
//! *.example.com             the same (accepted for familiarity)
//! =example.com              exactly that name only
//! example.com/path          URL entry: host (and subdomains) + path prefix
//! https://example.com/path  the same; `http://` / `https://` are stripped
//! regex:PATTERN             regex entry, matched against `host/path?query`
//! ```

use super::lines::{Ctx, quote};
use super::{normalize_list_domain, strip_hash_comment, strip_prefix_ci};
use crate::domains::MatchScope;

pub(crate) fn parse_line(ctx: &mut Ctx<'_>, n: u32, line: &str) {
    let t = strip_hash_comment(line).trim();
    if t.is_empty() {
        return;
    }
    if let Some(pattern) = strip_prefix_ci(t, "regex:") {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            ctx.warn(n, "`regex:` with no pattern");
        } else {
            ctx.regex(pattern, n);
        }
        return;
    }
    if t.contains(char::is_whitespace) {
        ctx.warn(
            n,
            format!(
                "{} has a space in it: one entry per line, and a `#` comment needs whitespace before it",
                quote(t)
            ),
        );
        return;
    }
    let (exact, rest) = match t.strip_prefix('=') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let (had_scheme, rest) =
        match strip_prefix_ci(rest, "https://").or_else(|| strip_prefix_ci(rest, "http://")) {
            Some(r) => (true, r),
            None => (false, rest),
        };
    if rest.contains("://") {
        ctx.warn(
            n,
            format!("{}: only http:// and https:// URLs are supported", quote(t)),
        );
        return;
    }
    if let Some(slash) = rest.find('/') {
        if exact {
            ctx.warn(
                n,
                format!(
                    "{}: `=` marks an exact domain and cannot be used on a URL entry",
                    quote(t)
                ),
            );
            return;
        }
        // A URL entry's host already covers its subdomains: `*.` adds nothing.
        let host = &rest[..slash];
        url_entry(
            ctx,
            n,
            t,
            host.strip_prefix("*.").unwrap_or(host),
            &rest[slash..],
        );
        return;
    }
    let _ = had_scheme; // `https://example.com` without a path is a domain entry
    let (scope, name) = if exact {
        (MatchScope::Exact, rest)
    } else {
        (
            MatchScope::Subdomains,
            rest.strip_prefix("*.").unwrap_or(rest),
        )
    };
    ctx.domain_or_warn(name, scope, n);
}

/// A `host/path` entry: the fragment is dropped (it never reaches a server); ports and user
/// info are refused.
pub(crate) fn url_entry(ctx: &mut Ctx<'_>, n: u32, whole: &str, host: &str, path: &str) {
    if host.contains(':') {
        ctx.warn(
            n,
            format!("{}: ports are not supported in URL entries", quote(whole)),
        );
        return;
    }
    let path = path.split('#').next().unwrap_or(path);
    match normalize_list_domain(host) {
        Ok(h) => ctx.url(&h, path, n),
        Err(e) => ctx.warn(n, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use crate::lists::tests_support::{Collect, Entry};
    use crate::lists::{ListFormat, load_str};
    use std::path::Path;

    #[test]
    fn every_entry_kind() {
        let text = "# heading\n\
                    example.com\n\
                    =Exact.Example.org.  # only this\n\
                    *.wild.example\n\
                    https://bad.example/path/x?y=1#frag\n\
                    http://Host.example/\n\
                    https://whole.example\n\
                    regex:^ads?\\.  # tracker\n\
                    plain.example/p\n\
                    *.star.example/q\n";
        let mut c = Collect::default();
        let s = load_str(Path::new("t.list"), text, ListFormat::Native, &mut c).unwrap();
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert_eq!(
            c.entries,
            [
                Entry::sub("example.com", 2),
                Entry::exact("exact.example.org", 3),
                Entry::sub("wild.example", 4),
                Entry::url("bad.example", "/path/x?y=1", 5),
                Entry::url("host.example", "/", 6),
                Entry::sub("whole.example", 7),
                Entry::regex("^ads?\\.", 8),
                Entry::url("plain.example", "/p", 9),
                Entry::url("star.example", "/q", 10),
            ]
        );
        assert_eq!((s.domains, s.urls, s.regexes), (4, 4, 1));
    }

    #[test]
    fn bad_lines_warn_and_loading_continues() {
        let text = "good.example\nbad..example\ntwo words.example\n=x.example/p\nftp://x.example/\nx.example:8080/p\nregex:\nlast.example\n";
        let mut c = Collect::default();
        let s = load_str(Path::new("t.list"), text, ListFormat::Native, &mut c).unwrap();
        let lines: Vec<u32> = s.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7]);
        assert_eq!(s.domains, 2);
        assert!(
            s.warnings[0]
                .to_string()
                .starts_with("t.list:2: `bad..example`")
        );
    }
}

//! Adblock-style lists (EasyList, AdGuard DNS filter, uBlock lists): only domain-anchored
//! network rules are used.
//!
//! - `||example.com^` (also without `^`, or with `^|`) → the domain and its subdomains;
//! - `||example.com/path` → URL entry (a trailing `^` or `|` on the path is dropped);
//! - options after `$` are accepted when they keep the rule a plain network block
//!   (`third-party`, `important`, resource types, `all`, `match-case` ...); a rule with an option
//!   that narrows it to some pages, clients or record types, or turns it into something other
//!   than a block (`domain=`, `badfilter`, `redirect`, `csp`, `removeparam`, `dnsrewrite`,
//!   `popup` ...) or an option we do not know is skipped;
//! - exception rules (`@@`), cosmetic and scriptlet rules (`##`, `#@#`, `#?#`, `#$#`, `#%#`),
//!   HTML filters (`$$`), regex rules (`/.../`), rules that are not domain-anchored (`ads.`,
//!   `|https://...`) and wildcard domains (`||ad*.example^`) are skipped: a gateway cannot
//!   apply them to a whole domain without blocking far more (or less) than the list meant.
//!
//! Skipped rules are counted in `skipped`, not reported as warnings: they are valid rules for
//! a browser extension, just not for a network filter. `!` lines and `[Adblock Plus 2.0]`
//! headers are comments.

use super::lines::{Ctx, quote};
use super::native::url_entry;
use crate::domains::MatchScope;

/// Options that leave a rule a network block of everything it names.
fn option_is_neutral(opt: &str) -> Option<bool> {
    let o = opt.trim().trim_start_matches('~').to_ascii_lowercase();
    let name = o.split('=').next().unwrap_or(&o);
    let neutral = [
        "third-party",
        "3p",
        "first-party",
        "1p",
        "important",
        "all",
        "match-case",
        "document",
        "doc",
        "script",
        "image",
        "stylesheet",
        "css",
        "xmlhttprequest",
        "xhr",
        "subdocument",
        "frame",
        "object",
        "object-subrequest",
        "media",
        "font",
        "ping",
        "websocket",
        "webrtc",
        "other",
        "beacon",
        "strict1p",
        "strict3p",
        "method",
    ];
    let narrowing = [
        "domain",
        "from",
        "to",
        "denyallow",
        "badfilter",
        "redirect",
        "redirect-rule",
        "rewrite",
        "csp",
        "permissions",
        "removeparam",
        "queryprune",
        "removeheader",
        "replace",
        "header",
        "cookie",
        "hls",
        "jsonprune",
        "xmlprune",
        "urltransform",
        "urlskip",
        "referrerpolicy",
        "network",
        "app",
        "client",
        "ctag",
        "dnstype",
        "dnsrewrite",
        "popup",
        "popunder",
        "generichide",
        "ghide",
        "elemhide",
        "ehide",
        "specifichide",
        "shide",
        "genericblock",
        "content",
        "jsinject",
        "extension",
        "urlblock",
        "stealth",
        "empty",
        "mp4",
        "inline-script",
        "inline-font",
        "sitekey",
    ];
    if neutral.contains(&name) {
        Some(true)
    } else if narrowing.contains(&name) {
        Some(false)
    } else {
        None
    }
}

fn is_cosmetic(t: &str) -> bool {
    [
        "##", "#@#", "#?#", "#$#", "#%#", "#@?#", "#@$#", "#@%#", "$$", "$@$",
    ]
    .iter()
    .any(|m| t.contains(m))
}

pub(crate) fn parse_line(ctx: &mut Ctx<'_>, n: u32, line: &str) {
    let t = line.trim();
    if t.is_empty() || t.starts_with('!') || (t.starts_with('[') && t.ends_with(']')) {
        return;
    }
    // `# comment` (hosts-style) vs `##.ad` (cosmetic)
    if t == "#" || t.starts_with("# ") || t.starts_with("#\t") {
        return;
    }
    if t.starts_with("@@") || is_cosmetic(t) {
        ctx.skip();
        return;
    }
    let Some(rule) = t.strip_prefix("||") else {
        ctx.skip();
        return;
    };
    let (pattern, options) = match rule.find('$') {
        Some(i) => (&rule[..i], Some(&rule[i + 1..])),
        None => (rule, None),
    };
    if let Some(opts) = options {
        for opt in opts.split(',') {
            if option_is_neutral(opt) != Some(true) {
                ctx.skip();
                return;
            }
        }
    }
    let end = pattern.find(['^', '/', '|']).unwrap_or(pattern.len());
    let (host, tail) = pattern.split_at(end);
    let host = host.strip_prefix("*.").unwrap_or(host);
    if host.contains('*') || host.contains(':') {
        ctx.skip();
        return;
    }
    if host.is_empty() {
        ctx.warn(n, format!("{}: no domain after `||`", quote(t)));
        return;
    }
    if let Some(path) = tail.strip_prefix('/') {
        let path = path.strip_suffix('|').unwrap_or(path);
        let path = path.strip_suffix('^').unwrap_or(path);
        if path.contains(['*', '^', '|']) {
            ctx.skip();
            return;
        }
        let full = format!("/{path}");
        url_entry(ctx, n, t, host, &full);
        return;
    }
    if !matches!(tail, "" | "^" | "^|" | "|") {
        ctx.skip();
        return;
    }
    ctx.domain_or_warn(host, MatchScope::Subdomains, n);
}

#[cfg(test)]
mod tests {
    use crate::lists::tests_support::{Collect, Entry};
    use crate::lists::{ListFormat, load_str};
    use std::path::Path;

    #[test]
    fn adblock_rules() {
        let text = "[Adblock Plus 2.0]\n\
                    ! Title: test\n\
                    ||ads.example^\n\
                    ||Track.Example^$third-party,important\n\
                    ||plain.example\n\
                    ||x.example/ads/banner^\n\
                    @@||ok.example^\n\
                    example.com##.banner\n\
                    ##.ad\n\
                    ||y.example^$domain=a.com\n\
                    /ads\\d+/\n\
                    ads.\n\
                    ||ad*.example^\n\
                    ||z.example^$popup\n\
                    ||bad..example^\n\
                    ||w.example^$unknownopt\n\
                    |https://q.example/\n\
                    # a comment\n\
                    ||v.example^|\n";
        let mut c = Collect::default();
        let s = load_str(Path::new("a"), text, ListFormat::Adblock, &mut c).unwrap();
        assert_eq!(
            c.entries,
            [
                Entry::sub("ads.example", 3),
                Entry::sub("track.example", 4),
                Entry::sub("plain.example", 5),
                Entry::url("x.example", "/ads/banner", 6),
                Entry::sub("v.example", 19),
            ]
        );
        assert_eq!(s.warnings.iter().map(|w| w.line).collect::<Vec<_>>(), [15]);
        assert_eq!(s.skipped, 10);
    }
}

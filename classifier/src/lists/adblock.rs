//! Adblock-style lists (EasyList, EasyPrivacy, AdGuard DNS filter, uBlock lists): the network
//! rules a gateway can apply, with adblock's own meaning (see `docs/lists.md`).
//!
//! - `||example.com^` (also without `^`, or with `^|`) → the domain and its subdomains;
//! - a bare hostname or IP address (`example.com`, `203.0.113.7`), as uBlock lists write them
//!   → the same as `||example.com^`;
//! - `||name.` (a trailing dot) → `name` followed by any suffix: `||adservice.google.` blocks
//!   `adservice.google.com` and `adservice.google.co.uk`, `||192.168.` that range;
//! - `||example.com/path` → URL entry compared the adblock way: a case-insensitive prefix
//!   (`/path?` matches `/path?x=1`), a trailing `^` asks for a separator or the end, a trailing
//!   `|` for the end, `$match-case` for a case-sensitive comparison;
//! - `@@` exceptions of those shapes are kept: they carve requests out of the blocks of the
//!   list's category (`@@||ok.example^` lifts `||example^` for `ok.example`);
//! - options after `$` are accepted when they keep the rule a plain network block
//!   (`third-party`, `important`, resource types, `all`, `match-case` ...); a rule limited to
//!   resource types a proxy cannot tell apart (`$ping`, `$websocket`, `$beacon` ...) would
//!   block the whole site instead, and is skipped; so is a rule with an option that narrows it
//!   to some pages, clients or record types, or turns it into something other than a block
//!   (`domain=`, `badfilter`, `redirect`, `csp`, `removeparam`, `dnsrewrite`, `popup` ...), or
//!   an option we do not know;
//! - cosmetic and scriptlet rules (`##`, `#@#`, `#?#`, `#$#`, `#%#`), HTML filters (`$$`),
//!   regex rules (`/.../`), rules that are not domain-anchored (`ads.`, `/banner-`,
//!   `|https://...`) and wildcards in the host or path (`||ad*.example^`) are skipped: a
//!   gateway cannot apply them to a whole domain without blocking far more (or less) than the
//!   list meant.
//!
//! Skipped rules are counted per [`SkipReason`], not reported as warnings: they are valid rules
//! for a browser extension, just not for a network filter. `!` lines and `[Adblock Plus 2.0]`
//! headers are comments.

use super::SkipReason;
use super::lines::{Ctx, quote};
use super::normalize_list_domain;
use crate::domains::MatchScope;
use crate::urls::{PathEnd, PathMatch};

/// Resource types a proxy cannot tell from the page's other requests: a rule limited to them
/// would block the whole site.
const UNSEEN_TYPES: [&str; 5] = ["ping", "beacon", "websocket", "webrtc", "csp_report"];

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

/// What a rule's options allow.
struct Options {
    match_case: bool,
}

/// Reads a rule's options, or says why the rule is skipped.
fn read_options(opts: Option<&str>, exception: bool) -> Result<Options, SkipReason> {
    let mut options = Options { match_case: false };
    let Some(opts) = opts else {
        return Ok(options);
    };
    let (mut seen_types, mut unseen_types) = (0, 0);
    for opt in opts.split(',') {
        match option_is_neutral(opt) {
            Some(true) => {}
            _ => return Err(SkipReason::UnsupportedOption),
        }
        let o = opt.trim().to_ascii_lowercase();
        if o == "match-case" {
            options.match_case = true;
        }
        if o.starts_with('~') {
            continue;
        }
        if UNSEEN_TYPES.contains(&o.as_str()) {
            unseen_types += 1;
        } else if is_resource_type(&o) {
            seen_types += 1;
        }
    }
    if unseen_types > 0 && seen_types == 0 {
        return Err(SkipReason::ResourceType);
    }
    // An exception for some resource types only would lift the block for the whole host.
    if exception && (seen_types > 0 || unseen_types > 0) {
        return Err(SkipReason::Exception);
    }
    Ok(options)
}

fn is_resource_type(o: &str) -> bool {
    !matches!(
        o,
        "third-party"
            | "3p"
            | "first-party"
            | "1p"
            | "important"
            | "match-case"
            | "strict1p"
            | "strict3p"
            | "all"
            | "document"
            | "doc"
    ) && !o.starts_with("method")
}

/// Whether a bare pattern is a hostname or IPv4 address uBlock reads as `||pattern^`: only
/// hostname characters, and at least one dot.
fn is_bare_host(p: &str) -> bool {
    p.contains('.')
        && !p.starts_with('.')
        && !p.ends_with('.')
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
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
    if is_cosmetic(t) {
        ctx.skip(SkipReason::Cosmetic);
        return;
    }
    let (exception, rule) = match t.strip_prefix("@@") {
        Some(r) => (true, r),
        None => (false, t),
    };
    if rule.starts_with('/') || (rule.starts_with('|') && !rule.starts_with("||")) {
        ctx.skip(SkipReason::NotDomainAnchored);
        return;
    }
    let (pattern, options) = match rule.rfind('$') {
        Some(i) => (&rule[..i], Some(&rule[i + 1..])),
        None => (rule, None),
    };
    let options = match read_options(options, exception) {
        Ok(o) => o,
        Err(reason) => {
            ctx.skip(reason);
            return;
        }
    };
    let anchored = match pattern.strip_prefix("||") {
        Some(p) => p,
        None if is_bare_host(pattern) => pattern,
        None => {
            ctx.skip(SkipReason::NotDomainAnchored);
            return;
        }
    };
    let end = anchored.find(['^', '/', '|']).unwrap_or(anchored.len());
    let (host, tail) = anchored.split_at(end);
    let host = host.strip_prefix("*.").unwrap_or(host);
    if host.contains(['*', ':']) {
        ctx.skip(SkipReason::Wildcard);
        return;
    }
    if host.is_empty() {
        ctx.warn(n, format!("{}: no domain after `||`", quote(t)));
        return;
    }
    if let Some(path) = tail.strip_prefix('/') {
        path_rule(ctx, n, t, exception, host, path, options.match_case);
        return;
    }
    if !matches!(tail, "" | "^" | "^|" | "|") {
        ctx.skip(SkipReason::Wildcard);
        return;
    }
    let Ok(name) = normalize_list_domain(host) else {
        // Let the usual message name what is wrong.
        ctx.domain_or_warn(host, MatchScope::Subdomains, n);
        return;
    };
    match (exception, host.ends_with('.') && tail.is_empty()) {
        (false, false) => ctx.domain(&name, MatchScope::Subdomains, n),
        (false, true) => ctx.domain_prefix(&name, n),
        (true, false) => ctx.exception_domain(&name, n),
        // An exception for every suffix of a name: too wide to carve out safely.
        (true, true) => ctx.skip(SkipReason::Exception),
    }
}

/// `||host/path…`: a URL rule or exception with adblock path semantics.
fn path_rule(
    ctx: &mut Ctx<'_>,
    n: u32,
    whole: &str,
    exception: bool,
    host: &str,
    path: &str,
    match_case: bool,
) {
    let (path, end) = if let Some(p) = path.strip_suffix("^|") {
        (p, PathEnd::Separator)
    } else if let Some(p) = path.strip_suffix('|') {
        (p, PathEnd::End)
    } else if let Some(p) = path.strip_suffix('^') {
        (p, PathEnd::Separator)
    } else {
        // A trailing `*` adds nothing to a prefix.
        (path.trim_end_matches('*'), PathEnd::Any)
    };
    if path.contains(['*', '^', '|']) {
        ctx.skip(SkipReason::Wildcard);
        return;
    }
    if host.ends_with('.') {
        ctx.skip(SkipReason::Wildcard);
        return;
    }
    let host = match normalize_list_domain(host) {
        Ok(h) => h,
        Err(e) => {
            ctx.warn(n, format!("{}: {e}", quote(whole)));
            return;
        }
    };
    let full = format!("/{path}");
    let full = full.split('#').next().unwrap_or(&full);
    let how = PathMatch::Adblock { end, match_case };
    if exception {
        ctx.exception_url(&host, full, how, n);
    } else {
        ctx.url_with(&host, full, how, n);
    }
}

#[cfg(test)]
mod tests {
    use crate::lists::tests_support::{Collect, Entry};
    use crate::lists::{ListFormat, LoadStats, SkipReason, load_str};
    use crate::urls::{PathEnd, PathMatch};
    use std::path::Path;

    fn load(text: &str) -> (Vec<Entry>, LoadStats) {
        let mut c = Collect::default();
        let s = load_str(Path::new("a"), text, ListFormat::Adblock, &mut c).unwrap();
        (c.entries, s)
    }

    fn prefix(end: PathEnd) -> PathMatch {
        PathMatch::Adblock {
            end,
            match_case: false,
        }
    }

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
        let (entries, s) = load(text);
        assert_eq!(
            entries,
            [
                Entry::sub("ads.example", 3),
                Entry::sub("track.example", 4),
                Entry::sub("plain.example", 5),
                Entry::AdblockUrl(
                    "x.example".into(),
                    "/ads/banner".into(),
                    prefix(PathEnd::Separator),
                    6
                ),
                Entry::ExceptDomain("ok.example".into(), 7),
                Entry::sub("v.example", 19),
            ]
        );
        assert_eq!(s.warnings.iter().map(|w| w.line).collect::<Vec<_>>(), [15]);
        assert_eq!(s.skipped, 9);
        assert_eq!(s.exceptions, 1);
        let by = |r| s.skips.get(r);
        assert_eq!(by(SkipReason::Cosmetic), 2);
        assert_eq!(by(SkipReason::UnsupportedOption), 3);
        assert_eq!(by(SkipReason::NotDomainAnchored), 3);
        assert_eq!(by(SkipReason::Wildcard), 1);
        assert_eq!(s.skips.total(), s.skipped);
    }

    #[test]
    fn bare_hosts_and_addresses_are_domain_rules() {
        // uBlock's URLhaus and badware lists write hosts and IPs without `||…^`.
        let (entries, s) = load(
            "0-0-0-0-0-0proxy.000webhostapp.com\n\
             103.14.120.121\n\
             Example.ORG$doc\n\
             banner\n",
        );
        assert_eq!(
            entries,
            [
                Entry::sub("0-0-0-0-0-0proxy.000webhostapp.com", 1),
                Entry::sub("103.14.120.121", 2),
                Entry::sub("example.org", 3),
            ]
        );
        assert_eq!(s.skips.get(SkipReason::NotDomainAnchored), 1);
    }

    #[test]
    fn a_trailing_dot_is_any_suffix() {
        let (entries, _) = load("||adservice.google.\n||192.168.\n||example.com.^\n");
        assert_eq!(
            entries,
            [
                Entry::Prefix("adservice.google".into(), 1),
                Entry::Prefix("192.168".into(), 2),
                Entry::sub("example.com", 3),
            ]
        );
    }

    #[test]
    fn path_rules_keep_their_anchors_and_case() {
        let (entries, _) = load(
            "||a.example/path?\n\
             ||a.example/prefix-\n\
             ||a.example/x.js|\n\
             ||a.example/Y/$match-case\n\
             ||a.example/z/*\n\
             ||a.example/w*/v\n",
        );
        let url = |p: &str, how, n| Entry::AdblockUrl("a.example".into(), p.into(), how, n);
        assert_eq!(
            entries,
            [
                url("/path?", prefix(PathEnd::Any), 1),
                url("/prefix-", prefix(PathEnd::Any), 2),
                url("/x.js", prefix(PathEnd::End), 3),
                url(
                    "/Y/",
                    PathMatch::Adblock {
                        end: PathEnd::Any,
                        match_case: true
                    },
                    4
                ),
                url("/z/", prefix(PathEnd::Any), 5),
            ]
        );
    }

    #[test]
    fn rules_for_unseen_resource_types_are_skipped() {
        let (entries, s) = load(
            "||scholar.example^$ping\n\
             ||sound.example^$websocket,third-party\n\
             ||both.example^$script,ping\n\
             ||not.example^$~ping\n\
             @@||cdn.example^$script\n\
             @@||page.example^$document\n",
        );
        assert_eq!(
            entries,
            [
                Entry::sub("both.example", 3),
                Entry::sub("not.example", 4),
                Entry::ExceptDomain("page.example".into(), 6),
            ]
        );
        assert_eq!(s.skips.get(SkipReason::ResourceType), 2);
        assert_eq!(s.skips.get(SkipReason::Exception), 1);
    }
}

//! Search query extraction: given a normalised host, a path and a raw query string, say whether
//! the request is a search on a known engine or site and, if so, decode what was searched for.
//!
//! The terms feed the weekly *Suspicious Search* report and the immediate alerts, so two things
//! matter more than anything else here:
//!
//! - **No false engines.** Hosts are matched on the registrable domain, never on a substring:
//!   `google.com.evil.example` and `notgoogle.com` are not Google.
//! - **No missed terms.** When a parameter appears more than once (`q=maths&q=...`) every
//!   non-empty value is kept, joined with a space, so a second copy cannot hide what was typed.
//!
//! [`ENGINES`] is a static table, checked in order; the first row whose host, path, extra
//! condition and terms all match wins, so more specific rows (image search, autocomplete) come
//! before the general one for the same site. `docs/search-engines.md` is generated from it (a
//! test keeps the two in step) and `lychgate explain` can list it.
//!
//! [`extract`] runs for every request: it does not allocate, apart from growing the caller's
//! `terms` buffer.

use crate::host::hex_pair;
use std::fmt;

/// A recognised search request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchMatch {
    /// Engine or site name, e.g. `google`.
    pub engine: &'static str,
    /// A suggestion/autocomplete endpoint: terms may be half-typed prefixes.
    pub suggest: bool,
}

/// Which hosts a table row applies to. Hosts are already lower-case ASCII (punycode) with no
/// trailing dot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostPattern {
    /// The domain itself or any subdomain of it: `Domain("bing.com")` matches `bing.com`,
    /// `www.bing.com` and `cn.bing.com`, not `notbing.com` or `bing.com.evil.example`.
    Domain(&'static str),
    /// The brand under any country or `.com` top-level domain, and any subdomain of that:
    /// `AnyTld("google")` matches `google.com`, `www.google.co.uk`, `google.de`,
    /// `www.google.com.au`, `suggestqueries.google.com`. The part after the brand must be `com`,
    /// a two-letter country code, or `co.`/`com.` + a two-letter country code.
    AnyTld(&'static str),
    /// Like [`HostPattern::AnyTld`] but only the bare domain and its `www.` host: for paths
    /// that mean something else on other subdomains (`maps.google.com/?q=` is a map, not a
    /// web search).
    AnyTldWww(&'static str),
}

/// Which paths a table row applies to. Compared ASCII case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathCondition {
    /// The whole path.
    Exact(&'static str),
    /// The path starts with this.
    Prefix(&'static str),
    /// The path ends with this (Reddit's `/r/<name>/search`).
    Suffix(&'static str),
    /// Any path.
    Any,
}

/// Where the search terms are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terms {
    /// A query-string parameter, e.g. `q`. Names are case-sensitive.
    Param(&'static str),
    /// The path segment right after the matched [`PathCondition::Prefix`] (Spotify's
    /// `/search/<terms>`). `+` stays a plus sign here; only `%XX` escapes are decoded.
    PathSegment,
}

/// One row of the engine table.
#[derive(Debug, Clone, Copy)]
pub struct Engine {
    /// Engine or site name reported in [`SearchMatch::engine`] (several rows may share it).
    pub name: &'static str,
    /// The row applies when any of these match the host.
    pub hosts: &'static [HostPattern],
    /// ... and any of these match the path.
    pub paths: &'static [PathCondition],
    /// ... and, unless empty, the query has one of these `name=value` pairs (exact raw value),
    /// e.g. Google image search is `/search?...&tbm=isch`.
    pub requires_any: &'static [(&'static str, &'static str)],
    /// Where the terms are.
    pub terms: Terms,
    /// An autocomplete/suggestion endpoint: terms are often half-typed prefixes.
    pub suggest: bool,
    /// A real-looking example URL (tested: it must be recognised by this row).
    pub example: &'static str,
}

use HostPattern::{AnyTld, AnyTldWww, Domain};
use PathCondition::{Any, Exact, Prefix, Suffix};
use Terms::{Param, PathSegment};

const GOOGLE: &[HostPattern] = &[AnyTld("google")];
const BING: &[HostPattern] = &[Domain("bing.com")];
const DDG: &[HostPattern] = &[Domain("duckduckgo.com")];
const YOUTUBE: &[HostPattern] = &[Domain("youtube.com")];
const WIKIPEDIA: &[HostPattern] = &[Domain("wikipedia.org")];
const AMAZON: &[HostPattern] = &[AnyTld("amazon")];
const BAIDU: &[HostPattern] = &[Domain("baidu.com")];
const BRAVE: &[HostPattern] = &[Domain("search.brave.com")];
const STARTPAGE: &[HostPattern] = &[Domain("startpage.com")];
const STARTPAGE_PATHS: &[PathCondition] = &[
    Prefix("/sp/search"),
    Prefix("/do/search"),
    Prefix("/do/dsearch"),
    Exact("/search"),
];
const YAHOO: &[HostPattern] = &[Domain("search.yahoo.com"), Domain("search.yahoo.co.jp")];

const fn row(
    name: &'static str,
    hosts: &'static [HostPattern],
    paths: &'static [PathCondition],
    terms: Terms,
    example: &'static str,
) -> Engine {
    Engine {
        name,
        hosts,
        paths,
        requires_any: &[],
        terms,
        suggest: false,
        example,
    }
}

const fn suggest(
    name: &'static str,
    hosts: &'static [HostPattern],
    paths: &'static [PathCondition],
    terms: Terms,
    example: &'static str,
) -> Engine {
    Engine {
        suggest: true,
        ..row(name, hosts, paths, terms, example)
    }
}

const fn when(mut engine: Engine, requires_any: &'static [(&'static str, &'static str)]) -> Engine {
    engine.requires_any = requires_any;
    engine
}

/// The known search engines and sites, checked in order (first match wins).
pub static ENGINES: &[Engine] = &[
    // Google: image search and YouTube's suggestions share paths with the general rows, so
    // they come first.
    when(
        row(
            "google-images",
            GOOGLE,
            &[Exact("/search")],
            Param("q"),
            "https://www.google.co.uk/search?q=cute+puppies&tbm=isch",
        ),
        &[("tbm", "isch"), ("udm", "2")],
    ),
    row(
        "google-images",
        GOOGLE,
        &[Exact("/images"), Exact("/imghp")],
        Param("q"),
        "https://images.google.com/images?q=tigers",
    ),
    when(
        suggest(
            "youtube",
            GOOGLE,
            &[Exact("/complete/search")],
            Param("q"),
            "https://suggestqueries.google.com/complete/search?client=youtube&ds=yt&q=minecr",
        ),
        &[("ds", "yt")],
    ),
    suggest(
        "google",
        GOOGLE,
        &[Exact("/complete/search")],
        Param("q"),
        "https://www.google.com/complete/search?q=how+to+dr&client=gws-wiz",
    ),
    row(
        "google-play",
        &[Domain("play.google.com")],
        &[Exact("/store/search")],
        Param("q"),
        "https://play.google.com/store/search?q=roblox&c=apps",
    ),
    row(
        "google",
        GOOGLE,
        &[Exact("/search"), Exact("/webhp")],
        Param("q"),
        "https://www.google.com/search?q=volcano+facts",
    ),
    row(
        "google",
        &[AnyTldWww("google")],
        &[Exact("/")],
        Param("q"),
        "https://www.google.de/?q=hausaufgaben",
    ),
    // Bing
    row(
        "bing-images",
        BING,
        &[Prefix("/images/")],
        Param("q"),
        "https://www.bing.com/images/search?q=sharks&form=HDRSC2",
    ),
    suggest(
        "bing",
        BING,
        &[Exact("/AS/Suggestions")],
        Param("qry"),
        "https://www.bing.com/AS/Suggestions?pt=page.serp&qry=dinosa&cp=6",
    ),
    suggest(
        "bing",
        BING,
        &[Exact("/osjson.aspx")],
        Param("query"),
        "https://www.bing.com/osjson.aspx?query=weath",
    ),
    row(
        "bing",
        BING,
        &[
            Exact("/search"),
            Exact("/videos/search"),
            Exact("/news/search"),
            Exact("/shop"),
        ],
        Param("q"),
        "https://www.bing.com/search?q=times+tables&form=QBLH",
    ),
    // DuckDuckGo
    suggest(
        "duckduckgo",
        DDG,
        &[Exact("/ac/"), Exact("/ac")],
        Param("q"),
        "https://duckduckgo.com/ac/?q=lego+st&kl=uk-en",
    ),
    row(
        "duckduckgo",
        DDG,
        &[
            Exact("/"),
            Exact("/html"),
            Exact("/html/"),
            Exact("/lite"),
            Exact("/lite/"),
        ],
        Param("q"),
        "https://html.duckduckgo.com/html/?q=rainforest+animals",
    ),
    // Yahoo
    suggest(
        "yahoo",
        YAHOO,
        &[Prefix("/sugg/")],
        Param("command"),
        "https://search.yahoo.com/sugg/gossip/gossip-us-ura/?output=sd1&command=plan",
    ),
    row(
        "yahoo",
        YAHOO,
        &[Prefix("/search")],
        Param("p"),
        "https://uk.search.yahoo.com/search;_ylt=AwrFGq?p=planets&fr=yfp-t",
    ),
    // Ecosia
    suggest(
        "ecosia",
        &[Domain("ac.ecosia.org")],
        &[Prefix("/autocomplete")],
        Param("q"),
        "https://ac.ecosia.org/autocomplete?q=tre&type=list",
    ),
    row(
        "ecosia",
        &[Domain("ecosia.org")],
        &[
            Exact("/search"),
            Exact("/images"),
            Exact("/videos"),
            Exact("/news"),
        ],
        Param("q"),
        "https://www.ecosia.org/search?method=index&q=recycling",
    ),
    // YouTube
    suggest(
        "youtube",
        YOUTUBE,
        &[Exact("/complete/search")],
        Param("q"),
        "https://suggestqueries-clients6.youtube.com/complete/search?client=youtube&ds=yt&q=pepp",
    ),
    row(
        "youtube",
        YOUTUBE,
        &[Exact("/results")],
        Param("search_query"),
        "https://www.youtube.com/results?search_query=peppa+pig",
    ),
    row(
        "youtube",
        &[Domain("music.youtube.com")],
        &[Exact("/search")],
        Param("q"),
        "https://music.youtube.com/search?q=frozen+songs",
    ),
    // Wikipedia
    when(
        suggest(
            "wikipedia",
            WIKIPEDIA,
            &[Exact("/w/api.php")],
            Param("search"),
            "https://en.wikipedia.org/w/api.php?action=opensearch&format=json&search=egyp",
        ),
        &[("action", "opensearch")],
    ),
    suggest(
        "wikipedia",
        WIKIPEDIA,
        &[Prefix("/w/rest.php/v1/search/title")],
        Param("q"),
        "https://en.wikipedia.org/w/rest.php/v1/search/title?q=roma&limit=10",
    ),
    row(
        "wikipedia",
        WIKIPEDIA,
        &[
            Exact("/w/index.php"),
            Exact("/wiki/Special:Search"),
            Exact("/wiki/Special%3ASearch"),
        ],
        Param("search"),
        "https://en.wikipedia.org/w/index.php?title=Special:Search&search=ancient+egypt",
    ),
    row(
        "wikipedia",
        WIKIPEDIA,
        &[
            Prefix("/wiki/Special:Search/"),
            Prefix("/wiki/Special%3ASearch/"),
        ],
        PathSegment,
        "https://simple.wikipedia.org/wiki/Special:Search/volcano",
    ),
    // Child-safe search engines
    row(
        "kiddle",
        &[Domain("kiddle.co")],
        &[Exact("/s.php"), Exact("/i.php")],
        Param("q"),
        "https://www.kiddle.co/s.php?q=solar+system",
    ),
    row(
        "swiggle",
        &[Domain("swiggle.org.uk")],
        &[Any],
        Param("q"),
        "https://swiggle.org.uk/?q=castles",
    ),
    // Shopping
    suggest(
        "amazon",
        AMAZON,
        &[Prefix("/api/2017/suggestions")],
        Param("prefix"),
        "https://completion.amazon.co.uk/api/2017/suggestions?mid=A1F83G8C2ARO7P&prefix=nerf+g",
    ),
    row(
        "amazon",
        AMAZON,
        &[Exact("/s"), Exact("/s/")],
        Param("k"),
        "https://www.amazon.co.uk/s?k=nerf+gun&crid=2M096C61O4MLT",
    ),
    row(
        "amazon",
        AMAZON,
        &[Exact("/s"), Prefix("/s/")],
        Param("field-keywords"),
        "https://www.amazon.com/s/ref=nb_sb_noss?url=search-alias%3Daps&field-keywords=lego",
    ),
    row(
        "ebay",
        &[AnyTld("ebay")],
        &[Prefix("/sch/")],
        Param("_nkw"),
        "https://www.ebay.co.uk/sch/i.html?_from=R40&_nkw=pokemon+cards",
    ),
    row(
        "etsy",
        &[AnyTld("etsy")],
        &[Suffix("/search")],
        Param("q"),
        "https://www.etsy.com/uk/search?q=slime",
    ),
    // Social media and video
    row(
        "tiktok",
        &[Domain("tiktok.com")],
        &[Exact("/search"), Prefix("/search/")],
        Param("q"),
        "https://www.tiktok.com/search?q=dance+challenge&t=1700000000000",
    ),
    row(
        "pinterest",
        &[AnyTld("pinterest")],
        &[Prefix("/search/")],
        Param("q"),
        "https://uk.pinterest.com/search/pins/?q=craft+ideas&rs=typed",
    ),
    row(
        "reddit",
        &[Domain("reddit.com")],
        &[Suffix("/search"), Suffix("/search/")],
        Param("q"),
        "https://www.reddit.com/r/Minecraft/search/?q=redstone&restrict_sr=1",
    ),
    row(
        "twitter",
        &[Domain("twitter.com"), Domain("x.com")],
        &[Exact("/search")],
        Param("q"),
        "https://x.com/search?q=football&src=typed_query",
    ),
    row(
        "instagram",
        &[Domain("instagram.com")],
        &[
            Exact("/explore/search/keyword/"),
            Exact("/explore/search/keyword"),
        ],
        Param("q"),
        "https://www.instagram.com/explore/search/keyword/?q=puppies",
    ),
    row(
        "instagram",
        &[Domain("instagram.com")],
        &[Prefix("/explore/tags/")],
        PathSegment,
        "https://www.instagram.com/explore/tags/puppies/",
    ),
    row(
        "facebook",
        &[Domain("facebook.com")],
        &[Prefix("/search/"), Exact("/search")],
        Param("q"),
        "https://www.facebook.com/search/top/?q=school+fete",
    ),
    row(
        "spotify",
        &[Domain("open.spotify.com")],
        &[Prefix("/search/")],
        PathSegment,
        "https://open.spotify.com/search/taylor%20swift",
    ),
    row(
        "vimeo",
        &[Domain("vimeo.com")],
        &[Exact("/search")],
        Param("q"),
        "https://vimeo.com/search?q=animation",
    ),
    row(
        "twitch",
        &[Domain("twitch.tv")],
        &[Exact("/search")],
        Param("term"),
        "https://www.twitch.tv/search?term=fortnite",
    ),
    // Other web search engines
    row(
        "yandex",
        &[AnyTld("yandex"), Domain("ya.ru")],
        &[
            Prefix("/search"),
            Prefix("/images/search"),
            Prefix("/video/search"),
        ],
        Param("text"),
        "https://yandex.com/search/?text=weather&lr=10393",
    ),
    row(
        "baidu",
        BAIDU,
        &[Exact("/s"), Exact("/s/")],
        Param("wd"),
        "https://www.baidu.com/s?ie=utf-8&wd=%E5%A4%A9%E6%B0%94",
    ),
    row(
        "baidu",
        BAIDU,
        &[Exact("/s"), Exact("/s/"), Prefix("/search/")],
        Param("word"),
        "https://m.baidu.com/s?word=panda",
    ),
    suggest(
        "brave",
        BRAVE,
        &[Exact("/api/suggest")],
        Param("q"),
        "https://search.brave.com/api/suggest?q=spel&rich=true",
    ),
    row(
        "brave",
        BRAVE,
        &[
            Exact("/search"),
            Exact("/images"),
            Exact("/videos"),
            Exact("/news"),
        ],
        Param("q"),
        "https://search.brave.com/search?q=spelling+games&source=web",
    ),
    row(
        "startpage",
        STARTPAGE,
        STARTPAGE_PATHS,
        Param("query"),
        "https://www.startpage.com/sp/search?query=rivers&cat=web",
    ),
    row(
        "startpage",
        STARTPAGE,
        STARTPAGE_PATHS,
        Param("q"),
        "https://www.startpage.com/do/search?q=mountains",
    ),
    suggest(
        "qwant",
        &[Domain("api.qwant.com")],
        &[Prefix("/v3/suggest")],
        Param("q"),
        "https://api.qwant.com/v3/suggest?q=chat&locale=en_GB",
    ),
    row(
        "qwant",
        &[Domain("qwant.com"), Domain("qwantjunior.com")],
        &[Exact("/"), Exact("/search")],
        Param("q"),
        "https://www.qwant.com/?q=chateau&t=web",
    ),
    row(
        "ask",
        &[Domain("ask.com")],
        &[Exact("/web")],
        Param("q"),
        "https://www.ask.com/web?q=how+do+magnets+work",
    ),
    row(
        "aol",
        &[Domain("search.aol.com"), Domain("search.aol.co.uk")],
        &[Prefix("/aol/search")],
        Param("q"),
        "https://search.aol.co.uk/aol/search?q=fireworks",
    ),
    row(
        "dogpile",
        &[Domain("dogpile.com")],
        &[Exact("/serp")],
        Param("q"),
        "https://www.dogpile.com/serp?q=space+rockets",
    ),
    row(
        "mojeek",
        &[Domain("mojeek.com")],
        &[Exact("/search")],
        Param("q"),
        "https://www.mojeek.com/search?q=tudors",
    ),
    row(
        "kagi",
        &[Domain("kagi.com")],
        &[Exact("/search")],
        Param("q"),
        "https://kagi.com/search?q=fractions",
    ),
];

/// The site label (the label before the public suffix, see [`site_label`]) of every host
/// pattern in [`ENGINES`], sorted: a host whose site label is not here is no search engine.
/// A test checks this list against the table.
pub static SITES: &[&str] = &[
    "amazon",
    "aol",
    "ask",
    "baidu",
    "bing",
    "brave",
    "dogpile",
    "duckduckgo",
    "ebay",
    "ecosia",
    "etsy",
    "facebook",
    "google",
    "instagram",
    "kagi",
    "kiddle",
    "mojeek",
    "pinterest",
    "qwant",
    "qwantjunior",
    "reddit",
    "spotify",
    "startpage",
    "swiggle",
    "tiktok",
    "twitch",
    "twitter",
    "vimeo",
    "wikipedia",
    "x",
    "ya",
    "yahoo",
    "yandex",
    "youtube",
];

/// Second-level labels under a two-letter country code that are part of the public suffix
/// (`co.uk`, `org.uk`, `com.au` ...), for [`site_label`].
const SECOND_LEVEL: &[&str] = &[
    "ac", "co", "com", "edu", "go", "gov", "ltd", "ne", "net", "or", "org", "plc", "sch",
];

/// The label just before the public suffix, by a simple rule that needs no suffix list: the
/// second-last label, or the third-last when the last is a two-letter country code and the
/// second-last is one of `co`, `com`, `org` ... (`www.google.co.uk` → `google`,
/// `en.wikipedia.org` → `wikipedia`, `www.kiddle.co` → `kiddle`).
pub fn site_label(host: &str) -> &str {
    // Plain byte scans from the end: this runs on every request, and hosts are short, so a
    // simple loop beats both a `rsplit` iterator and `rfind`'s searcher set-up.
    let last_dot_before = |end: usize| host.as_bytes()[..end].iter().rposition(|&b| b == b'.');
    let Some(last_dot) = last_dot_before(host.len()) else {
        return host;
    };
    let tld = &host[last_dot + 1..];
    let second_start = last_dot_before(last_dot).map_or(0, |i| i + 1);
    let second = &host[second_start..last_dot];
    if second_start > 0 && is_country_code(tld) && SECOND_LEVEL.contains(&second) {
        let third_start = last_dot_before(second_start - 1).map_or(0, |i| i + 1);
        return &host[third_start..second_start - 1];
    }
    second
}

/// If the URL is a search, writes the decoded terms into `terms` and says which engine.
///
/// `host` is normalised (lower-case ASCII, punycode, no trailing dot), `path` starts with `/`,
/// `query` is the raw query string without `?`. Terms are percent-decoded (UTF-8; invalid
/// sequences become U+FFFD), `+` is a space in query parameters, whitespace and control
/// characters are trimmed and collapsed to single spaces. Returns `None` (with `terms` empty)
/// for anything that is not a search with non-empty terms.
///
/// Does not allocate, apart from growing `terms`.
pub fn extract(
    host: &str,
    path: &str,
    query: Option<&str>,
    terms: &mut String,
) -> Option<SearchMatch> {
    terms.clear();
    // Most requests are not to a search site: one binary search on the host's site label
    // turns them away before the table is scanned.
    if SITES.binary_search(&site_label(host)).is_err() {
        return None;
    }
    scan(host, path, query, terms)
}

/// The table scan behind [`extract`], without the [`SITES`] prefilter.
fn scan(host: &str, path: &str, query: Option<&str>, terms: &mut String) -> Option<SearchMatch> {
    let query = query.unwrap_or("");
    for engine in ENGINES {
        // The path first: most paths fail on their length alone, before any host comparison.
        let Some(rest) = engine.paths.iter().find_map(|p| p.matches(path)) else {
            continue;
        };
        if !engine.hosts.iter().any(|h| h.matches(host)) {
            continue;
        }
        if !engine.requires_any.is_empty()
            && !engine
                .requires_any
                .iter()
                .any(|&(name, value)| has_param_value(query, name, value))
        {
            continue;
        }
        match engine.terms {
            Param(name) => decode_param(query, name, terms),
            PathSegment => {
                let segment = rest.split('/').next().unwrap_or("");
                let mut w = TermWriter::new(terms);
                w.decode(segment, false);
                w.finish();
            }
        }
        if !terms.is_empty() {
            return Some(SearchMatch {
                engine: engine.name,
                suggest: engine.suggest,
            });
        }
    }
    None
}

/// The first row of [`ENGINES`] with this name.
pub fn engine(name: &str) -> Option<&'static Engine> {
    ENGINES.iter().find(|e| e.name == name)
}

/// The distinct engine names in table order.
pub fn engine_names() -> impl Iterator<Item = &'static str> {
    ENGINES
        .iter()
        .enumerate()
        .filter(|&(i, e)| !ENGINES[..i].iter().any(|p| p.name == e.name))
        .map(|(_, e)| e.name)
}

impl HostPattern {
    /// Whether a normalised host matches.
    pub fn matches(&self, host: &str) -> bool {
        match *self {
            Domain(domain) => is_domain_or_subdomain(host, domain),
            AnyTld(brand) => strip_any_tld(host)
                .into_iter()
                .flatten()
                .any(|rest| is_domain_or_subdomain(rest, brand)),
            AnyTldWww(brand) => strip_any_tld(host)
                .into_iter()
                .flatten()
                .any(|rest| rest == brand || rest.strip_prefix("www.") == Some(brand)),
        }
    }
}

impl PathCondition {
    /// If the path matches, the rest of the path after the matched part (empty for `Exact` and
    /// `Suffix`, the whole path for `Any`).
    pub fn matches<'p>(&self, path: &'p str) -> Option<&'p str> {
        let b = path.as_bytes();
        match *self {
            Exact(p) => path.eq_ignore_ascii_case(p).then_some(""),
            // The patterns are ASCII, so a case-insensitive match ends on a char boundary.
            Prefix(p) => (b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
                .then(|| path.get(p.len()..))
                .flatten(),
            Suffix(p) => (b.len() >= p.len()
                && b[b.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes()))
            .then_some(""),
            Any => Some(path),
        }
    }
}

/// `host` is `domain` or ends with `.domain`.
fn is_domain_or_subdomain(host: &str, domain: &str) -> bool {
    match host.strip_suffix(domain) {
        Some("") => true,
        Some(rest) => rest.ends_with('.'),
        None => false,
    }
}

fn is_country_code(label: &str) -> bool {
    label.len() == 2 && label.bytes().all(|b| b.is_ascii_lowercase())
}

/// The host without its public suffix, for the suffixes brands use: `com`, `<cc>`,
/// `co.<cc>`, `com.<cc>`. Up to two candidates (`www.google.co.uk` → `www.google.co` and
/// `www.google`).
fn strip_any_tld(host: &str) -> [Option<&str>; 2] {
    let Some((rest, tld)) = host.rsplit_once('.') else {
        return [None, None];
    };
    if tld == "com" {
        return [Some(rest), None];
    }
    if !is_country_code(tld) {
        return [None, None];
    }
    let second = rest
        .rsplit_once('.')
        .filter(|&(_, sld)| sld == "co" || sld == "com")
        .map(|(r, _)| r);
    [Some(rest), second]
}

/// The raw value of each `name=value` pair in a query string.
fn param_values<'q>(query: &'q str, name: &'q str) -> impl Iterator<Item = &'q str> + 'q {
    query.split('&').filter_map(move |pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

fn has_param_value(query: &str, name: &str, value: &str) -> bool {
    param_values(query, name).any(|v| v == value)
}

/// Decodes every non-empty value of the parameter, joined by a space.
fn decode_param(query: &str, name: &str, terms: &mut String) {
    let mut w = TermWriter::new(terms);
    for value in param_values(query, name) {
        w.separate();
        w.decode(value, true);
        w.finish();
    }
}

/// Streams decoded bytes into the terms: UTF-8 assembled across `%XX` escapes, invalid
/// sequences replaced as `String::from_utf8_lossy` would, whitespace and control characters
/// collapsed, all without a temporary buffer.
struct TermWriter<'a> {
    out: &'a mut String,
    pending: [u8; 4],
    pending_len: usize,
    space: bool,
}

impl<'a> TermWriter<'a> {
    fn new(out: &'a mut String) -> Self {
        TermWriter {
            out,
            pending: [0; 4],
            pending_len: 0,
            space: false,
        }
    }

    /// A word boundary (between two values of a repeated parameter).
    fn separate(&mut self) {
        self.space = true;
    }

    fn decode(&mut self, raw: &str, plus_is_space: bool) {
        let b = raw.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' if plus_is_space => {
                    self.char(' ');
                    i += 1;
                }
                b'%' => {
                    if let Some(decoded) = hex_pair(b, i + 1) {
                        self.byte(decoded);
                        i += 3;
                    } else {
                        self.byte(b'%');
                        i += 1;
                    }
                }
                byte => {
                    self.byte(byte);
                    i += 1;
                }
            }
        }
    }

    fn byte(&mut self, byte: u8) {
        if self.pending_len == 0 && byte.is_ascii() {
            self.char(byte as char);
            return;
        }
        self.pending[self.pending_len] = byte;
        self.pending_len += 1;
        loop {
            let buf = self.pending;
            let bytes = &buf[..self.pending_len];
            let consumed = match std::str::from_utf8(bytes) {
                Ok(s) => {
                    s.chars().for_each(|c| self.char(c));
                    self.pending_len
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    if let Ok(s) = std::str::from_utf8(&bytes[..valid]) {
                        s.chars().for_each(|c| self.char(c));
                    }
                    match e.error_len() {
                        // An incomplete sequence (at most 3 bytes): wait for more.
                        None => valid,
                        Some(bad) => {
                            self.char(char::REPLACEMENT_CHARACTER);
                            valid + bad
                        }
                    }
                }
            };
            self.pending.copy_within(consumed..self.pending_len, 0);
            self.pending_len -= consumed;
            if consumed == 0 || self.pending_len == 0 {
                return;
            }
        }
    }

    /// End of one value: a dangling partial sequence is invalid.
    fn finish(&mut self) {
        if self.pending_len > 0 {
            self.pending_len = 0;
            self.char(char::REPLACEMENT_CHARACTER);
        }
    }

    fn char(&mut self, c: char) {
        if c.is_whitespace() || c.is_control() {
            self.space = true;
        } else {
            if self.space && !self.out.is_empty() {
                self.out.push(' ');
            }
            self.space = false;
            self.out.push(c);
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain(d) => write!(f, "{d}, *.{d}"),
            AnyTld(b) => write!(f, "{b}.<tld>, *.{b}.<tld>"),
            AnyTldWww(b) => write!(f, "{b}.<tld>, www.{b}.<tld>"),
        }
    }
}

impl fmt::Display for PathCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exact(p) => write!(f, "{p}"),
            Prefix(p) => write!(f, "{p}*"),
            Suffix(p) => write!(f, "*{p}"),
            Any => write!(f, "any"),
        }
    }
}

impl fmt::Display for Terms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Param(p) => write!(f, "{p}="),
            PathSegment => write!(f, "path segment after the prefix"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(host: &str, path: &str, query: Option<&str>) -> Option<(&'static str, String, bool)> {
        let mut terms = String::from("stale");
        let m = extract(host, path, query, &mut terms);
        if m.is_none() {
            assert!(terms.is_empty());
        }
        m.map(|m| (m.engine, terms, m.suggest))
    }

    #[test]
    fn any_tld_matches_brand_domains_only() {
        let g = AnyTld("google");
        for host in [
            "google.com",
            "www.google.com",
            "www.google.co.uk",
            "google.de",
            "www.google.com.au",
            "suggestqueries.google.com",
        ] {
            assert!(g.matches(host), "{host}");
        }
        for host in [
            "notgoogle.com",
            "google.com.evil.example",
            "google.evil.example",
            "google.co.uk.evil.io",
            "google",
            "com",
            "",
            "google.",
            "www.google.museum",
            "google.co.uk.",
        ] {
            assert!(!g.matches(host), "{host}");
        }
        assert!(AnyTldWww("google").matches("www.google.fr"));
        assert!(!AnyTldWww("google").matches("maps.google.fr"));
    }

    #[test]
    fn domain_matches_on_label_boundary() {
        assert!(Domain("x.com").matches("x.com"));
        assert!(Domain("x.com").matches("mobile.x.com"));
        assert!(!Domain("x.com").matches("box.com"));
        assert!(!Domain("x.com").matches("x.com.evil"));
    }

    #[test]
    fn every_example_is_recognised_by_its_own_row() {
        for (i, engine) in ENGINES.iter().enumerate() {
            let url = engine.example.strip_prefix("https://").unwrap();
            let (host, rest) = url.split_once('/').unwrap();
            let rest = format!("/{rest}");
            let (path, query) = match rest.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (rest.as_str(), None),
            };
            let mut terms = String::new();
            let m = extract(host, path, query, &mut terms)
                .unwrap_or_else(|| panic!("row {i} example {} not recognised", engine.example));
            assert_eq!(m.engine, engine.name, "row {i}");
            assert_eq!(m.suggest, engine.suggest, "row {i}");
            // The first matching row must be this one.
            let first = ENGINES
                .iter()
                .position(|e| {
                    e.hosts.iter().any(|h| h.matches(host))
                        && e.paths.iter().any(|p| p.matches(path).is_some())
                        && (e.requires_any.is_empty()
                            || e.requires_any
                                .iter()
                                .any(|&(n, v)| has_param_value(query.unwrap_or(""), n, v)))
                        && match e.terms {
                            Param(n) => param_values(query.unwrap_or(""), n).any(|v| !v.is_empty()),
                            PathSegment => true,
                        }
                })
                .unwrap();
            assert_eq!(
                first, i,
                "example {} is taken by row {first}",
                engine.example
            );
        }
    }

    #[test]
    fn decoding() {
        let d = |q: &str| run("www.google.com", "/search", Some(q)).map(|r| r.1);
        assert_eq!(d("q=caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(d("q=%E5%A4%A9%E6%B0%94").as_deref(), Some("天气"));
        assert_eq!(d("q=+++a++b+++").as_deref(), Some("a b"));
        assert_eq!(d("q=a%20%09%0Ab").as_deref(), Some("a b"));
        assert_eq!(d("q=a%C2%A0b").as_deref(), Some("a b"));
        assert_eq!(d("q=100%").as_deref(), Some("100%"));
        assert_eq!(d("q=100%2").as_deref(), Some("100%2"));
        assert_eq!(d("q=%zz").as_deref(), Some("%zz"));
        assert_eq!(d("q=a%FFb").as_deref(), Some("a\u{FFFD}b"));
        assert_eq!(d("q=a%C3").as_deref(), Some("a\u{FFFD}"));
        assert_eq!(d("q=%C3a").as_deref(), Some("\u{FFFD}a"));
        assert_eq!(d("q=%E2%82").as_deref(), Some("\u{FFFD}"));
        assert_eq!(d("q=%F0%9F%98%80").as_deref(), Some("😀"));
        assert_eq!(d("q=%00%01").as_deref(), None);
        assert_eq!(d("q=caf\u{e9}").as_deref(), Some("café"));
        assert_eq!(d("q=a%2Bb").as_deref(), Some("a+b"));
        assert_eq!(d("q=first&q=second").as_deref(), Some("first second"));
        assert_eq!(d("q=&q=second").as_deref(), Some("second"));
        assert_eq!(d("q=%20&q=x").as_deref(), Some("x"));
        assert_eq!(d("q=").as_deref(), None);
        assert_eq!(d("q").as_deref(), None);
        assert_eq!(d("Q=x").as_deref(), None);
    }

    #[test]
    fn lossy_matches_std() {
        let samples: &[&[u8]] = &[
            b"\xF0\x9F\x98",
            b"\xED\xA0\x80x",
            b"\xC0\xAF",
            b"ab\xE2\x82\xACcd\xFF\xFE",
            b"\xF4\x90\x80\x80",
            b"\xE2\x82\xE2\x82\xAC",
        ];
        for s in samples {
            let encoded: String = s.iter().map(|b| format!("%{b:02X}")).collect();
            let mut out = String::new();
            let mut w = TermWriter::new(&mut out);
            w.decode(&encoded, true);
            w.finish();
            assert_eq!(out, String::from_utf8_lossy(s), "{encoded}");
        }
    }

    #[test]
    fn engine_names_are_distinct_and_many() {
        let names: Vec<_> = engine_names().collect();
        assert!(names.len() >= 15, "{names:?}");
        assert!(engine("google").is_some());
        assert!(engine("nope").is_none());
    }

    fn pattern_site(h: &HostPattern) -> &'static str {
        match *h {
            Domain(d) => site_label(d),
            AnyTld(b) | AnyTldWww(b) => b,
        }
    }

    #[test]
    fn sites_prefilter_matches_the_table() {
        assert!(
            SITES.windows(2).all(|w| w[0] < w[1]),
            "SITES must be sorted"
        );
        let used: Vec<&str> = ENGINES
            .iter()
            .flat_map(|e| e.hosts.iter().map(pattern_site))
            .collect();
        for site in &used {
            assert!(SITES.contains(site), "add {site:?} to SITES");
        }
        for site in SITES {
            assert!(used.contains(site), "{site:?} in SITES is not used");
        }
        for e in ENGINES {
            for h in e.hosts {
                match *h {
                    Domain(d) => {
                        assert_eq!(site_label(&format!("www.{d}")), site_label(d), "{d}");
                        assert_eq!(site_label(&format!("a.b.{d}")), site_label(d), "{d}");
                    }
                    AnyTld(b) | AnyTldWww(b) => {
                        assert!(!SECOND_LEVEL.contains(&b));
                        for tld in ["com", "de", "co.uk", "com.au"] {
                            assert_eq!(site_label(&format!("www.{b}.{tld}")), b);
                            assert_eq!(site_label(&format!("{b}.{tld}")), b);
                        }
                    }
                }
            }
        }
        assert_eq!(site_label("www.google.co.uk"), "google");
        assert_eq!(site_label("swiggle.org.uk"), "swiggle");
        assert_eq!(site_label("www.kiddle.co"), "kiddle");
        assert_eq!(site_label("localhost"), "localhost");
        assert_eq!(site_label(""), "");
    }

    proptest::proptest! {
        /// The prefilter never changes an answer: hosts built from search-site labels,
        /// suffixes and look-alike pieces give the same result with and without it.
        #[test]
        fn prefilter_is_only_a_shortcut(
            labels in proptest::collection::vec(
                proptest::sample::select(vec![
                    "www", "google", "co", "uk", "com", "au", "de", "bing", "youtube", "x",
                    "org", "swiggle", "kiddle", "evil", "example", "search", "yahoo", "jp",
                    "wikipedia", "en", "ya", "ru", "ac", "ecosia", "amazon", "ebay", "spotify",
                    "open", "notgoogle", "museum",
                ]),
                1..5,
            ),
            ex in 0..ENGINES.len(),
        ) {
            let host = labels.join(".");
            let example = ENGINES[ex].example.strip_prefix("https://").unwrap();
            let rest = &example[example.find('/').unwrap()..];
            let (path, query) = match rest.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (rest, None),
            };
            let (mut a, mut b) = (String::new(), String::new());
            let fast = extract(&host, path, query, &mut a);
            let slow = scan(&host, path, query, &mut b);
            proptest::prop_assert_eq!(fast, slow, "{}{}", host, rest);
            if fast.is_some() {
                proptest::prop_assert_eq!(a, b);
            }
        }
    }
}

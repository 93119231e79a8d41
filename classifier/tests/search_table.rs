//! Search extraction against real-looking URLs, arbitrary input, and the documentation table.

use lychgate_classifier::search::{ENGINES, SearchMatch, extract};
use proptest::prelude::*;

/// (host, path, query, expected (engine, terms, suggest)).
type Case = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<(&'static str, &'static str, bool)>,
);

const CASES: &[Case] = &[
    // Google web, every country and form
    (
        "www.google.com",
        "/search",
        Some("q=volcano+facts&oq=volcano&sourceid=chrome&ie=UTF-8"),
        Some(("google", "volcano facts", false)),
    ),
    (
        "www.google.co.uk",
        "/search",
        Some("client=firefox-b-d&q=how+many+legs+does+a+spider+have"),
        Some(("google", "how many legs does a spider have", false)),
    ),
    (
        "google.de",
        "/search",
        Some("q=caf%C3%A9+m%C3%BCnchen"),
        Some(("google", "café münchen", false)),
    ),
    (
        "www.google.com.au",
        "/search",
        Some("q=kangaroo"),
        Some(("google", "kangaroo", false)),
    ),
    (
        "www.google.co.jp",
        "/search",
        Some("q=%E3%83%9D%E3%82%B1%E3%83%A2%E3%83%B3"),
        Some(("google", "ポケモン", false)),
    ),
    (
        "www.google.com",
        "/webhp",
        Some("hl=en&q=maths"),
        Some(("google", "maths", false)),
    ),
    (
        "www.google.com",
        "/",
        Some("q=test"),
        Some(("google", "test", false)),
    ),
    (
        "www.google.com",
        "/search",
        Some("q=%20%20%20spaced%20%20%20%20out%20"),
        Some(("google", "spaced out", false)),
    ),
    (
        "www.google.co.uk",
        "/search",
        Some("sca_esv=1&q=news&tbm=nws"),
        Some(("google", "news", false)),
    ),
    // Google images, suggest, YouTube via Google suggest, Play
    (
        "www.google.co.uk",
        "/search",
        Some("q=cute+puppies&tbm=isch&source=lnms"),
        Some(("google-images", "cute puppies", false)),
    ),
    (
        "www.google.com",
        "/search",
        Some("udm=2&q=sharks"),
        Some(("google-images", "sharks", false)),
    ),
    (
        "www.google.com",
        "/complete/search",
        Some("q=how+to+dr&cp=9&client=gws-wiz&xssi=t"),
        Some(("google", "how to dr", true)),
    ),
    (
        "suggestqueries.google.com",
        "/complete/search",
        Some("client=firefox&q=minecr"),
        Some(("google", "minecr", true)),
    ),
    (
        "clients1.google.co.uk",
        "/complete/search",
        Some("client=chrome&q=roblo"),
        Some(("google", "roblo", true)),
    ),
    (
        "suggestqueries.google.com",
        "/complete/search",
        Some("client=youtube&ds=yt&q=peppa"),
        Some(("youtube", "peppa", true)),
    ),
    (
        "play.google.com",
        "/store/search",
        Some("q=roblox&c=apps"),
        Some(("google-play", "roblox", false)),
    ),
    // Non-search paths on Google
    ("www.google.com", "/maps", Some("q=london"), None),
    ("maps.google.com", "/", Some("q=10+Downing+Street"), None),
    (
        "www.google.com",
        "/url",
        Some("q=https://example.com/&sa=D"),
        None,
    ),
    ("www.google.com", "/search", Some("q="), None),
    ("www.google.com", "/search", Some("q=+++"), None),
    ("www.google.com", "/search", None, None),
    ("www.google.com", "/search", Some(""), None),
    ("www.google.com", "/search", Some("oq=not+the+query"), None),
    // Look-alikes
    ("google.com.evil.example", "/search", Some("q=test"), None),
    ("notgoogle.com", "/search", Some("q=test"), None),
    ("www.google.evil", "/search", Some("q=test"), None),
    ("mybing.com", "/search", Some("q=test"), None),
    ("bing.com.attacker.net", "/search", Some("q=test"), None),
    (
        "fakeyoutube.com",
        "/results",
        Some("search_query=test"),
        None,
    ),
    // Bing
    (
        "www.bing.com",
        "/search",
        Some("form=QBLH&q=times+tables+games"),
        Some(("bing", "times tables games", false)),
    ),
    (
        "www.bing.com",
        "/images/search",
        Some("q=tigers&form=HDRSC2"),
        Some(("bing-images", "tigers", false)),
    ),
    (
        "www.bing.com",
        "/AS/Suggestions",
        Some("pt=page.serp&mkt=en-gb&qry=dinosa&cp=6"),
        Some(("bing", "dinosa", true)),
    ),
    (
        "www.bing.com",
        "/osjson.aspx",
        Some("query=weath"),
        Some(("bing", "weath", true)),
    ),
    ("www.bing.com", "/maps", Some("q=leeds"), None),
    // DuckDuckGo
    (
        "duckduckgo.com",
        "/",
        Some("q=rainforest+animals&t=h_&ia=web"),
        Some(("duckduckgo", "rainforest animals", false)),
    ),
    (
        "html.duckduckgo.com",
        "/html",
        Some("q=castles"),
        Some(("duckduckgo", "castles", false)),
    ),
    (
        "duckduckgo.com",
        "/ac/",
        Some("q=lego+st&kl=uk-en"),
        Some(("duckduckgo", "lego st", true)),
    ),
    ("duckduckgo.com", "/about", Some("q=x"), None),
    // Yahoo, Ecosia
    (
        "uk.search.yahoo.com",
        "/search",
        Some("fr=yfp-t&p=planets+for+kids"),
        Some(("yahoo", "planets for kids", false)),
    ),
    (
        "search.yahoo.com",
        "/search;_ylt=AwrFGq",
        Some("p=moon"),
        Some(("yahoo", "moon", false)),
    ),
    (
        "www.ecosia.org",
        "/search",
        Some("method=index&q=recycling"),
        Some(("ecosia", "recycling", false)),
    ),
    (
        "ac.ecosia.org",
        "/autocomplete",
        Some("q=tre&type=list"),
        Some(("ecosia", "tre", true)),
    ),
    // YouTube
    (
        "www.youtube.com",
        "/results",
        Some("search_query=peppa+pig"),
        Some(("youtube", "peppa pig", false)),
    ),
    (
        "m.youtube.com",
        "/results",
        Some("sp=EgIQAQ%253D%253D&search_query=minecraft"),
        Some(("youtube", "minecraft", false)),
    ),
    (
        "suggestqueries-clients6.youtube.com",
        "/complete/search",
        Some("client=youtube&hl=en-gb&ds=yt&q=pepp"),
        Some(("youtube", "pepp", true)),
    ),
    ("www.youtube.com", "/watch", Some("v=dQw4w9WgXcQ"), None),
    ("www.youtube.com", "/results", Some("search_query="), None),
    // Wikipedia
    (
        "en.wikipedia.org",
        "/w/index.php",
        Some("title=Special%3ASearch&search=ancient+egypt&go=Go"),
        Some(("wikipedia", "ancient egypt", false)),
    ),
    (
        "en.wikipedia.org",
        "/wiki/Special:Search",
        Some("search=tudor+kings"),
        Some(("wikipedia", "tudor kings", false)),
    ),
    (
        "simple.wikipedia.org",
        "/wiki/Special:Search/volcano",
        None,
        Some(("wikipedia", "volcano", false)),
    ),
    (
        "en.wikipedia.org",
        "/w/api.php",
        Some("action=opensearch&format=json&formatversion=2&search=egyp&namespace=0"),
        Some(("wikipedia", "egyp", true)),
    ),
    (
        "en.wikipedia.org",
        "/w/api.php",
        Some("action=query&search=x"),
        None,
    ),
    (
        "en.wikipedia.org",
        "/w/index.php",
        Some("title=Volcano&action=edit"),
        None,
    ),
    ("en.wikipedia.org", "/wiki/Volcano", None, None),
    // Child-safe engines
    (
        "www.kiddle.co",
        "/s.php",
        Some("q=solar+system"),
        Some(("kiddle", "solar system", false)),
    ),
    (
        "swiggle.org.uk",
        "/",
        Some("q=castles"),
        Some(("swiggle", "castles", false)),
    ),
    // Shops
    (
        "www.amazon.co.uk",
        "/s",
        Some("k=nerf+gun&crid=2M096C61O4MLT&sprefix=nerf%2Caps%2C85&ref=nb_sb_ss"),
        Some(("amazon", "nerf gun", false)),
    ),
    (
        "www.amazon.com",
        "/s/ref=nb_sb_noss",
        Some("url=search-alias%3Daps&field-keywords=lego"),
        Some(("amazon", "lego", false)),
    ),
    (
        "completion.amazon.co.uk",
        "/api/2017/suggestions",
        Some("mid=A1F83G8C2ARO7P&prefix=nerf+g"),
        Some(("amazon", "nerf g", true)),
    ),
    ("www.amazon.co.uk", "/dp/B07FZ8S74R", None, None),
    (
        "www.ebay.co.uk",
        "/sch/i.html",
        Some("_from=R40&_trksid=p2380057&_nkw=pokemon+cards&_sacat=0"),
        Some(("ebay", "pokemon cards", false)),
    ),
    // Social and video
    (
        "www.tiktok.com",
        "/search",
        Some("q=dance%20challenge&t=1700000000000"),
        Some(("tiktok", "dance challenge", false)),
    ),
    (
        "uk.pinterest.com",
        "/search/pins/",
        Some("q=craft%20ideas&rs=typed"),
        Some(("pinterest", "craft ideas", false)),
    ),
    (
        "www.pinterest.co.uk",
        "/search/pins/",
        Some("q=slime"),
        Some(("pinterest", "slime", false)),
    ),
    (
        "www.reddit.com",
        "/search/",
        Some("q=redstone+tutorial"),
        Some(("reddit", "redstone tutorial", false)),
    ),
    (
        "www.reddit.com",
        "/r/Minecraft/search/",
        Some("q=redstone&restrict_sr=1"),
        Some(("reddit", "redstone", false)),
    ),
    (
        "x.com",
        "/search",
        Some("q=football&src=typed_query"),
        Some(("twitter", "football", false)),
    ),
    (
        "mobile.twitter.com",
        "/search",
        Some("q=%23homework"),
        Some(("twitter", "#homework", false)),
    ),
    (
        "www.instagram.com",
        "/explore/search/keyword/",
        Some("q=puppies"),
        Some(("instagram", "puppies", false)),
    ),
    (
        "open.spotify.com",
        "/search/taylor%20swift/tracks",
        None,
        Some(("spotify", "taylor swift", false)),
    ),
    (
        "www.twitch.tv",
        "/search",
        Some("term=fortnite"),
        Some(("twitch", "fortnite", false)),
    ),
    // Other engines
    (
        "yandex.ru",
        "/search/",
        Some("text=%D0%BF%D0%BE%D0%B3%D0%BE%D0%B4%D0%B0&lr=213"),
        Some(("yandex", "погода", false)),
    ),
    (
        "yandex.com.tr",
        "/search/",
        Some("text=hava"),
        Some(("yandex", "hava", false)),
    ),
    (
        "www.baidu.com",
        "/s",
        Some("ie=utf-8&wd=%E5%A4%A9%E6%B0%94"),
        Some(("baidu", "天气", false)),
    ),
    (
        "search.brave.com",
        "/search",
        Some("q=spelling+games&source=web"),
        Some(("brave", "spelling games", false)),
    ),
    (
        "search.brave.com",
        "/api/suggest",
        Some("q=spel"),
        Some(("brave", "spel", true)),
    ),
    (
        "www.startpage.com",
        "/sp/search",
        Some("query=rivers&cat=web"),
        Some(("startpage", "rivers", false)),
    ),
    (
        "www.startpage.com",
        "/do/search",
        Some("q=mountains"),
        Some(("startpage", "mountains", false)),
    ),
    (
        "www.qwant.com",
        "/",
        Some("q=chateau&t=web"),
        Some(("qwant", "chateau", false)),
    ),
    (
        "www.ask.com",
        "/web",
        Some("q=how+do+magnets+work&qo=homepageSearchBox"),
        Some(("ask", "how do magnets work", false)),
    ),
    // Invalid UTF-8 is decoded lossily, never rejected
    (
        "www.bing.com",
        "/search",
        Some("q=a%FF%FEb"),
        Some(("bing", "a\u{FFFD}\u{FFFD}b", false)),
    ),
    // Not search engines at all
    ("www.bbc.co.uk", "/search", Some("q=weather"), None),
    ("example.com", "/", Some("q=anything"), None),
];

#[test]
fn table_of_real_urls() {
    assert!(CASES.len() >= 40);
    let mut terms = String::new();
    let mut failures = Vec::new();
    for &(host, path, query, expected) in CASES {
        let got = extract(host, path, query, &mut terms)
            .map(|m: SearchMatch| (m.engine, terms.clone(), m.suggest));
        let want = expected.map(|(e, t, s)| (e, t.to_string(), s));
        if got != want {
            failures.push(format!(
                "{host}{path}?{}: got {got:?}, want {want:?}",
                query.unwrap_or("")
            ));
        }
        if got.is_none() {
            assert!(terms.is_empty());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn at_least_fifteen_engines() {
    let mut names: Vec<_> = ENGINES.iter().map(|e| e.name).collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() >= 15, "{names:?}");
}

/// Renders the documentation table from [`ENGINES`].
fn markdown_table() -> String {
    let mut out = String::from(
        "| engine | hosts | paths | terms | also requires | suggest | example |\n|---|---|---|---|---|---|---|\n",
    );
    for e in ENGINES {
        let hosts: Vec<_> = e.hosts.iter().map(|h| format!("`{h}`")).collect();
        let paths: Vec<_> = e.paths.iter().map(|p| format!("`{p}`")).collect();
        let requires: Vec<_> = e
            .requires_any
            .iter()
            .map(|(n, v)| format!("`{n}={v}`"))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | `{}` | {} | {} | `{}` |\n",
            e.name,
            hosts.join(", "),
            paths.join(", "),
            e.terms,
            if requires.is_empty() {
                "".to_string()
            } else {
                requires.join(" or ")
            },
            if e.suggest { "yes" } else { "no" },
            e.example,
        ));
    }
    out
}

/// `docs/search-engines.md` holds the generated table between markers. Run with
/// `LYCHGATE_BLESS=1` to rewrite it after changing [`ENGINES`].
#[test]
fn documentation_table_is_current() {
    const BEGIN: &str = "<!-- engines:begin (generated by classifier/tests/search_table.rs) -->\n";
    const END: &str = "<!-- engines:end -->";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/search-engines.md");
    let doc = std::fs::read_to_string(path).expect("docs/search-engines.md");
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = doc.find(END).expect("end marker");
    let table = markdown_table();
    if doc[start..end] != table {
        if std::env::var_os("LYCHGATE_BLESS").is_some() {
            let new = format!("{}{}{}", &doc[..start], table, &doc[end..]);
            std::fs::write(path, new).unwrap();
        } else {
            panic!("docs/search-engines.md is out of date: rerun with LYCHGATE_BLESS=1\n{table}");
        }
    }
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_input(host in ".{0,40}", path in ".{0,60}", query in proptest::option::of(".{0,80}")) {
        let mut terms = String::new();
        let m = extract(&host, &path, query.as_deref(), &mut terms);
        prop_assert_eq!(m.is_some(), !terms.is_empty());
        prop_assert_eq!(terms.trim(), terms.as_str());
        prop_assert!(!terms.contains("  "));
    }

    #[test]
    fn never_panics_on_search_like_input(
        host in prop::sample::select(vec!["www.google.com", "www.bing.com", "duckduckgo.com", "open.spotify.com", "en.wikipedia.org", "www.amazon.co.uk"]),
        path in prop::sample::select(vec!["/search", "/", "/s", "/search/", "/wiki/Special:Search/", "/images/search"]),
        tail in "[a-zA-Z0-9%+&=/ \u{e9}\u{3000}]{0,40}",
        query in "(q|k|search|qry)=[a-zA-Z0-9%+&=\u{e9}\u{3000}]{0,40}",
    ) {
        let mut terms = String::new();
        let path = format!("{path}{tail}");
        let m = extract(host, &path, Some(&query), &mut terms);
        prop_assert_eq!(m.is_some(), !terms.is_empty());
        prop_assert_eq!(terms.trim(), terms.as_str());
        prop_assert!(!terms.contains("  "));
    }
}

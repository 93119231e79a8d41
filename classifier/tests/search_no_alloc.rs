//! The per-request paths allocate nothing: `search::extract` once `terms` has room, and
//! `RegexRules::matches` once a scratch exists. Counted with a wrapping global allocator (the
//! only `unsafe` is the allocator trait impl in this test binary; the library stays
//! `forbid(unsafe_code)`). Also a rough speed check, run with
//! `cargo test --release -p lychgate-classifier --test search_no_alloc -- --ignored --nocapture`.

use std::time::Instant;

use lychgate_classifier::regexes::RegexRulesBuilder;
use lychgate_classifier::search::extract;
use lychgate_classifier::{CategoryId, ListId, SourceRef};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

const URLS: &[(&str, &str, Option<&str>)] = &[
    (
        "www.google.co.uk",
        "/search",
        Some("q=caf%C3%A9+au+lait&oq=x&sourceid=chrome"),
    ),
    ("www.google.com", "/search", Some("q=a%FF%FEb&q=second")),
    (
        "www.bing.com",
        "/images/search",
        Some("q=tigers&form=HDRSC2"),
    ),
    ("open.spotify.com", "/search/taylor%20swift", None),
    ("www.bbc.co.uk", "/news/uk-12345678", None),
    (
        "cdn.jsdelivr.net",
        "/npm/react@18/umd/react.production.min.js",
        None,
    ),
    ("www.youtube.com", "/watch", Some("v=dQw4w9WgXcQ&t=42")),
    (
        "www.amazon.co.uk",
        "/s",
        Some("k=nerf+gun&crid=2M096C61O4MLT"),
    ),
];

#[test]
fn extract_does_not_allocate() {
    let mut terms = String::with_capacity(256);
    let before = allocations();
    let mut found = 0;
    for _ in 0..10 {
        for &(host, path, query) in URLS {
            found += usize::from(extract(host, path, query, &mut terms).is_some());
        }
    }
    assert_eq!(allocations(), before);
    assert_eq!(found, 50);
}

#[test]
fn regex_matching_does_not_allocate() {
    let mut b = RegexRulesBuilder::new();
    for (i, p) in [
        "casino",
        r"(?:^|\.)bet[0-9]*\.",
        "porn",
        r"/proxy[^/]*/",
        r"\bxxx\b",
    ]
    .iter()
    .enumerate()
    {
        b.add(
            p,
            CategoryId(2 + i as u8),
            SourceRef {
                list: ListId(0),
                line: i as u32 + 1,
            },
        )
        .unwrap();
    }
    let rules = b.build().unwrap();
    let mut scratch = rules.scratch();
    // Warm the lazy DFA cache once (it may grow on first use), then count.
    for text in [
        "www.bet365.com/casino",
        "example.com/proxy-list/",
        "www.bbc.co.uk/news",
    ] {
        rules.matches(text, &mut scratch);
    }
    let before = allocations();
    let mut hits = 0;
    for _ in 0..10 {
        for text in [
            "www.bet365.com/casino",
            "example.com/proxy-list/",
            "www.bbc.co.uk/news",
        ] {
            hits += rules.matches(text, &mut scratch).categories.len();
        }
    }
    assert_eq!(allocations(), before);
    assert_eq!(hits, 30);
}

#[test]
#[ignore = "timing, run in release"]
fn extract_speed() {
    let mut terms = String::with_capacity(256);
    let n = 1_000_000;
    let start = Instant::now();
    let mut found = 0usize;
    for i in 0..n {
        let (host, path, query) = URLS[i % URLS.len()];
        found += usize::from(extract(host, path, query, &mut terms).is_some());
    }
    let elapsed = start.elapsed();
    for &(host, path, query) in URLS {
        let start = Instant::now();
        for _ in 0..100_000 {
            std::hint::black_box(extract(host, path, query, &mut terms));
        }
        println!("{host}{path}: {:?} per call", start.elapsed() / 100_000);
    }
    println!(
        "{n} extracts in {elapsed:?}: {:.0} ns each ({found} searches)",
        elapsed.as_nanos() as f64 / n as f64
    );
}

#[test]
#[ignore = "timing, run in release"]
fn regex_speed() {
    let texts = [
        "www.bbc.co.uk/news/uk-12345678",
        "cdn.jsdelivr.net/npm/react@18/umd/react.production.min.js",
        "www.bet365.com/casino/games",
    ];
    for count in [0usize, 10, 100] {
        let mut b = RegexRulesBuilder::new();
        for i in 0..count {
            let p = format!(r"(?:^|\.)site{i}[a-z]*\.(?:com|net)/|/path{i}/[0-9]+");
            b.add(
                &p,
                CategoryId((i % 60) as u8),
                SourceRef {
                    list: ListId(0),
                    line: i as u32,
                },
            )
            .unwrap();
        }
        let rules = b.build().unwrap();
        let mut scratch = rules.scratch();
        let n = 200_000;
        let start = Instant::now();
        for i in 0..n {
            std::hint::black_box(rules.matches(texts[i % texts.len()], &mut scratch));
        }
        println!(
            "{count} patterns: {:?} per match",
            start.elapsed() / n as u32
        );
    }
}

//! The compact index at list scale: memory per domain, build time, and that lookups on the hot
//! path do not allocate.
//!
//! `cargo test -p lychgate-classifier --release --test lists_index_scale -- --nocapture`
//! prints bytes per domain and build time for 1M synthetic domains (debug builds use 200k and
//! skip the time limit).

use lychgate_classifier::domains::{DomainIndexBuilder, DomainTable, MatchScope};
use lychgate_classifier::lists::{ListFormat, ListSink, load_str};
use lychgate_classifier::urls::UrlTable;
use lychgate_classifier::{CategoryId, CategorySet};
use std::time::Instant;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

/// Allocations made while running `f`.
fn allocations_in(f: impl FnOnce()) -> u64 {
    counting_alloc::allocations_in(f).1
}

/// Deterministic pseudo-random domain names of realistic shape and length.
fn synthetic(n: usize) -> Vec<String> {
    let tlds = [
        "com", "net", "org", "co.uk", "info", "xyz", "io", "ru", "de",
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let tld = tlds[(x % tlds.len() as u64) as usize];
            if i % 4 == 0 {
                format!("cdn{}.site-{:x}.{tld}", x % 97, x >> 20)
            } else {
                format!("site-{:x}.{tld}", x >> 24)
            }
        })
        .collect()
}

#[test]
fn million_domains_fit_in_16_bytes_each() {
    let n = if cfg!(debug_assertions) {
        200_000
    } else {
        1_000_000
    };
    let names = synthetic(n);
    let start = Instant::now();
    let mut b = DomainIndexBuilder::with_capacity(n);
    for (i, d) in names.iter().enumerate() {
        // Most domains in one category, some in two.
        b.insert(d, MatchScope::Subdomains, CategoryId(2 + (i % 13) as u8));
        if i % 50 == 0 {
            b.insert(d, MatchScope::Subdomains, CategoryId(20));
        }
    }
    let idx = b.build();
    let elapsed = start.elapsed();
    let per_domain = idx.heap_bytes() as f64 / idx.len() as f64;
    println!(
        "{} domains ({} distinct entries, {} category sets): {} heap bytes = {per_domain:.2} bytes/domain, built in {:.0} ms",
        n,
        idx.len(),
        idx.distinct_category_sets(),
        idx.heap_bytes(),
        elapsed.as_secs_f64() * 1000.0
    );
    assert!(per_domain <= 16.0, "{per_domain} bytes/domain");
    if !cfg!(debug_assertions) {
        assert!(elapsed.as_secs_f64() <= 1.0, "build took {elapsed:?}");
    }

    for (i, d) in names.iter().enumerate().step_by(997) {
        let got = idx.lookup(&format!("www.{d}"));
        assert!(got.contains(CategoryId(2 + (i % 13) as u8)), "{d}");
    }

    let hosts: Vec<String> = names
        .iter()
        .take(10_000)
        .map(|d| format!("a.b.{d}"))
        .chain((0..10_000).map(|i| format!("unlisted{i}.example.net")))
        .collect();
    let start = Instant::now();
    let mut hits = 0usize;
    let allocs = allocations_in(|| {
        for h in &hosts {
            hits += usize::from(!idx.lookup(h).is_empty());
        }
    });
    let per_lookup = start.elapsed().as_secs_f64() * 1e9 / hosts.len() as f64;
    println!("lookup: {per_lookup:.0} ns per host (4–6 suffixes each)");
    assert_eq!(allocs, 0, "lookup allocated");
    assert!(hits >= 10_000);
}

struct IndexSink(DomainIndexBuilder);

impl ListSink for IndexSink {
    fn domain(&mut self, domain: &str, scope: MatchScope, _line: u32) {
        self.0.insert(domain, scope, CategoryId(2));
    }
    fn url(&mut self, _host: &str, _path: &str, _line: u32) {}
    fn regex(&mut self, _pattern: &str, _line: u32) {}
}

#[test]
fn hosts_file_text_to_index() {
    let n = if cfg!(debug_assertions) {
        100_000
    } else {
        1_000_000
    };
    let mut text = String::from("# big hosts list\r\n127.0.0.1 localhost\r\n");
    for d in synthetic(n) {
        text.push_str("0.0.0.0 ");
        text.push_str(&d);
        text.push_str("\r\n");
    }
    let start = Instant::now();
    let mut sink = IndexSink(DomainIndexBuilder::with_capacity(n));
    let stats = load_str(
        std::path::Path::new("big.hosts"),
        &text,
        ListFormat::Hosts,
        &mut sink,
    )
    .unwrap();
    let parsed = start.elapsed();
    let idx = sink.0.build();
    println!(
        "{n}-line hosts text: parsed in {:.0} ms, parsed + built in {:.0} ms",
        parsed.as_secs_f64() * 1000.0,
        start.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(stats.domains, n);
    assert!(stats.warnings.is_empty());
    assert!(idx.len() <= n);
}

#[test]
fn table_and_url_matching_do_not_allocate() {
    let mut t = DomainTable::default();
    t.insert("example.com", MatchScope::Subdomains, 1u32);
    t.insert("a.example.com", MatchScope::Exact, 2);
    let mut u = UrlTable::default();
    u.insert("example.com", "/bad", 1u32);
    u.insert("example.com", "/", 2);
    let mut idx = DomainIndexBuilder::new();
    idx.insert("example.com", MatchScope::Subdomains, CategoryId(3));
    let idx = idx.build();

    let mut n = 0;
    let mut set = CategorySet::EMPTY;
    let allocs = allocations_in(|| {
        n += t.matches("x.a.example.com").count();
        n += t.matches("a.example.com").count();
        n += u.matches("www.example.com", "/bad/page?x=1").count();
        n += usize::from(u.has_host("example.com"));
        set = idx.lookup("WWW.Example.COM.");
    });
    assert_eq!(allocs, 0);
    assert_eq!(n, 1 + 2 + 2 + 1);
    assert_eq!(set, CategorySet::one(CategoryId(3)));
}

//! Phrase-scan benchmark: `PhraseSet::scan` (evasion normalisation plus the automaton pass) on a
//! handful of realistic texts, against the decide benchmark's 5k synthetic phrases and against the
//! shipped phrase lists. `scan` runs on every web request (search terms, or the URL path+query),
//! so it must stay well under the 1 µs `decide` budget. The `empty` set measures the evasion
//! normalisation alone; the `mix` group scans the paths of the decide benchmark's URL mix, each
//! once per pass, so caches and branch predictors see varied text as in service.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lychgate_benches::{domains, phrase_list, url_mix};
use lychgate_classifier::category::Categories;
use lychgate_classifier::lists::phrases::load_phrases_str;
use lychgate_classifier::phrases::{PhraseScratch, PhraseSet, PhraseSetBuilder};
use lychgate_classifier::policy::{RequestKind, Target};
use lychgate_classifier::source::ListId;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

/// (label, text): URL paths and queries as `decide` scans them, and search terms.
const TEXTS: &[(&str, &str)] = &[
    ("static_js", "/static/abc123.js"),
    ("news_article", "/news/article/12345"),
    ("watch_query", "/watch?v=abcdef"),
    (
        "long_path",
        "/en-gb/products/garden/weed-killer-concentrate?page=2&sort=price",
    ),
    ("search_plus", "how+to+kill+weeds"),
    ("search_leet", "su1c1de"),
    ("search_spaced", "s u i c i d e"),
    ("search_percent", "how%20to%20die"),
    ("search_accented", "chcę umrzeć"),
];

const SHIPPED: &[(&str, &str)] = &[
    ("abuse", include_str!("../../blocklists/phrases/abuse.txt")),
    ("adult", include_str!("../../blocklists/phrases/adult.txt")),
    (
        "bullying",
        include_str!("../../blocklists/phrases/bullying.txt"),
    ),
    (
        "criminal",
        include_str!("../../blocklists/phrases/criminal.txt"),
    ),
    (
        "good-context",
        include_str!("../../blocklists/phrases/good-context.txt"),
    ),
    (
        "radicalisation",
        include_str!("../../blocklists/phrases/radicalisation.txt"),
    ),
    (
        "substance",
        include_str!("../../blocklists/phrases/substance.txt"),
    ),
    (
        "suicide-selfharm",
        include_str!("../../blocklists/phrases/suicide-selfharm.txt"),
    ),
    (
        "violence",
        include_str!("../../blocklists/phrases/violence.txt"),
    ),
];

fn build(lists: &[(&str, &str)]) -> PhraseSet {
    let cats = Categories::default();
    let mut b = PhraseSetBuilder::new();
    for (i, (name, text)) in lists.iter().enumerate() {
        load_phrases_str(Path::new(name), text, ListId(i as u16), &cats, &mut b).expect("loads");
    }
    b.build()
}

fn bench_scan(c: &mut Criterion) {
    let synthetic = phrase_list(5_000, 7);
    let sets = [
        ("empty", PhraseSet::default()),
        ("bench5k", build(&[("bench/phrases", synthetic.as_str())])),
        ("shipped", build(SHIPPED)),
    ];
    let mut g = c.benchmark_group("scan");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for (set_name, set) in &sets {
        let mut scratch = PhraseScratch::new();
        for (label, text) in TEXTS {
            g.bench_with_input(BenchmarkId::new(*set_name, label), text, |b, text| {
                b.iter(|| set.scan(black_box(text), &mut scratch).concern_len)
            });
        }
    }
    g.finish();

    let blocked = domains(10_000, 20261130);
    let mix = url_mix(&blocked, 10_000, 100_000, 11);
    let targets: Vec<Target> = mix
        .urls
        .iter()
        .map(|u| Target::parse(u).expect("bench URLs parse"))
        .collect();
    let paths: Vec<&str> = targets
        .iter()
        .map(|t| t.request(RequestKind::Http).path)
        .collect();
    let mut g = c.benchmark_group("mix");
    g.throughput(Throughput::Elements(paths.len() as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    for (set_name, set) in &sets {
        let mut scratch = PhraseScratch::new();
        g.bench_function(BenchmarkId::new(*set_name, "paths_100k"), |b| {
            b.iter(|| {
                paths
                    .iter()
                    .map(|p| set.scan(black_box(p), &mut scratch).concern_len)
                    .sum::<usize>()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_scan);
criterion_main!(benches);

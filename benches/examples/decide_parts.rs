//! Where `decide` spends its time: each stage timed alone over the decide benchmark's mix.
//! `cargo run --release -p lychgate-benches --example decide_parts`

use lychgate_benches::{domains, url_mix};
use lychgate_classifier::policy::{RequestKind, Scratch, Target};
use lychgate_classifier::search;
use lychgate_classifier::time::LocalTime;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    // DOMAINS and REQUESTS shrink the run, e.g. to count instructions under callgrind.
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let blocked = domains(env("DOMAINS", 1_000_000), 20261130);
    let policy = lychgate_benches::bench_policy(&blocked);
    let requests = env("REQUESTS", 200_000);
    let mix = url_mix(&blocked, (requests / 2).max(1), requests, 11);
    let targets: Vec<Target> = mix
        .urls
        .iter()
        .map(|u| Target::parse(u).expect("parses"))
        .collect();
    let reqs: Vec<_> = targets
        .iter()
        .map(|t| t.request(RequestKind::Http))
        .collect();
    let group = policy.group_id("pupils").expect("group");
    let at = LocalTime::new(2, 10, 30);
    let n = reqs.len() as f64;
    let time = |name: &str, f: &mut dyn FnMut() -> usize| {
        let _ = f();
        let t = Instant::now();
        let mut r = 0;
        for _ in 0..3 {
            r += f();
        }
        let ns = t.elapsed().as_nanos() as f64 / (3.0 * n);
        println!("{name:<28} {ns:>8.0} ns/request  ({r})");
    };
    let mut scratch = Scratch::default();
    time("decide", &mut || {
        reqs.iter()
            .map(|r| policy.decide(group, at, r, &mut scratch).concern_len)
            .sum()
    });
    time("index.lookup", &mut || {
        reqs.iter()
            .map(|r| policy.domain_index().lookup(r.host).len() as usize)
            .sum()
    });
    time("host_categories (all tables)", &mut || {
        reqs.iter()
            .map(|r| policy.host_categories(r.host).len() as usize)
            .sum()
    });
    let mut terms = String::new();
    time("search::extract", &mut || {
        reqs.iter()
            .map(|r| usize::from(search::extract(r.host, r.path, r.query, &mut terms).is_some()))
            .sum()
    });
    let mut ps = lychgate_classifier::phrases::PhraseScratch::default();
    time("phrases.scan(path)", &mut || {
        reqs.iter()
            .map(|r| {
                policy
                    .phrases()
                    .scan(black_box(r.path), &mut ps)
                    .concern_len
            })
            .sum()
    });
}

//! Decide benchmark: full `Policy::decide` on a seeded URL mix (100k distinct hosts, ~30% on the
//! blocked list, ~15% searches) against a policy with 1M domains, 10k URL entries, 5k weighted
//! phrases and 100 regex rules. Target: ≥ 1,000,000 decisions/s on one core.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lychgate_benches::{domains, url_mix};
use lychgate_classifier::policy::{RequestKind, Scratch, Target};
use lychgate_classifier::time::LocalTime;
use std::time::Instant;

fn bench_decide(c: &mut Criterion) {
    let blocked = domains(1_000_000, 20261130);
    let t = Instant::now();
    let policy = lychgate_benches::bench_policy(&blocked);
    eprintln!(
        "decide: policy with {} domains, {} URL entries, {} regexes, {} phrases built in {:.0} ms",
        policy.domain_index().len(),
        policy.url_entries(),
        policy.regex_rules(),
        policy.phrases().len(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    let mix = url_mix(&blocked, 100_000, 200_000, 11);
    let targets: Vec<Target> = mix
        .urls
        .iter()
        .map(|u| Target::parse(u).expect("bench URLs parse"))
        .collect();
    let group = policy.group_id("pupils").expect("group");
    let at = LocalTime::new(2, 10, 30);
    let mut scratch = Scratch::default();
    let blocked_share = targets
        .iter()
        .filter(|t| {
            policy
                .decide(group, at, &t.request(RequestKind::Http), &mut scratch)
                .action
                == lychgate_classifier::Action::Block
        })
        .count() as f64
        / targets.len() as f64;
    eprintln!(
        "decide: mix of {} requests over {} hosts: {:.1}% listed hosts, {:.1}% searches, {:.1}% blocked",
        targets.len(),
        mix.distinct_hosts,
        mix.listed_share * 100.0,
        mix.search_share * 100.0,
        blocked_share * 100.0
    );

    let mut g = c.benchmark_group("decide");
    g.throughput(Throughput::Elements(targets.len() as u64));
    g.sample_size(10);
    g.bench_function("decide_200k_mixed", |b| {
        b.iter(|| {
            let mut blocks = 0usize;
            for t in &targets {
                let d = policy.decide(group, at, &t.request(RequestKind::Http), &mut scratch);
                blocks += usize::from(d.action == lychgate_classifier::Action::Block);
            }
            blocks
        })
    });
    g.bench_function("normalise_and_decide_200k_mixed", |b| {
        b.iter(|| {
            let mut blocks = 0usize;
            for u in &mix.urls {
                let t = Target::parse(u).expect("parses");
                let d = policy.decide(group, at, &t.request(RequestKind::Http), &mut scratch);
                blocks += usize::from(d.action == lychgate_classifier::Action::Block);
            }
            blocks
        })
    });
    g.finish();
}

criterion_group!(benches, bench_decide);
criterion_main!(benches);

//! Load benchmark: parse a native list of 1M (and 4M) synthetic domains and build the compact
//! domain index. Targets: 1M domains in ≤ 1 s on one core, ≤ 16 bytes per domain.
//! Bytes per domain are printed once per size (criterion measures only time).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lychgate_benches::domains;
use lychgate_classifier::category::CategoryId;
use lychgate_classifier::domains::{DomainIndex, DomainIndexBuilder, MatchScope};
use lychgate_classifier::lists::{self, ListFormat, ListSink};
use std::path::Path;
use std::time::Instant;

struct IndexSink(DomainIndexBuilder);

impl ListSink for IndexSink {
    fn domain(&mut self, domain: &str, scope: MatchScope, _line: u32) {
        self.0.insert(domain, scope, CategoryId(2));
    }
    fn url(&mut self, _: &str, _: &str, _: u32) {}
    fn regex(&mut self, _: &str, _: u32) {}
}

fn load(text: &str) -> DomainIndex {
    let mut sink = IndexSink(DomainIndexBuilder::new());
    let stats = lists::load_str(Path::new("bench.txt"), text, ListFormat::Native, &mut sink)
        .expect("loads");
    assert!(stats.warnings.is_empty());
    sink.0.build()
}

fn bench_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    for n in [1_000_000usize, 4_000_000] {
        let text = domains(n, 20261130).join("\n");
        let t = Instant::now();
        let index = load(&text);
        let took = t.elapsed();
        eprintln!(
            "load/{n}: {} domains, {} heap bytes = {:.2} bytes/domain; one load took {:.0} ms",
            index.len(),
            index.heap_bytes(),
            index.heap_bytes() as f64 / index.len() as f64,
            took.as_secs_f64() * 1000.0
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("parse_and_build", n), &text, |b, text| {
            b.iter(|| load(text))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_load);
criterion_main!(benches);

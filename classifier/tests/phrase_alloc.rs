//! A scan allocates nothing once its `PhraseScratch` is warm, and is fast. This test binary
//! installs a counting global allocator, which needs `unsafe impl GlobalAlloc`: the only unsafe
//! code is here, in a test, delegating straight to the system allocator. The library itself stays
//! `#![forbid(unsafe_code)]`.

use std::path::Path;

use lychgate_classifier::category::Categories;
use lychgate_classifier::lists::phrases::load_phrases;
use lychgate_classifier::phrases::{PhraseScratch, PhraseSet, PhraseSetBuilder};
use lychgate_classifier::source::ListId;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

fn shipped_set() -> PhraseSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../blocklists/phrases");
    let cats = Categories::default();
    let mut builder = PhraseSetBuilder::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    for (i, f) in files.iter().enumerate() {
        load_phrases(f, ListId(i as u16), &cats, &mut builder).unwrap();
    }
    builder.build()
}

const QUERIES: &[&str] = &[
    "how to kill weeds in the garden",
    "i want to d1e s.u.i.c.i.d.e",
    "samob%C3%B3jstwo chc%C4%99 umrze%C4%87",
    "scunthorpe united fixtures 2025",
    "how+many+paracetamol+to+take",
    "ｆｕｌｌｗｉｄｔｈ ＳＥＸ Łódź café",
    "minecraft how to kill the ender dragon",
    "",
];

#[test]
fn scans_allocate_nothing_after_warm_up_and_are_fast() {
    let set = shipped_set();
    let mut scratch = PhraseScratch::new();
    // Warm-up: the scratch grows to the largest text and the set's phrase count.
    for q in QUERIES {
        set.scan(q, &mut scratch);
    }
    let before = counting_alloc::allocations();
    let mut concerns = 0;
    for _ in 0..100 {
        for q in QUERIES {
            concerns += set.scan(q, &mut scratch).concern_len;
        }
    }
    let after = counting_alloc::allocations();
    assert_eq!(after - before, 0, "scans allocated");
    assert!(concerns > 0);

    // Speed (meaningful with --release): a typical 40-byte search, best of 50 batches so a
    // busy machine's noise does not count.
    let q = "how do i get revenge on a bully at scho";
    let mut best = f64::MAX;
    let mut total = 0usize;
    for _ in 0..50 {
        let start = std::time::Instant::now();
        for _ in 0..2000 {
            total += set.scan(std::hint::black_box(q), &mut scratch).concern_len;
        }
        best = best.min(start.elapsed().as_nanos() as f64 / 2000.0);
    }
    // A yardstick from the same run: merely copying and lower-casing the search.
    let mut copy = String::new();
    let mut baseline = f64::MAX;
    for _ in 0..50 {
        let start = std::time::Instant::now();
        for _ in 0..2000 {
            copy.clear();
            copy.extend(
                std::hint::black_box(q)
                    .chars()
                    .map(|c| c.to_ascii_lowercase()),
            );
            std::hint::black_box(&copy);
        }
        baseline = baseline.min(start.elapsed().as_nanos() as f64 / 2000.0);
    }
    println!(
        "{} phrases; scan of a {}-byte search: {best:.0} ns; copying and lower-casing it: \
         {baseline:.0} ns (best of 50 x 2000; {total} concerns)",
        set.len(),
        q.len()
    );
}

//! `Policy::decide` allocates nothing once its scratch is warm: counted with a test allocator.
#![allow(unsafe_code)] // a counting GlobalAlloc needs `unsafe impl`; this test binary only.

use lychgate_classifier::category::{Categories, CategoryId, CategorySet};
use lychgate_classifier::lists::ListFormat;
use lychgate_classifier::policy::{
    GroupKind, GroupPolicy, ListOrigin, PolicyBuilder, RequestKind, Scratch, Target,
};
use lychgate_classifier::time::LocalTime;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn decide_allocates_nothing_when_warm() {
    let mut b = PolicyBuilder::new(
        Categories::default(),
        jiff::tz::TimeZone::UTC,
        "t.toml".into(),
    );
    let lists: [(&str, CategoryId, &'static str); 3] = [
        (
            "adult",
            CategoryId(2),
            "adult.example\nhost.example/bad/\nregex:casino[0-9]+\n",
        ),
        ("essential", CategoryId::ESSENTIAL, "login.example\n"),
        ("illegal", CategoryId::ILLEGAL, "abuse.example\n"),
    ];
    for (name, cat, text) in lists {
        b.add_list(
            name,
            cat,
            ListOrigin::Embedded { name, text },
            ListFormat::Native,
        )
        .unwrap();
    }
    let phrases = "#category: selfharm\n#theme: suicide-selfharm\n#severity: danger\n< kill myself ><100>\n<volcano>,<facts><20>\n";
    let (_, stats) = b
        .add_phrase_list(
            "phrases",
            ListOrigin::Embedded {
                name: "phrases",
                text: phrases,
            },
        )
        .unwrap();
    assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
    let mut g = GroupPolicy::new("pupils", GroupKind::Pupil);
    g.blocked = CategorySet::one(CategoryId(2));
    let g = b.add_group(g).unwrap();
    let p = b.build().unwrap();
    assert!(
        !p.phrases().is_empty(),
        "the phrase scan is part of what is measured"
    );
    let urls = [
        "http://www.adult.example/x",
        "http://host.example/bad/1",
        "http://casino77.example/",
        "https://login.example/",
        "http://abuse.example/",
        "https://www.google.com/search?q=how+to+kill+myself",
        "https://www.bing.com/search?q=volcano+facts",
        "http://unlisted.example/a/b?c=d",
        "http://1.2.3.4/",
    ];
    let targets: Vec<Target> = urls.iter().map(|u| Target::parse(u).unwrap()).collect();
    let mut scratch = Scratch::default();
    let at = LocalTime::new(0, 10, 0);
    for _ in 0..3 {
        for t in &targets {
            p.decide(g, at, &t.request(RequestKind::Http), &mut scratch);
        }
    }
    let before = allocations();
    let mut blocked = 0;
    for _ in 0..100 {
        for t in &targets {
            let d = p.decide(g, at, &t.request(RequestKind::Http), &mut scratch);
            blocked += usize::from(d.action == lychgate_classifier::Action::Block);
        }
    }
    let after = allocations();
    assert!(blocked >= 300, "the test exercises blocks too: {blocked}");
    assert_eq!(
        after - before,
        0,
        "decide allocated {} times in 900 warm calls",
        after - before
    );
}

//! `Policy::decide` allocates nothing once its scratch is warm: counted with a test allocator.

use lychgate_classifier::category::{Categories, CategoryId, CategorySet};
use lychgate_classifier::lists::ListFormat;
use lychgate_classifier::policy::{
    GroupKind, GroupPolicy, ListOrigin, PolicyBuilder, RequestKind, Scratch, Target,
};
use lychgate_classifier::time::LocalTime;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

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
    // Adblock rules: a `||name.` prefix, a case-insensitive URL prefix, an exception, and a URL
    // block on an essential host.
    b.add_list(
        "adblock",
        CategoryId(2),
        ListOrigin::Embedded {
            name: "adblock",
            text: "||adservice.google.\n||track.example/log?\n||ads.example^\n\
                   @@||ok.ads.example^\n@@||ads.example/player/\n||login.example/evil^\n",
        },
        ListFormat::Adblock,
    )
    .unwrap();
    let phrases = "#category: selfharm\n#theme: suicide\n#severity: danger\n< kill myself ><100>\n<volcano>,<facts><20>\n";
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
        "http://adservice.google.co.uk/x",
        "http://track.example/LOG?x=1",
        "http://ok.ads.example/",
        "http://ads.example/player/a.js",
        "https://login.example/evil?x",
    ];
    let targets: Vec<Target> = urls.iter().map(|u| Target::parse(u).unwrap()).collect();
    let mut scratch = Scratch::default();
    let at = LocalTime::new(0, 10, 0);
    for _ in 0..3 {
        for t in &targets {
            p.decide(g, at, &t.request(RequestKind::Http), &mut scratch);
        }
    }
    let before = counting_alloc::allocations();
    let mut blocked = 0;
    for _ in 0..100 {
        for t in &targets {
            let d = p.decide(g, at, &t.request(RequestKind::Http), &mut scratch);
            blocked += usize::from(d.action == lychgate_classifier::Action::Block);
        }
    }
    let after = counting_alloc::allocations();
    assert!(blocked >= 300, "the test exercises blocks too: {blocked}");
    assert_eq!(
        after - before,
        0,
        "decide allocated {} times in 1,400 warm calls",
        after - before
    );
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the test above: a counter that saw nothing would make "zero" meaningless.
    let (v, n) = counting_alloc::allocations_in(|| vec![7u8; 64]);
    assert_eq!(v.len(), 64);
    assert!(n >= 1, "counted {n}");
}

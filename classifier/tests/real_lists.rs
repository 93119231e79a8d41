//! Real adblock lines (excerpts of EasyList, EasyPrivacy and the URLhaus filter, see
//! `tests/data/lists/README.md`) load with adblock's meaning and decide requests as a browser
//! extension would, as far as a gateway can.

use lychgate_classifier::category::{Categories, CategoryId};
use lychgate_classifier::lists::{ListFormat, LoadStats, SkipReason};
use lychgate_classifier::policy::{
    Action, GroupId, GroupKind, GroupPolicy, ListOrigin, Policy, PolicyBuilder, RequestKind, Rule,
    Scratch, Target,
};
use lychgate_classifier::time::LocalTime;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/lists")
        .join(name)
}

struct Built {
    policy: Policy,
    group: GroupId,
    privacy: LoadStats,
    easylist: LoadStats,
    urlhaus: LoadStats,
}

fn build() -> Built {
    let mut cats = Categories::default();
    let ads = cats.add_custom("ads", false).unwrap();
    let tracking = cats.add_custom("tracking", false).unwrap();
    let malware = cats.id("malware").unwrap();
    let mut b = PolicyBuilder::new(cats, jiff::tz::TimeZone::UTC, "test.toml".into());
    b.add_list(
        "essential",
        CategoryId::ESSENTIAL,
        ListOrigin::Embedded {
            name: "essential",
            text: "drive.google.com\ndocs.google.com\n",
        },
        ListFormat::Native,
    )
    .unwrap();
    let mut load = |name: &str, cat| {
        b.add_list(
            name,
            cat,
            ListOrigin::File(fixture(name)),
            ListFormat::Adblock,
        )
        .unwrap()
        .1
    };
    let privacy = load("easyprivacy-excerpt.txt", tracking);
    let easylist = load("easylist-excerpt.txt", ads);
    let urlhaus = load("urlhaus-excerpt.txt", malware);
    let mut g = GroupPolicy::new("pupils", GroupKind::Pupil);
    for c in [ads, tracking, malware] {
        g.blocked.insert(c);
    }
    let group = b.add_group(g).unwrap();
    Built {
        policy: b.build().unwrap(),
        group,
        privacy,
        easylist,
        urlhaus,
    }
}

fn decide(b: &Built, url: &str, kind: RequestKind) -> lychgate_classifier::Decision {
    let t = Target::parse(url).expect("url");
    b.policy.decide(
        b.group,
        LocalTime::new(2, 10, 0),
        &t.request(kind),
        &mut Scratch::default(),
    )
}

fn action(b: &Built, url: &str) -> Action {
    decide(b, url, RequestKind::Http).action
}

#[test]
fn urlhaus_bare_hosts_and_ips_block() {
    let b = build();
    // `1.1.104.12` and `aaaaaaaaaaaaaaaaa.com` are written bare, as uBlock lists do.
    assert_eq!(action(&b, "http://1.1.104.12/x.sh"), Action::Block);
    assert_eq!(action(&b, "http://aaaaaaaaaaaaaaaaa.com/"), Action::Block);
    assert_eq!(action(&b, "http://sub.aadcdn.msonline.at/"), Action::Block);
    let dns = decide(&b, "abissnet.net", RequestKind::HostOnly);
    assert_eq!(dns.action, Action::Block, "the DNS server blocks them too");
    assert_eq!(b.urlhaus.domains, 20);
    assert_eq!(b.urlhaus.urls, 5);
    assert_eq!(b.urlhaus.skipped, 0);
}

#[test]
fn a_trailing_dot_blocks_every_suffix() {
    let b = build();
    // EasyPrivacy `||adservice.google.`, EasyList `||get-me-wow.` and `||142.91.159.`.
    for url in [
        "http://adservice.google.co.uk/ddm/fls",
        "http://adservice.google.de/",
        "http://get-me-wow.ru/",
        "http://142.91.159.7/",
    ] {
        let d = decide(&b, url, RequestKind::Http);
        assert_eq!(d.action, Action::Block, "{url}: {d:?}");
    }
    assert_eq!(
        decide(&b, "adservice.google.com", RequestKind::HostOnly).action,
        Action::Block
    );
    assert_eq!(action(&b, "http://google.co.uk/"), Action::Allow);
    assert_eq!(action(&b, "http://142.91.16.7/"), Action::Allow);
}

#[test]
fn adblock_paths_are_case_insensitive_prefixes() {
    let b = build();
    // `||adbr.io/log?` and EasyList `||anrdoezrs.net/image-`.
    assert_eq!(action(&b, "http://adbr.io/log?x=1"), Action::Block);
    assert_eq!(action(&b, "http://adbr.io/logo.png"), Action::Allow);
    assert_eq!(
        action(&b, "http://www.anrdoezrs.net/image-7.0.js"),
        Action::Block
    );
    assert_eq!(
        action(&b, "http://anrdoezrs.net/Image-1.gif"),
        Action::Block
    );
    // `||amazonaws.com/beacon^`: the `^` needs a separator or the end.
    assert_eq!(
        action(&b, "http://s3.amazonaws.com/beacon?id=1"),
        Action::Block
    );
    assert_eq!(
        action(&b, "http://s3.amazonaws.com/beacons.html"),
        Action::Allow
    );
}

#[test]
fn unseen_resource_types_leave_the_site_alone() {
    let b = build();
    // `||scholar.google.com^$ping`, `||soundcloud.com^$ping`, `||neowin.net/ws/$websocket`.
    assert_eq!(action(&b, "http://soundcloud.com/discover"), Action::Allow);
    assert_eq!(action(&b, "http://www.neowin.net/ws/news"), Action::Allow);
    assert_eq!(b.privacy.skips.get(SkipReason::ResourceType), 3);
}

#[test]
fn exceptions_carve_out_the_lists_own_blocks() {
    let b = build();
    // `||segment.com^$third-party` with `@@||cdn.segment.com/analytics-next/`.
    assert_eq!(action(&b, "http://api.segment.com/v1/t"), Action::Block);
    assert_eq!(
        action(&b, "http://cdn.segment.com/analytics-next/bundle.js"),
        Action::Allow
    );
    assert_eq!(action(&b, "http://cdn.segment.com/other.js"), Action::Block);
    // `||cxense.com^` with `@@||cxense.com/document/search?`.
    assert_eq!(
        action(&b, "http://cxense.com/document/search?q=a"),
        Action::Allow
    );
    assert_eq!(action(&b, "http://cxense.com/track"), Action::Block);
    // EasyList `||g.doubleclick.net^` with `@@||pubads.g.doubleclick.net/ssai/`.
    assert_eq!(
        action(&b, "http://pubads.g.doubleclick.net/ssai/event/1"),
        Action::Allow
    );
    assert_eq!(
        action(&b, "http://pubads.g.doubleclick.net/gampad/ads"),
        Action::Block
    );
    assert_eq!(b.privacy.exceptions, 2);
    assert_eq!(b.easylist.exceptions, 1);
}

#[test]
fn a_malware_url_on_an_essential_host_is_blocked_and_the_host_stays_essential() {
    let b = build();
    // URLhaus `||drive.google.com/uc?export=download&id=1-8qpzgr4-iis53p1-kr2-o6prrjmnksk^$all`
    // (lower-cased by URLhaus; Drive ids are mixed case).
    let d = decide(
        &b,
        "https://drive.google.com/uc?export=download&id=1-8QPZGR4-iis53p1-kr2-o6prrjmnksk",
        RequestKind::Http,
    );
    assert_eq!(d.action, Action::Block);
    assert!(matches!(d.rule, Rule::UrlList { .. }), "{:?}", d.rule);
    let d = decide(
        &b,
        "https://drive.google.com/drive/my-drive",
        RequestKind::Http,
    );
    assert_eq!(
        (d.action, d.category),
        (Action::Allow, Some(CategoryId::ESSENTIAL))
    );
    let d = decide(&b, "drive.google.com", RequestKind::HostOnly);
    assert_eq!(
        (d.action, d.category),
        (Action::Allow, Some(CategoryId::ESSENTIAL))
    );
}

#[test]
fn skips_are_counted_per_reason() {
    let b = build();
    let reasons: Vec<_> = b.privacy.skips.nonzero().collect();
    assert_eq!(
        reasons,
        [
            (SkipReason::Cosmetic, 2),
            (SkipReason::ResourceType, 3),
            (SkipReason::NotDomainAnchored, 6),
            (SkipReason::Wildcard, 1),
        ]
    );
    assert_eq!(b.privacy.skipped, b.privacy.skips.total());
    assert!(b.privacy.warnings.is_empty() && b.easylist.warnings.is_empty());
}

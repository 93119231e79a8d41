//! The documented precedence of `Policy::decide`, rule by rule.

use lychgate_classifier::category::{Categories, CategoryId, CategorySet};
use lychgate_classifier::lists::ListFormat;
use lychgate_classifier::policy::{
    Action, GroupId, GroupKind, GroupPolicy, ListOrigin, Policy, PolicyBuilder, PolicyError,
    RequestKind, Rule, Scratch, Target, WindowRule,
};
use lychgate_classifier::source::{ListId, SourceRef};
use lychgate_classifier::time::{LocalTime, TimeWindow};

const ADULT: CategoryId = CategoryId(2);
const GAMBLING: CategoryId = CategoryId(6);
const GAMES: CategoryId = CategoryId(14);
const SOCIAL: CategoryId = CategoryId(15);
const VIDEO: CategoryId = CategoryId(17);

fn cfg() -> SourceRef {
    SourceRef {
        list: ListId(0),
        line: 1,
    }
}

fn builder() -> PolicyBuilder {
    let cats = Categories::default();
    assert_eq!(cats.name(ADULT), "adult");
    assert_eq!(cats.name(GAMBLING), "gambling");
    assert_eq!(cats.name(GAMES), "games");
    assert_eq!(cats.name(SOCIAL), "social");
    assert_eq!(cats.name(VIDEO), "video");
    let mut b = PolicyBuilder::new(cats, jiff::tz::TimeZone::UTC, "test.toml".into());
    let lists: [(&str, CategoryId, &'static str); 7] = [
        (
            "illegal",
            CategoryId::ILLEGAL,
            "abuse.example\nhost.example/bad/\n",
        ),
        (
            "essential",
            CategoryId::ESSENTIAL,
            "login.example\nabuse-help.example\n",
        ),
        ("adult", ADULT, "adult.example\nmixed.example\n"),
        ("gambling", GAMBLING, "bet.example\n"),
        (
            "games",
            GAMES,
            "games.example\nmixed.example\nportal.example/games/\nportal.example/watch?v=bad\nportal.example/a/../%7Ekids/\n",
        ),
        ("social", SOCIAL, "social.example\n"),
        ("video", VIDEO, "video.example\n=exact.video.example\n"),
    ];
    for (name, cat, text) in lists {
        b.add_list(
            name,
            cat,
            ListOrigin::Embedded { name, text },
            ListFormat::Native,
        )
        .expect("list loads");
    }
    b
}

fn pupils() -> GroupPolicy {
    let mut g = GroupPolicy::new("pupils", GroupKind::Pupil);
    for c in [ADULT, GAMBLING, GAMES, SOCIAL, VIDEO] {
        g.blocked.insert(c);
    }
    g.ip_literal = Action::Block;
    g
}

fn decide(p: &Policy, g: GroupId, at: LocalTime, url: &str) -> lychgate_classifier::Decision {
    let t = Target::parse(url).expect("url");
    p.decide(
        g,
        at,
        &t.request(RequestKind::Http),
        &mut Scratch::default(),
    )
}

const WED_10: LocalTime = LocalTime::new(2, 10, 0);

#[test]
fn illegal_beats_essential_and_overrides() {
    let mut b = builder();
    let g = b.add_group(pupils()).unwrap();
    b.add_override(
        g,
        Action::Allow,
        "abuse.example",
        "a mistake that must not matter",
        cfg(),
    )
    .unwrap();
    let p = b.build().unwrap();
    let d = decide(&p, g, WED_10, "http://www.abuse.example/");
    assert_eq!(
        (d.action, d.rule),
        (Action::Block, Rule::Illegal { list: ListId(1) })
    );
    let d = decide(&p, g, WED_10, "http://host.example/bad/x");
    assert_eq!(
        d.action,
        Action::Block,
        "URL entries of the illegal list block too"
    );
    assert_eq!(
        decide(&p, g, WED_10, "http://host.example/good").action,
        Action::Allow
    );
}

#[test]
fn essential_beats_a_deny_override() {
    let mut b = builder();
    let g = b.add_group(pupils()).unwrap();
    b.add_override(g, Action::Block, "login.example", "someone tried", cfg())
        .unwrap();
    let p = b.build().unwrap();
    let d = decide(&p, g, WED_10, "https://login.example/");
    assert_eq!(d.action, Action::Allow);
    assert!(matches!(d.rule, Rule::Essential { .. }));
}

#[test]
fn most_specific_override_wins() {
    let mut b = builder();
    let g = b.add_group(pupils()).unwrap();
    b.add_override(g, Action::Allow, "games.example", "games club", cfg())
        .unwrap();
    b.add_override(
        g,
        Action::Block,
        "chat.games.example",
        "chat with strangers",
        cfg(),
    )
    .unwrap();
    b.add_override(
        g,
        Action::Allow,
        "chat.games.example/help",
        "help pages",
        cfg(),
    )
    .unwrap();
    b.add_override(g, Action::Allow, "video.example", "tie: allow", cfg())
        .unwrap();
    b.add_override(g, Action::Block, "video.example", "tie: block", cfg())
        .unwrap();
    let p = b.build().unwrap();
    assert_eq!(
        decide(&p, g, WED_10, "http://www.games.example/").action,
        Action::Allow
    );
    assert_eq!(
        decide(&p, g, WED_10, "http://chat.games.example/").action,
        Action::Block,
        "longer domain beats shorter"
    );
    assert_eq!(
        decide(&p, g, WED_10, "http://chat.games.example/help/faq").action,
        Action::Allow,
        "URL entry beats domain"
    );
    let d = decide(&p, g, WED_10, "http://video.example/");
    assert_eq!(
        d.action,
        Action::Block,
        "deny beats allow at equal specificity"
    );
    assert_eq!(
        p.override_rule(match d.rule {
            Rule::Override { id } => id,
            other => panic!("{other:?}"),
        })
        .reason,
        "tie: block"
    );
}

#[test]
fn windows_lift_and_add_blocks_and_block_windows_win() {
    let mut b = builder();
    let mut g = pupils();
    g.windows.push(WindowRule {
        window: TimeWindow::parse("Mon-Fri", "09:00-15:15").unwrap(),
        categories: CategorySet::one(VIDEO),
        action: Action::Allow,
        source: cfg(),
    });
    g.windows.push(WindowRule {
        window: TimeWindow::parse("Wed", "14:00-15:00").unwrap(),
        categories: CategorySet::one(VIDEO),
        action: Action::Block,
        source: cfg(),
    });
    let g = b.add_group(g).unwrap();
    let p = b.build().unwrap();
    let d = decide(&p, g, WED_10, "http://video.example/");
    assert_eq!(
        (d.action, d.rule),
        (Action::Allow, Rule::Window { group: g, index: 0 })
    );
    let d = decide(&p, g, LocalTime::new(2, 14, 30), "http://video.example/");
    assert_eq!(
        (d.action, d.rule),
        (Action::Block, Rule::Window { group: g, index: 1 })
    );
    let d = decide(&p, g, LocalTime::new(2, 15, 15), "http://video.example/");
    assert_eq!(
        (d.action, d.rule),
        (Action::Block, Rule::DomainList { category: VIDEO })
    );
}

#[test]
fn an_allowing_window_does_not_lift_another_blocked_category() {
    let mut b = builder();
    let mut g = pupils();
    g.windows.push(WindowRule {
        window: TimeWindow::parse("daily", "00:00-24:00").unwrap(),
        categories: CategorySet::one(GAMES),
        action: Action::Allow,
        source: cfg(),
    });
    let g = b.add_group(g).unwrap();
    let p = b.build().unwrap();
    assert_eq!(
        decide(&p, g, WED_10, "http://games.example/").action,
        Action::Allow
    );
    let d = decide(&p, g, WED_10, "http://mixed.example/");
    assert_eq!(
        d.action,
        Action::Block,
        "mixed.example is games and adult: adult still blocks"
    );
    assert_eq!(d.category, Some(ADULT));
    assert!(
        d.categories.contains(GAMES) && d.categories.contains(ADULT),
        "all categories are reported"
    );
}

#[test]
fn url_entries_and_exact_entries() {
    let mut b = builder();
    let g = b.add_group(pupils()).unwrap();
    let p = b.build().unwrap();
    let d = decide(&p, g, WED_10, "http://portal.example/games/snake");
    assert_eq!(d.action, Action::Block);
    assert!(matches!(d.rule, Rule::UrlList { .. }), "{:?}", d.rule);
    assert_eq!(
        decide(&p, g, WED_10, "http://portal.example/homework").action,
        Action::Allow
    );
    // A DNS question only knows the host: a URL entry never blocks the whole domain.
    let t = Target::parse("portal.example").unwrap();
    let d = p.decide(
        g,
        WED_10,
        &t.request(RequestKind::HostOnly),
        &mut Scratch::default(),
    );
    assert_eq!(d.action, Action::Allow);
    assert_eq!(
        decide(&p, g, WED_10, "http://www.exact.video.example/").action,
        Action::Block,
        "parent entry covers it"
    );
}

#[test]
fn ip_literals_follow_the_group() {
    let mut b = builder();
    let pupils = b.add_group(pupils()).unwrap();
    let staff = b
        .add_group(GroupPolicy::new("staff", GroupKind::Staff))
        .unwrap();
    let p = b.build().unwrap();
    for url in [
        "http://1.2.3.4/",
        "http://0x01020304/",
        "http://16909060/",
        "http://[2001:db8::1]/",
    ] {
        let d = decide(&p, pupils, WED_10, url);
        assert_eq!(
            (d.action, d.rule),
            (Action::Block, Rule::IpLiteral),
            "{url}"
        );
        assert_eq!(
            decide(&p, staff, WED_10, url).action,
            Action::Allow,
            "{url}"
        );
    }
}

#[test]
fn allow_list_only_groups_block_the_unlisted() {
    let mut b = builder();
    let mut g = GroupPolicy::new("reception", GroupKind::Pupil);
    g.allow_list_only = true;
    g.allowed = CategorySet::one(VIDEO);
    let g = b.add_group(g).unwrap();
    b.add_override(g, Action::Allow, "www.bbc.example/cbeebies", "EYFS", cfg())
        .unwrap();
    let p = b.build().unwrap();
    assert_eq!(
        decide(&p, g, WED_10, "http://unlisted.example/").rule,
        Rule::AllowListOnly
    );
    assert_eq!(
        decide(&p, g, WED_10, "http://video.example/").action,
        Action::Allow
    );
    assert_eq!(
        decide(&p, g, WED_10, "http://login.example/").action,
        Action::Allow
    );
    assert_eq!(
        decide(&p, g, WED_10, "http://www.bbc.example/cbeebies/x").action,
        Action::Allow
    );
    assert_eq!(
        decide(&p, g, WED_10, "http://www.bbc.example/news").action,
        Action::Block
    );
}

#[test]
fn nothing_can_allow_illegal() {
    let mut b = builder();
    let mut g = pupils();
    g.allowed.insert(CategoryId::ILLEGAL);
    assert!(matches!(b.add_group(g), Err(PolicyError::AllowsIllegal(_))));
    let mut g = pupils();
    g.windows.push(WindowRule {
        window: TimeWindow::parse("daily", "09:00-10:00").unwrap(),
        categories: CategorySet::one(CategoryId::ILLEGAL),
        action: Action::Allow,
        source: cfg(),
    });
    assert!(matches!(b.add_group(g), Err(PolicyError::AllowsIllegal(_))));
}

#[test]
fn overrides_need_a_reason() {
    let mut b = builder();
    let g = b.add_group(pupils()).unwrap();
    assert!(matches!(
        b.add_override(g, Action::Allow, "x.example", "  ", cfg()),
        Err(PolicyError::MissingReason(_))
    ));
}

#[test]
fn url_entries_match_queries_and_normalised_paths() {
    let mut b = builder();
    let g = b.add_group(pupils()).unwrap();
    b.add_override(
        g,
        Action::Block,
        "video.example/watch?v=nasty",
        "one video",
        cfg(),
    )
    .unwrap();
    let mut staff = GroupPolicy::new("staff", GroupKind::Staff);
    staff.ip_literal = Action::Allow;
    let staff = b.add_group(staff).unwrap();
    b.add_override(
        staff,
        Action::Block,
        "video.example/watch?v=nasty",
        "one video",
        cfg(),
    )
    .unwrap();
    let p = b.build().unwrap();
    // An entry with a query (as IWF URLs have) matches that query, also with more parameters.
    assert_eq!(
        decide(&p, g, WED_10, "http://portal.example/watch?v=bad").action,
        Action::Block
    );
    assert_eq!(
        decide(&p, g, WED_10, "http://portal.example/watch?v=bad&t=30").action,
        Action::Block
    );
    assert_eq!(
        decide(&p, g, WED_10, "http://portal.example/watch?v=good").action,
        Action::Allow
    );
    // The entry `a/../%7Ekids/` is normalised like a request path: `/~kids/`.
    assert_eq!(
        decide(&p, g, WED_10, "http://portal.example/~kids/x").action,
        Action::Block
    );
    assert_eq!(
        decide(&p, g, WED_10, "http://portal.example/%7ekids/x").action,
        Action::Block
    );
    // Overrides keep their query too.
    assert_eq!(
        decide(&p, staff, WED_10, "http://video.example/watch?v=nasty").action,
        Action::Block
    );
    assert_eq!(
        decide(&p, staff, WED_10, "http://video.example/watch?v=fine").action,
        Action::Allow
    );
}

#[test]
fn a_group_id_the_policy_does_not_have_fails_closed_without_panicking() {
    let mut b = builder();
    let g = b.add_group(pupils()).unwrap();
    b.add_override(g, Action::Allow, "bet.example", "a school trip", cfg())
        .unwrap();
    let p = b.build().unwrap();
    let stranger = GroupId(g.0 + 7);
    assert_eq!(p.group(stranger).name, "unknown");
    let d = decide(&p, stranger, WED_10, "http://plain.example/");
    assert_eq!(
        d.action,
        Action::Block,
        "nothing passes for an unknown group"
    );
    let d = decide(&p, stranger, WED_10, "http://bet.example/");
    assert_eq!(
        d.action,
        Action::Block,
        "another group's overrides do not apply"
    );
    assert!(!p.describe(stranger, &d).is_empty());
    let d = decide(&p, stranger, WED_10, "http://login.example/");
    assert_eq!(d.action, Action::Allow, "essential services stay reachable");
    let d = decide(&p, stranger, WED_10, "http://abuse.example/");
    assert_eq!(d.action, Action::Block);
}

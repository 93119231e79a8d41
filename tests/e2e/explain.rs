//! `lychgate explain`: stable first line, rule with file:line, concerns, JSON.

use crate::support::{lychgate, lychgate_in, school_config, stderr, stdout};

#[test]
fn a_listed_site_names_its_category_and_list_line() {
    let out = lychgate(&["explain", "https://www.pornhub.com/x", "--group", "ks2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().next(), Some("decision: block adult"), "{text}");
    assert!(
        text.contains("rule: domain-list (blocklists/adult/domains:"),
        "{text}"
    );
    assert!(
        !text.contains("concern:"),
        "no concern for a plain address:\n{text}"
    );
}

#[test]
fn time_windows_follow_the_at_time() {
    let lunch = lychgate(&[
        "explain",
        "roblox.com",
        "--group",
        "staff",
        "--at",
        "2026-12-02T12:30",
    ]);
    let text = stdout(&lunch);
    assert_eq!(text.lines().next(), Some("decision: allow games"), "{text}");
    assert!(
        text.contains("rule: time-window (config/lychgate.toml:"),
        "{text}"
    );
    let lesson = lychgate(&[
        "explain",
        "roblox.com",
        "--group",
        "staff",
        "--at",
        "2026-12-02T10:30",
    ]);
    assert_eq!(
        stdout(&lesson).lines().next(),
        Some("decision: block games"),
        "{}",
        stdout(&lesson)
    );
}

#[test]
fn overrides_show_their_reason() {
    let out = lychgate(&[
        "explain",
        "https://www.bbc.co.uk/cbeebies/games",
        "--group",
        "reception",
    ]);
    let text = stdout(&out);
    assert_eq!(text.lines().next(), Some("decision: allow"), "{text}");
    assert!(
        text.contains("CBeebies games and stories used in Reception lessons"),
        "{text}"
    );
    let news = lychgate(&[
        "explain",
        "https://www.bbc.co.uk/news",
        "--group",
        "reception",
    ]);
    assert_eq!(
        stdout(&news).lines().next(),
        Some("decision: block"),
        "{}",
        stdout(&news)
    );
    assert!(
        stdout(&news).contains("rule: allow-list-only"),
        "{}",
        stdout(&news)
    );
}

#[test]
fn illegal_hits_name_the_list_but_never_the_line() {
    let (dir, path) = school_config();
    let out = lychgate_in(
        dir.path(),
        &[
            "explain",
            "http://www.csam-test.example/",
            "--group",
            "staff",
            "--config",
            path.to_str().unwrap(),
        ],
    );
    let text = stdout(&out);
    assert_eq!(
        text.lines().next(),
        Some("decision: block illegal"),
        "{text}{}",
        stderr(&out)
    );
    assert!(text.contains("rule: illegal (fake IWF list)"), "{text}");
    assert!(
        !text.contains("fake-illegal.txt:"),
        "the line must stay confidential:\n{text}"
    );
}

#[test]
fn json_output_has_the_whole_decision() {
    let out = lychgate(&[
        "explain",
        "https://www.youtube.com/watch?v=x",
        "--group",
        "ks2",
        "--at",
        "2026-12-02T16:00",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["decision"], "block");
    assert_eq!(v["category"], "video");
    assert_eq!(v["group"], "ks2");
    assert_eq!(v["rule"], "domain-list");
    assert!(
        v["categories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "video")
    );
    assert!(v["concerns"].as_array().unwrap().is_empty());
}

#[test]
fn unknown_groups_and_bad_urls_are_usage_errors() {
    let out = lychgate(&["explain", "example.com", "--group", "year9"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("unknown group `year9`; the groups are: staff, ks2"),
        "{}",
        stderr(&out)
    );
    let bad = lychgate(&["explain", "http://exa mple.com/", "--group", "ks2"]);
    assert_eq!(bad.status.code(), Some(64));
}

#[test]
fn searches_show_their_terms_and_concerns_whatever_the_decision() {
    let out = lychgate(&[
        "explain",
        "https://www.google.co.uk/search?q=how+to+k1ll+mys3lf",
        "--group",
        "staff",
    ]);
    let text = stdout(&out);
    assert_eq!(
        text.lines().next(),
        Some("decision: allow"),
        "staff may search, {text}"
    );
    assert!(
        text.contains("search: google \"how to k1ll mys3lf\""),
        "{text}"
    );
    assert!(
        text.contains("concern: suicide danger \"kill myself\""),
        "an allowed search still raises its concern:\n{text}"
    );

    let out = lychgate(&[
        "explain",
        "https://www.bing.com/search?q=free+porn+videos",
        "--group",
        "ks2",
    ]);
    let text = stdout(&out);
    assert_eq!(text.lines().next(), Some("decision: block adult"), "{text}");
    assert!(text.contains("rule: phrases"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("concern: adult ")),
        "{text}"
    );

    let out = lychgate(&[
        "explain",
        "https://www.google.com/search?q=scunthorpe+united+fixtures",
        "--group",
        "ks1",
    ]);
    let text = stdout(&out);
    assert_eq!(text.lines().next(), Some("decision: allow"), "{text}");
    assert!(
        !text.contains("concern:"),
        "good context keeps a place name clean:\n{text}"
    );
}

#[test]
fn look_alikes_of_listed_sites_are_blocked_for_pupils() {
    let out = lychgate(&["explain", "http://аmazon.co.uk/", "--group", "ks2"]);
    let text = stdout(&out);
    assert_eq!(
        text.lines().next(),
        Some("decision: block"),
        "{text}{}",
        stderr(&out)
    );
    assert!(text.contains("rule: look-alike"), "{text}");
    assert!(text.contains("(it imitates `amazon.co.uk`)"), "{text}");
    assert!(text.contains("url: http://xn--mazon-3ve.co.uk/"), "{text}");
}

#[test]
fn lists_lookup_names_category_and_line() {
    let out = lychgate(&["lists", "lookup", "https://sports.bet365.com/"]);
    let text = stdout(&out);
    assert!(text.starts_with("sports.bet365.com: gambling\n"), "{text}");
    assert!(
        text.contains("  gambling: blocklists/gambling/domains:"),
        "{text}"
    );
    let none = lychgate(&["lists", "lookup", "www.bbc.co.uk"]);
    assert_eq!(stdout(&none), "www.bbc.co.uk: on no list\n");
}

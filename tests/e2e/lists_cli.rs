//! Real lists through the CLI: per-reason skip counts in `check-config`, every bad line counted,
//! the default group's strictness judged with `allow_list_only`, `lists` behind a closed pipe.

use crate::support::{data, lychgate_in, stderr, stdout};
use std::process::{Command, Stdio};

/// A config loading the real list excerpts of `tests/data/lists` in adblock format (all as
/// `malware`, blocked for `pupils`), with `drive.google.com` as an essential service.
fn real_lists_config(dir: &std::path::Path) -> std::path::PathBuf {
    let lists = data().join("lists");
    let mut config = String::from(
        "default_group = \"pupils\"\n[groups.pupils]\nkind = \"pupil\"\nblock = [\"malware\"]\n",
    );
    std::fs::write(dir.join("essential.txt"), "drive.google.com\n").unwrap();
    config.push_str("[[list]]\ncategory = \"essential\"\npath = \"essential.txt\"\n");
    for name in [
        "easyprivacy-excerpt.txt",
        "easylist-excerpt.txt",
        "urlhaus-excerpt.txt",
    ] {
        config.push_str(&format!(
            "[[list]]\ncategory = \"malware\"\nformat = \"adblock\"\npath = \"{}\"\n",
            lists.join(name).display()
        ));
    }
    let path = dir.join("real.toml");
    std::fs::write(&path, config).unwrap();
    path
}

#[test]
fn check_config_counts_skips_per_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = real_lists_config(dir.path());
    let out = lychgate_in(dir.path(), &["check-config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "  skipped: 2 cosmetic, 3 resource type a proxy cannot see, 6 not domain-anchored, \
             1 wildcard or port; exceptions kept: 2\n"
        ),
        "{text}"
    );
    // URLhaus: 10 bare IPs and 10 bare hosts load as domains, nothing skipped.
    let urlhaus = text
        .lines()
        .find(|l| l.ends_with("urlhaus-excerpt.txt"))
        .unwrap_or_else(|| panic!("no URLhaus row in:\n{text}"));
    assert!(
        urlhaus.contains("      20 domains      5 urls"),
        "{urlhaus}"
    );
    assert!(urlhaus.contains("    0 skipped"), "{urlhaus}");
}

#[test]
fn explain_applies_real_rules_as_adblock_means_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = real_lists_config(dir.path());
    let first_line = |url: &str| {
        let out = lychgate_in(
            dir.path(),
            &[
                "explain",
                url,
                "--group",
                "pupils",
                "--config",
                config.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{url}: {}", stderr(&out));
        stdout(&out).lines().next().unwrap_or_default().to_string()
    };
    for (url, expected) in [
        // URLhaus writes IPs and hosts bare.
        ("http://1.1.104.12/bins/x86", "decision: block malware"),
        ("http://aaaaaaaaaaaaaaaaa.com/", "decision: block malware"),
        // EasyPrivacy `||adservice.google.`: any suffix.
        (
            "https://adservice.google.co.uk/ddm",
            "decision: block malware",
        ),
        // `||adbr.io/log?`: a prefix, not a path segment.
        ("https://adbr.io/log?e=1", "decision: block malware"),
        // `||soundcloud.com^$ping`: not the whole site.
        ("https://soundcloud.com/discover", "decision: allow"),
        // `||segment.com^$third-party` carved out by `@@||cdn.segment.com/analytics-next/`.
        (
            "https://cdn.segment.com/analytics-next/a.js",
            "decision: allow",
        ),
        ("https://api.segment.com/v1/t", "decision: block malware"),
        // A URLhaus URL on an essential host: that URL only.
        (
            "https://drive.google.com/uc?export=download&id=1-8QPZGR4-iis53p1-kr2-o6prrjmnksk",
            "decision: block malware",
        ),
        (
            "https://drive.google.com/drive/home",
            "decision: allow essential",
        ),
    ] {
        assert_eq!(first_line(url), expected, "{url}");
    }
}

#[test]
fn every_bad_line_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut list = String::new();
    for i in 0..1600 {
        list.push_str(&format!("good{i}.example\n"));
    }
    for i in 0..1500 {
        list.push_str(&format!("bad {i}.example\n"));
    }
    std::fs::write(dir.path().join("big.txt"), list).unwrap();
    let config = "default_group = \"pupils\"\n[[list]]\ncategory = \"games\"\npath = \"big.txt\"\n\
                  format = \"plain\"\n[groups.pupils]\nkind = \"pupil\"\nblock = [\"games\"]\n";
    std::fs::write(dir.path().join("l.toml"), config).unwrap();
    let out = lychgate_in(dir.path(), &["check-config", "l.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1500 bad list lines (skipped"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(" 1500 bad  ./big.txt"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("... and 1450 more bad list lines"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_allow_list_only_default_group_is_not_called_lax() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"default_group = "visitors"
[groups.visitors]
kind = "guest"
allow_list_only = true
allow = ["shopping"]
[groups.ks2]
kind = "pupil"
block = ["adult", "games", "shopping"]
"#;
    std::fs::write(dir.path().join("g.toml"), config).unwrap();
    let out = lychgate_in(dir.path(), &["check-config", "g.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("is less strict than pupil group"))
        .collect();
    // Adult and games are blocked by the allow-list; only the allowed shopping gets through.
    assert_eq!(
        warnings,
        [
            "warning: default_group `visitors` is less strict than pupil group `ks2`: \
          it does not block shopping that the pupil group blocks"
        ],
        "{text}"
    );
}

#[test]
fn lists_lookup_names_the_line_of_a_trailing_dot_rule() {
    let dir = tempfile::tempdir().unwrap();
    let config = real_lists_config(dir.path());
    let out = lychgate_in(
        dir.path(),
        &[
            "lists",
            "lookup",
            "adservice.google.co.uk",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("adservice.google.co.uk: malware\n"),
        "{text}"
    );
    assert!(text.contains("easyprivacy-excerpt.txt:11\n"), "{text}");
}

#[test]
fn lists_commands_end_quietly_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let config = real_lists_config(dir.path());
    for args in [
        vec!["lists", "stats", "--config", config.to_str().unwrap()],
        vec![
            "lists",
            "lookup",
            "1.1.104.12",
            "--config",
            config.to_str().unwrap(),
        ],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lychgate"))
            .args(&args)
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run lychgate");
        // The reader goes away before anything is written (`| head` that already has enough).
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
}

//! `lychgate check-config`: summaries, every problem at once with its line, exit codes.

use crate::support::{lychgate, lychgate_in, root, stderr, stdout};

#[test]
fn default_config_checks_clean_and_warns_about_the_missing_illegal_list() {
    let out = lychgate(&["check-config"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("config: config/lychgate.toml (ok)"), "{text}");
    assert!(
        text.contains("warning: no `illegal` list is configured"),
        "{text}"
    );
    for group in ["staff", "ks2", "ks1", "year1", "reception", "guest"] {
        assert!(
            text.contains(&format!("\n  {group} (")),
            "group {group} missing from summary:\n{text}"
        );
    }
    assert!(
        text.contains("timed: allow games Mon-Fri 12:00-13:00"),
        "{text}"
    );
    assert!(
        text.contains("guest (kind guest; logins: none) [default group] [allow-list only]"),
        "{text}"
    );
    assert!(text.contains("bytes/domain"), "{text}");
}

#[test]
fn with_no_config_nearby_the_built_in_default_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let out = lychgate_in(dir.path(), &["check-config"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("config: <built-in default config> (ok)"),
        "{}",
        stdout(&out)
    );
}

const BROKEN: &str = r#"timezone = "Europe/Lundon"
default_group = "visitors"
blok = ["games"]

[[list]]
category = "adult"
path = "no-such-list.txt"

[[list]]
category = "gamez"
path = "builtin:games"

[[network]]
cidr = "10.0.3.0/33"
group = "ks2"

[[network]]
cidr = "10.0.4.0/24"
group = "year9"

[[network]]
cidr = "10.0.4.0/24"
group = "ks2"

[groups.ks2]
kind = "pupil"
block = ["adult", "socail"]
allow = ["illegal"]
colour = "blue"

[[groups.ks2.window]]
days = "Mon-Fri"
time = "25:00-26:00"
allow = ["video"]

[[groups.ks2.window]]
days = "Funday"
time = "09:00-10:00"
allow = ["games"]

[[groups.ks2.override]]
action = "allow"
host = "example.com"

[[groups.ks2.override]]
action = "permit"
url = "example.org/maths"
reason = "maths games"
"#;

#[test]
fn a_network_with_host_bits_is_an_error_and_still_caught_as_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts.toml");
    std::fs::write(
        &path,
        "default_group = \"guest\"\n\n\
         [groups.guest]\nkind = \"guest\"\nallow_list_only = true\n\n\
         [[network]]\ncidr = \"10.0.3.0/24\"\n\n\
         [[network]]\ncidr = \"10.0.3.5/24\"\n\n\
         [[network]]\ncidr = \"10.0.4.9/24\"\n",
    )
    .unwrap();
    let out = lychgate_in(dir.path(), &["check-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64), "{}", stdout(&out));
    let err = stderr(&out);
    let expected = [
        (
            11,
            "network[1].cidr: `10.0.3.5/24` has host bits set: did you mean the network `10.0.3.0/24`, or the one address `10.0.3.5`?",
        ),
        (
            11,
            "network[1].cidr: network `10.0.3.0/24` is listed twice (first on line 8)",
        ),
        (
            14,
            "network[2].cidr: `10.0.4.9/24` has host bits set: did you mean the network `10.0.4.0/24`",
        ),
    ];
    for (line, text) in expected {
        let needle = format!("hosts.toml:{line}: ");
        let found = err.lines().any(|l| l.contains(&needle) && l.contains(text));
        assert!(found, "expected `{needle}…{text}` in:\n{err}");
    }
    assert!(err.starts_with("3 problems in the configuration:"), "{err}");
}

#[test]
fn network_reserves_must_fit_in_the_connection_total() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reserves.toml");
    std::fs::write(
        &path,
        "default_group = \"guest\"\n\n\
         [proxy]\nmax_connections = 100\n\n\
         [groups.guest]\nkind = \"guest\"\nallow_list_only = true\n\n\
         [[network]]\ncidr = \"10.0.3.0/24\"\nreserved_connections = 80\n\n\
         [[network]]\ncidr = \"10.0.4.0/24\"\n\n\
         [[network]]\ncidr = \"10.0.5.0/24\"\nreserved_connections = -1\n",
    )
    .unwrap();
    let out = lychgate_in(dir.path(), &["check-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64), "{}", stdout(&out));
    let err = stderr(&out);
    // The network without a reserve gets 100 / 2 / 3 = 16, the bad one its default too.
    let expected = [
        (19, "network[2].reserved_connections:"),
        (
            12,
            "the networks reserve 112 connections in all, more than `[proxy] max_connections` (100)",
        ),
    ];
    for (line, text) in expected {
        let needle = format!("reserves.toml:{line}: ");
        let found = err.lines().any(|l| l.contains(&needle) && l.contains(text));
        assert!(found, "expected `{needle}…{text}` in:\n{err}");
    }
    assert!(err.starts_with("2 problems in the configuration:"), "{err}");
}

#[test]
fn every_problem_is_reported_at_once_with_its_line_and_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, BROKEN).unwrap();
    let out = lychgate_in(dir.path(), &["check-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64), "{}", stdout(&out));
    let err = stderr(&out);
    let expected = [
        (1, "timezone: unknown time zone `Europe/Lundon`"),
        (2, "default_group: unknown group `visitors`"),
        (3, "blok: unknown key"),
        (7, "list[0].path: list"),
        (
            10,
            "list[1].category: unknown category `gamez` (hint: did you mean `games`?)",
        ),
        (14, "network[0].cidr: `10.0.3.0/33` is not an address block"),
        (19, "network[1].group: unknown group `year9`"),
        (
            22,
            "network[2].cidr: network `10.0.4.0/24` is listed twice (first on line 18)",
        ),
        (
            27,
            "groups.ks2.block[1]: unknown category `socail` (hint: did you mean `social`?)",
        ),
        (
            28,
            "groups.ks2.allow[0]: the `illegal` category is blocked for everyone and cannot be allowed",
        ),
        (29, "groups.ks2.colour: unknown key"),
        (33, "`25:00` is not a time of day"),
        (37, "`Funday` is not a list of days"),
        (41, "an override needs a `reason`"),
        (46, "`permit` is neither `allow` nor `block`"),
    ];
    for (line, text) in expected {
        let needle = format!("broken.toml:{line}: ");
        let found = err.lines().any(|l| l.contains(&needle) && l.contains(text));
        assert!(found, "expected `{needle}…{text}` in:\n{err}");
    }
    assert!(
        err.starts_with("15 problems in the configuration:"),
        "{err}"
    );
}

#[test]
fn toml_syntax_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("syntax.toml");
    std::fs::write(
        &path,
        "default_group = \"guest\"\n[groups.guest\nkind = \"guest\"\n",
    )
    .unwrap();
    let out = lychgate_in(dir.path(), &["check-config", "syntax.toml"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("syntax.toml:2: TOML syntax"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_list_lines_are_warnings_unless_strict() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mine.txt"),
        "good.example\nbad domain with spaces\nalso-good.example\n",
    )
    .unwrap();
    let config = r#"default_group = "pupils"
[[list]]
category = "games"
path = "mine.txt"
format = "plain"
[groups.pupils]
kind = "pupil"
block = ["games"]
"#;
    std::fs::write(dir.path().join("l.toml"), config).unwrap();
    let out = lychgate_in(dir.path(), &["check-config", "l.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 bad list line (skipped"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("mine.txt:2:"), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("       2 domains"),
        "the good lines still load:\n{}",
        stdout(&out)
    );
    let strict = lychgate_in(dir.path(), &["check-config", "l.toml", "--strict"]);
    assert_eq!(strict.status.code(), Some(65));
    assert!(
        stderr(&strict).contains("error: ") && stderr(&strict).contains("mine.txt:2:"),
        "{}",
        stderr(&strict)
    );
}

#[test]
fn a_lax_default_group_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"default_group = "visitors"
[groups.visitors]
kind = "guest"
block = ["adult"]
[groups.ks2]
kind = "pupil"
block = ["adult", "games"]
"#;
    std::fs::write(dir.path().join("lax.toml"), config).unwrap();
    let out = lychgate_in(dir.path(), &["check-config", "lax.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let warning = text
        .lines()
        .find(|l| {
            l.starts_with("warning: default_group `visitors` is less strict than pupil group `ks2`")
        })
        .unwrap_or_else(|| panic!("no strictness warning in:\n{text}"));
    assert!(
        warning.ends_with("it does not block games that the pupil group blocks"),
        "{warning}"
    );
}

#[test]
fn a_missing_config_file_is_a_config_error() {
    let out = lychgate_in(&root(), &["check-config", "no/such/file.toml"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("no/such/file.toml: cannot read"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn allowed_private_destinations_accepts_only_private_blocks_each_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let default = std::fs::read_to_string(root().join("config/lychgate.toml")).unwrap();
    let text = default.replacen(
        "connect_ports = [443]",
        "connect_ports = [443]\nallowed_private_destinations = [\n  \"10.20.0.0/16\",\n  \
         \"fd00:1::/64\",\n  \"224.0.0.0/4\",\n  \"10.0.0.0/33\",\n  \"0.0.0.0/0\",\n  \
         \"169.254.169.254\",\n  \"8.0.0.0/6\",\n]",
        1,
    );
    let first = text
        .lines()
        .position(|l| l.starts_with("allowed_private_destinations"))
        .expect("key written")
        + 1;
    let path = dir.path().join("private.toml");
    std::fs::write(&path, &text).unwrap();
    let out = lychgate_in(root().as_path(), &["check-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64), "{}", stdout(&out));
    let err = stderr(&out);
    for (offset, what) in [
        (3, "`224.0.0.0/4` is not inside a private or shared range"),
        (4, "`10.0.0.0/33` is not an address block"),
        (5, "`0.0.0.0/0` is not inside a private or shared range"),
        (
            6,
            "`169.254.169.254` is not inside a private or shared range",
        ),
        (7, "`8.0.0.0/6` is not inside a private or shared range"),
    ] {
        let needle = format!("private.toml:{}: ", first + offset);
        assert!(
            err.lines().any(|l| l.contains(&needle) && l.contains(what)),
            "expected `{needle}…{what}` in:\n{err}"
        );
    }
    assert!(err.starts_with("5 problems in the configuration:"), "{err}");
}

#[test]
fn a_listed_loopback_block_is_accepted_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let default = std::fs::read_to_string(root().join("config/lychgate.toml")).unwrap();
    let text = default.replacen(
        "connect_ports = [443]",
        "connect_ports = [443]\nallowed_private_destinations = [\"127.0.0.1/32\"]",
        1,
    );
    let path = dir.path().join("lab.toml");
    std::fs::write(&path, &text).unwrap();
    let out = lychgate_in(root().as_path(), &["check-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("opens loopback `127.0.0.1/32`"),
        "the loopback allowance is warned about:\n{said}"
    );
}

/// The default config with `edits` applied (`from` → `to`) and `extra` appended, written into
/// a temporary folder; returns the folder and the config's path.
fn edited_default(edits: &[(&str, &str)], extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = std::fs::read_to_string(root().join("config/lychgate.toml")).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "default config lacks `{from}`");
        text = text.replacen(from, to, 1);
    }
    text.push_str(extra);
    let path = dir.path().join("lychgate.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn what_run_loads_is_checked_too_every_problem_named_by_file() {
    let dir = tempfile::tempdir().unwrap();
    let a_file = dir.path().join("a-file");
    std::fs::write(&a_file, "not a folder").unwrap();
    let a_file = a_file.to_str().unwrap();
    let (cfg_dir, config) = edited_default(
        &[
            (
                "state_dir = \"var/lib\"",
                &format!("state_dir = \"{a_file}\""),
            ),
            ("dir = \"var/log\"", &format!("dir = \"{a_file}\"")),
        ],
        "\n[identity]\nusers_file = \"no-such-users\"\n\n\
         [dns]\nupstreams = [\"tls://127.0.0.1:853#dns.example\"]\nupstream_ca_file = \"garbage.pem\"\n",
    );
    std::fs::write(
        cfg_dir.path().join("garbage.pem"),
        "-----BEGIN CERTIFICATE-----\nnope\n",
    )
    .unwrap();
    let out = lychgate_in(&root(), &["check-config", config.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(64), "{err}{}", stdout(&out));
    for named in ["no-such-users", "garbage.pem", a_file] {
        assert!(err.contains(named), "`{named}` not named:\n{err}");
    }
    assert!(err.contains("review requests"), "{err}");
    assert!(err.contains("request log"), "{err}");
    assert!(err.contains("4 problems found"), "{err}");
}

#[test]
fn an_unusable_users_file_fails_the_check_as_it_fails_run() {
    let dir = tempfile::tempdir().unwrap();
    for (what, users) in [
        ("a folder", None),
        ("garbage", Some("this is not a users file\n")),
    ] {
        let (cfg_dir, config) = edited_default(
            &[(
                "state_dir = \"var/lib\"",
                &format!("state_dir = \"{}\"", dir.path().join("state").display()),
            )],
            "\n[identity]\nusers_file = \"users\"\n",
        );
        let users_path = cfg_dir.path().join("users");
        match users {
            Some(text) => std::fs::write(&users_path, text).unwrap(),
            None => std::fs::create_dir(&users_path).unwrap(),
        }
        let out = lychgate_in(&root(), &["check-config", config.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(64), "{what}: {err}{}", stdout(&out));
        assert!(
            err.contains(&users_path.display().to_string()),
            "{what}: the users file is not named:\n{err}"
        );
    }
}

/// A config whose one list is `path`, read as `format`.
fn one_list_config(path: &str, format: &str) -> String {
    format!(
        "default_group = \"pupils\"\n[[list]]\ncategory = \"games\"\npath = \"{path}\"\nformat = \"{format}\"\n[groups.pupils]\nkind = \"pupil\"\nblock = [\"games\"]\n"
    )
}

/// Runs `check-config` on a config naming `list` (bounded: a hang on a FIFO fails the test).
fn check_one_list(dir: &std::path::Path, list: &str, format: &str) -> std::process::Output {
    std::fs::write(dir.join("lists.toml"), one_list_config(list, format)).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lychgate"))
        .args(["check-config", "lists.toml"])
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("check-config on {list} did not finish");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn files_that_are_not_lists_are_config_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(d.join("fifo"))
            .status()
            .unwrap()
            .success()
    );
    std::os::unix::fs::symlink(d.join("loop-b"), d.join("loop-a")).unwrap();
    std::os::unix::fs::symlink(d.join("loop-a"), d.join("loop-b")).unwrap();
    // Pseudo-random bytes (a fixed xorshift, so the test is repeatable), and an escape sequence
    // that must not reach the terminal raw.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let random: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(d.join("random.bin"), &random).unwrap();
    std::fs::write(
        d.join("page.html"),
        format!(
            "<html>\n{}</html>\n",
            "<p>\x1b[31mred\x1b[0m</p>\n".repeat(30)
        ),
    )
    .unwrap();
    let cases = [
        (
            "/dev/zero",
            "native",
            "/dev/zero: it is a character device, not a regular file",
        ),
        (
            "fifo",
            "plain",
            "fifo: it is a FIFO (named pipe), not a regular file",
        ),
        (
            "loop-a",
            "native",
            "loop-a: Too many levels of symbolic links",
        ),
        (
            "random.bin",
            "native",
            "a NUL byte: this is a binary file, not a text list",
        ),
        (
            "page.html",
            "plain",
            "page.html: 32 bad lines and only 0 good ones",
        ),
    ];
    for (list, format, expected) in cases {
        let out = check_one_list(d, list, format);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(64), "{list}: {err}{}", stdout(&out));
        assert!(
            err.contains("lists.toml:4: list[0].path: "),
            "{list}: {err}"
        );
        assert!(err.contains(expected), "{list}: {err}");
        assert!(!err.contains("not found"), "{list}: {err}");
        assert!(
            !err.contains('\x1b') && !stdout(&out).contains('\x1b'),
            "{list}: {err:?}"
        );
    }
}

#[test]
fn a_config_that_is_not_a_regular_file_is_a_config_error() {
    let out = lychgate_in(&root(), &["check-config", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out)
            .contains("/dev/zero: cannot read: it is a character device, not a regular file"),
        "{}",
        stderr(&out)
    );
}

//! `lychgate user`: the users file made and edited by the real binary, passwords piped on
//! standard input (never in arguments), hashes never printed by `list`.

use crate::support::{lychgate_with_stdin, root, stderr, stdout};

#[test]
fn add_list_passwd_remove_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let config = root().join("config/lychgate.toml");
    let config = config.to_str().unwrap();
    let users = dir.path().join("users");
    let file = users.to_str().unwrap();
    let run = |args: &[&str], input: &str| {
        let mut all = args.to_vec();
        all.extend(["--file", file, "--config", config]);
        lychgate_with_stdin(dir.path(), &all, input)
    };

    let out = run(&["user", "add", "lion", "--group", "year1"], "roar\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(
        &[
            "user",
            "add",
            "oak-class",
            "--group",
            "ks1",
            "--account-type",
            "shared",
        ],
        "acorn\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let text = std::fs::read_to_string(&users).unwrap();
    assert!(
        text.contains("\nlion:year1::$argon2id$v=19$m=19456,t=2,p=1$"),
        "{text}"
    );
    assert!(text.contains("\noak-class:ks1:shared:$argon2id$"), "{text}");
    assert!(!text.contains("roar") && !text.contains("acorn"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&users).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    let out = run(&["user", "list"], "");
    let listed = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(listed.contains("lion"), "{listed}");
    assert!(listed.contains("weak (group's)"), "{listed}");
    assert!(listed.contains("shared"), "{listed}");
    assert!(!listed.contains("argon2"), "{listed}");

    let before = std::fs::read_to_string(&users).unwrap();
    let out = run(&["user", "passwd", "lion"], "growl\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_ne!(std::fs::read_to_string(&users).unwrap(), before);

    let out = run(&["user", "add", "x", "--group", "nosuch"], "pw\n");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("unknown group `nosuch`"),
        "{}",
        stderr(&out)
    );

    let out = run(&["user", "remove", "oak-class"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !std::fs::read_to_string(&users)
            .unwrap()
            .contains("oak-class")
    );

    // A broken line is reported with its number and nothing is rewritten.
    std::fs::write(
        &users,
        format!("{}garbage\n", std::fs::read_to_string(&users).unwrap()),
    )
    .unwrap();
    let out = run(&["user", "remove", "lion"], "");
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(":3: expected `name:group"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn token_prints_the_secret_once_and_a_config_snippet_with_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let out = lychgate_with_stdin(
        dir.path(),
        &["user", "token", "--scope", "login-server", "--name", "dc01"],
        "",
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        text.contains(
            "[[identity.token]]\nname = \"dc01\"\nscope = \"login-server\"\nhash = \"$argon2id$"
        ),
        "{text}"
    );
    let token = text
        .lines()
        .find(|l| l.len() == 43 && !l.contains(' '))
        .expect("a 43-character token line");
    assert_eq!(text.matches(token).count(), 1, "{text}");
}

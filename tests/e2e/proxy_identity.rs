//! Who is browsing: proxy sign-in against the users file (individual, shared and weak
//! accounts), a network that requires sign-in, and the identity map's scoped tokens.

use crate::daemon::{Daemon, Origin, config_text, local, send};
use crate::support::{lychgate_with_stdin, stderr, stdout};

/// Runs a `lychgate` command that must succeed; its standard output.
fn lychgate(dir: &std::path::Path, args: &[&str], stdin: &str) -> String {
    let out = lychgate_with_stdin(dir, args, stdin);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

struct School {
    daemon: Daemon,
    origin: Origin,
    classroom_token: String,
    server_token: String,
}

fn school() -> School {
    let origin = Origin::start("A");
    let dir = tempfile::tempdir().expect("temp dir");
    let token_config = |out: &str| -> (String, String) {
        let lines: Vec<&str> = out.lines().collect();
        let token = lines[2].trim().to_string();
        let start = lines
            .iter()
            .position(|l| *l == "[[identity.token]]")
            .expect("config lines");
        (token, lines[start..].join("\n"))
    };
    let (classroom_token, classroom_cfg) = token_config(&lychgate(
        dir.path(),
        &["user", "token", "--scope", "classroom", "--name", "pcs"],
        "",
    ));
    let (server_token, server_cfg) = token_config(&lychgate(
        dir.path(),
        &["user", "token", "--scope", "login-server", "--name", "dc01"],
        "",
    ));
    let extra = format!(
        "[[network]]\ncidr = \"127.0.0.10/32\"\ngroup = \"ks2\"\nname = \"KS2 laptops\"\nauth = \"required\"\n\n\
         [[static_host]]\nname = \"www.bbc.co.uk\"\naddresses = [\"127.0.0.1\"]\n\n\
         [identity]\nusers_file = \"users\"\n\n{classroom_cfg}\n\n{server_cfg}\n"
    );
    let text = config_text(dir.path(), &extra);
    let config = dir.path().join("lychgate.toml");
    std::fs::write(&config, &text).unwrap();
    let cfg = config.to_str().unwrap();
    let users = dir.path().join("users");
    let users = users.to_str().unwrap();
    for (name, group, password) in [
        ("alice", "ks2", "apple-tree"),
        ("class1", "ks1", "sunflower"),
        ("tiger", "year1", "tiger"),
        ("mr.t", "staff", "correct horse"),
    ] {
        lychgate(
            dir.path(),
            &[
                "user", "add", name, "--group", group, "--file", users, "--config", cfg,
            ],
            &format!("{password}\n"),
        );
    }
    let daemon = Daemon::start_with(dir, &text);
    School {
        daemon,
        origin,
        classroom_token,
        server_token,
    }
}

fn get_as(s: &School, src: std::net::IpAddr, auth: Option<&str>) -> crate::daemon::Reply {
    let port = s.origin.addr.port();
    let auth = auth.map_or_else(String::new, |a| {
        format!("Proxy-Authorization: Basic {a}\r\n")
    });
    send(
        s.daemon.proxy,
        src,
        &format!(
            "GET http://www.bbc.co.uk:{port}/ HTTP/1.1\r\nHost: www.bbc.co.uk:{port}\r\n{auth}Connection: close\r\n\r\n"
        ),
    )
}

fn bind(s: &School, src: std::net::IpAddr, token: &str, body: &str) -> u16 {
    send(
        s.daemon.admin,
        src,
        &format!(
            "POST /identity HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .status
}

#[test]
fn sign_in_identifies_individual_shared_and_weak_accounts() {
    let s = school();
    let challenge = get_as(&s, local(10), None);
    assert_eq!(challenge.status, 407, "this network must sign in");
    assert!(
        challenge
            .header("proxy-authenticate")
            .is_some_and(|h| h.starts_with("Basic realm="))
    );

    let ok = get_as(&s, local(10), Some(&basic("alice", "apple-tree")));
    assert_eq!(ok.status, 200);
    assert!(
        !s.origin.requests()[0]
            .to_ascii_lowercase()
            .contains("proxy-authorization"),
        "credentials stay with Lychgate"
    );
    let wrong = get_as(&s, local(10), Some(&basic("alice", "pear-tree")));
    assert_eq!(wrong.status, 407);
    let r = s.daemon.record(&wrong.reference());
    assert!(
        r["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "auth_failed")
    );
    assert!(!r.to_string().contains("pear-tree"));

    assert_eq!(
        get_as(&s, local(10), Some(&basic("class1", "sunflower"))).status,
        200
    );
    assert_eq!(
        get_as(&s, local(10), Some(&basic("tiger", "tiger"))).status,
        200
    );
    let records = s.daemon.log_records(5);
    let find = |user: &str| {
        records
            .iter()
            .find(|r| r["user"] == user)
            .unwrap_or_else(|| panic!("{user}: {records:?}"))
            .clone()
    };
    let alice = find("alice");
    assert_eq!(
        (alice["group"].as_str(), alice["account_type"].as_str()),
        (Some("ks2"), Some("individual"))
    );
    let class = find("class1");
    assert_eq!(
        (class["group"].as_str(), class["account_type"].as_str()),
        (Some("ks1"), Some("shared"))
    );
    let animal = find("tiger");
    assert_eq!(
        (animal["group"].as_str(), animal["account_type"].as_str()),
        (Some("year1"), Some("weak"))
    );
    let log_text: String = records.iter().map(ToString::to_string).collect();
    assert!(!log_text.contains("argon2"), "no hashes in the log");
}

#[test]
fn identity_map_tokens_are_scoped() {
    let s = school();
    let class = s.classroom_token.clone();
    let server = s.server_token.clone();
    // A classroom machine binds a pupil to its own address.
    assert_eq!(
        bind(
            &s,
            local(2),
            &class,
            r#"{"user":"alice","ip":"127.0.0.2","ttl_seconds":600}"#
        ),
        200
    );
    assert_eq!(get_as(&s, local(2), None).status, 200);
    // ... but not another machine's address, and never a member of staff.
    assert_eq!(
        bind(
            &s,
            local(2),
            &class,
            r#"{"user":"alice","ip":"127.0.0.3","ttl_seconds":600}"#
        ),
        403
    );
    assert_eq!(
        bind(
            &s,
            local(2),
            &class,
            r#"{"user":"mr.t","ip":"127.0.0.2","ttl_seconds":600}"#
        ),
        403
    );
    assert_eq!(
        bind(
            &s,
            local(2),
            "not-a-token",
            r#"{"user":"alice","ip":"127.0.0.2","ttl_seconds":600}"#
        ),
        401
    );
    // The login server may bind anyone anywhere.
    assert_eq!(
        bind(
            &s,
            local(1),
            &server,
            r#"{"user":"class1","ip":"127.0.0.3","ttl_seconds":600}"#
        ),
        200
    );
    get_as(&s, local(3), None);
    let records = s.daemon.log_records(7);
    let bound = records
        .iter()
        .filter(|r| {
            r["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "identity_binding")
        })
        .count();
    assert_eq!(bound, 5, "every binding and refusal is logged");
    assert!(
        records
            .iter()
            .filter(|r| r["path"] == "/identity")
            .all(|r| r["type"] == "admin"),
        "identity bindings are administrative events: {records:?}"
    );
    let browsed: Vec<_> = records
        .iter()
        .filter(|r| {
            r["type"] == "http" && r["host"].as_str().is_some_and(|h| h.starts_with("www.bbc"))
        })
        .collect();
    assert!(
        browsed
            .iter()
            .any(|r| r["client"] == "127.0.0.2" && r["user"] == "alice"),
        "{browsed:?}"
    );
    assert!(browsed.iter().any(|r| r["client"] == "127.0.0.3"
        && r["user"] == "class1"
        && r["account_type"] == "shared"));
    let log_text: String = records.iter().map(ToString::to_string).collect();
    assert!(
        !log_text.contains(&class) && !log_text.contains(&server),
        "tokens never logged"
    );
}

/// The daemon's resident memory in KiB (`VmRSS` in /proc).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Bad passwords at full speed, with production argon2 costs (19 MiB a check) and the failure
/// limit raised so that every one of them is really checked: memory must stay bounded by the
/// verifier threads' working memory, not grow with the number of checks (it reached ~800 MB
/// after ~50 checks when each ran on tokio's blocking pool). `LYCHGATE_TEST_SIGN_INS` sets the
/// count (default 200; `docs/performance.md` quotes a run with 1000).
#[test]
fn memory_stays_bounded_after_many_failed_sign_ins() {
    let sign_ins: usize = std::env::var("LYCHGATE_TEST_SIGN_INS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().expect("temp dir");
    let extra = "[[static_host]]\nname = \"www.bbc.co.uk\"\naddresses = [\"127.0.0.1\"]\n\n\
                 [identity]\nusers_file = \"users\"\nfailure_limit = 1000\nfailure_window_seconds = 1\n";
    let text = config_text(dir.path(), extra);
    let config = dir.path().join("lychgate.toml");
    std::fs::write(&config, &text).unwrap();
    let users = dir.path().join("users");
    lychgate(
        dir.path(),
        &[
            "user",
            "add",
            "alice",
            "--group",
            "ks2",
            "--file",
            users.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        "apple-tree\n",
    );
    let daemon = Daemon::start_with(dir, &text);
    let idle = rss_kib(daemon.pid());
    let proxy = daemon.proxy;
    let workers = 4;
    let refused: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (w..sign_ins)
                        .step_by(workers)
                        .filter(|i| {
                            // Known and unknown names: both cost an argon2 run.
                            let user = if i % 2 == 0 { "alice" } else { "nobody" };
                            let reply = send(
                                proxy,
                                local(1),
                                &format!(
                                    "GET http://www.bbc.co.uk:9/ HTTP/1.1\r\nHost: www.bbc.co.uk:9\r\n\
                                     Proxy-Authorization: Basic {}\r\nConnection: close\r\n\r\n",
                                    basic(user, &format!("guess-{i}"))
                                ),
                            );
                            reply.status == 407
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(refused, sign_ins, "every bad password gets 407, none 429");
    let metrics = daemon.metrics();
    let verifications = metrics
        .lines()
        .find_map(|l| l.strip_prefix("lychgate_proxy_auth_verifications_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no verification count in\n{metrics}"));
    assert_eq!(verifications as usize, sign_ins, "argon2 ran for each");
    let after = rss_kib(daemon.pid());
    eprintln!("RSS idle {idle} KiB, after {sign_ins} failed sign-ins {after} KiB");
    assert!(
        after.saturating_sub(idle) <= 64 * 1024,
        "RSS grew from {idle} KiB to {after} KiB after {sign_ins} failed sign-ins"
    );
}

#[test]
fn a_burst_of_guesses_gets_only_the_failure_limit() {
    let s = school();
    // Nine wrong passwords sent at once from one laptop: five are checked, four refused.
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..9)
            .map(|i| {
                let s = &s;
                scope.spawn(move || {
                    get_as(s, local(10), Some(&basic("tiger", &format!("lion{i}")))).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 407).count();
    let refused: Vec<_> = statuses.iter().filter(|s| **s == 429).collect();
    assert_eq!((checked, refused.len()), (5, 4), "{statuses:?}");
    let limited = get_as(&s, local(10), Some(&basic("tiger", "tiger")));
    assert_eq!(limited.status, 429, "even the right password waits");
    assert!(limited.header("retry-after").is_some());
}

#[test]
fn identity_map_binds_only_school_addresses_limits_bad_tokens_and_logs_plainly() {
    let s = school();
    let server = s.server_token.clone();
    for target in ["0.0.0.0", "255.255.255.255", "224.0.0.1", "10.9.9.9"] {
        let body = format!(r#"{{"user":"class1","ip":"{target}","ttl_seconds":600}}"#);
        assert_eq!(bind(&s, local(1), &server, &body), 403, "{target}");
    }
    assert_eq!(
        bind(
            &s,
            local(1),
            &server,
            r#"{"user":"class1","ip":"127.0.0.3","ttl_seconds":600}"#
        ),
        200
    );
    let records = s.daemon.log_records(5);
    let rules: Vec<&str> = records
        .iter()
        .filter(|r| {
            r["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "identity_binding")
        })
        .filter_map(|r| r["rule"].as_str())
        .collect();
    assert!(
        rules.contains(
            &"identity-map bind user=class1 ip=127.0.0.3 ttl_seconds=600 token=dc01 \
              scope=login-server caller=127.0.0.1 outcome=bound status=200"
        ),
        "{rules:?}"
    );
    assert!(
        rules.iter().any(|r| r.starts_with("identity-map bind user=class1 ip=0.0.0.0 ")
            && r.ends_with(
                "outcome=refused status=403 reason=\"0.0.0.0 is not a client address in any of the school's networks\""
            )),
        "{rules:?}"
    );
    // Bad tokens: five are checked, then 429 with the time left to wait.
    let body = r#"{"user":"class1"}"#;
    let request = |token: &str| {
        send(
            s.daemon.admin,
            local(2),
            &format!(
                "POST /identity HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    for _ in 0..5 {
        assert_eq!(request("not-a-token").status, 401);
    }
    let limited = request(&s.classroom_token);
    assert_eq!(limited.status, 429);
    let wait: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&wait), "{wait}");
}

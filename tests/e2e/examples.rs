//! The default config and every example in `config/examples/` load without a problem, start
//! with the real binary, and do what their comments say.

use crate::daemon::{Daemon, get, local, send};
use crate::support::root;
use lychgate::config::{ConfigOrigin, load};
use std::path::{Path, PathBuf};

/// `config/lychgate.toml` and every `config/examples/*.toml`, sorted.
fn shipped_configs() -> Vec<PathBuf> {
    let mut paths = vec![root().join("config/lychgate.toml")];
    let mut examples: Vec<_> = std::fs::read_dir(root().join("config/examples"))
        .expect("config/examples exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 2, "at least two examples: {examples:?}");
    paths.extend(examples);
    paths
}

#[test]
fn the_default_and_every_example_config_load() {
    for p in shipped_configs() {
        let config = load(&ConfigOrigin::File(p.clone()))
            .unwrap_or_else(|e| panic!("{}:\n{e}", p.display()));
        assert!(
            config.list_warnings.is_empty(),
            "{}: {:?}",
            p.display(),
            config.list_warnings
        );
        assert!(!config.policy.groups().is_empty());
    }
}

#[test]
fn the_embedded_default_is_the_shipped_file() {
    let on_disk = std::fs::read_to_string(root().join("config/lychgate.toml")).unwrap();
    assert_eq!(lychgate::config::DEFAULT_CONFIG, on_disk);
    load(&ConfigOrigin::Embedded).expect("embedded default loads");
}

/// The config text with every `[listen]` address moved to `127.0.0.1:0` (a listener the config
/// has stays, one it lacks stays missing) and `extra` appended. Logs and state land in the
/// daemon's working directory, a temporary folder.
fn on_loopback(text: &str, extra: &str) -> String {
    let mut table = "";
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            table = t;
        }
        match t.split_once('=') {
            Some((key, value)) if table == "[listen]" && !t.starts_with('#') => {
                let value = value.trim();
                assert!(
                    !value.starts_with('[') || value.ends_with(']'),
                    "one line per listener: {line}"
                );
                out.push_str(&format!("{} = \"127.0.0.1:0\"\n", key.trim()));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out.push_str(extra);
    out
}

/// Starts `lychgate run` on a shipped config moved onto loopback, with the example lists
/// beside it (relative list paths are read from the config's folder).
fn start_shipped(config: &Path, extra: &str) -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let lists = root().join("config/examples/lists");
    std::fs::create_dir(dir.path().join("lists")).unwrap();
    for entry in std::fs::read_dir(&lists).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            dir.path().join("lists").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(config).unwrap();
    Daemon::start_with(dir, &on_loopback(&text, extra))
}

/// A raw request to a transparent port-80 listener, as nftables would hand it over.
fn transparent_get(daemon: &Daemon, host: &str, path: &str) -> crate::daemon::Reply {
    let http = daemon
        .transparent_http
        .expect("a transparent HTTP listener");
    send(
        http,
        local(2),
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
}

#[test]
fn every_shipped_config_starts() {
    for config in shipped_configs() {
        let daemon = start_shipped(&config, "");
        let health = send(
            daemon.admin,
            local(1),
            "GET /healthz HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(health.status, 200, "{}", config.display());
        assert!(
            !daemon.dns.is_empty(),
            "{}: a DNS listener",
            config.display()
        );
    }
}

#[test]
fn the_default_config_filters_on_every_listener_it_promises() {
    let daemon = start_shipped(&root().join("config/lychgate.toml"), "");
    // 127.0.0.2 is its loopback KS2 pupil.
    let explicit = get(daemon.proxy, local(2), "http://www.bet365.com/");
    assert_eq!(explicit.status, 403);
    // "On loopback they also let you try transparent mode."
    let transparent = transparent_get(&daemon, "pornhub.com", "/");
    assert_eq!(transparent.status, 403);
    assert!(daemon.transparent_https.is_some());
}

#[test]
fn the_transparent_gateway_example_intercepts_classroom_web_traffic() {
    // One KS2 classroom on loopback, as the example's 10.20.20.0/24 is.
    let daemon = start_shipped(
        &root().join("config/examples/transparent-gateway.toml"),
        "\n[[network]]\ncidr = \"127.0.0.2/32\"\ngroup = \"ks2\"\nname = \"test classroom\"\n\
         \n[log]\ndir = \"log\"\n",
    );
    assert!(
        daemon.transparent_https.is_some(),
        "a transparent 443 listener"
    );
    // Redirected port-80 traffic is filtered with no proxy setting: gambling is blocked for KS2 ...
    let blocked = transparent_get(&daemon, "www.bet365.com", "/");
    assert_eq!(blocked.status, 403);
    // ... and so is iPlayer, by the KS2 override the example documents.
    let iplayer = transparent_get(&daemon, "www.bbc.co.uk", "/iplayer/live");
    assert_eq!(iplayer.status, 403);
    let records = daemon.log_records(2);
    let rules: Vec<_> = records
        .iter()
        .map(|r| r["rule"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        rules,
        [
            "category `gambling` is blocked for group `ks2`",
            "block override `www.bbc.co.uk/iplayer` for group `ks2`: iPlayer is not used in KS2 lessons"
        ],
        "{records:?}"
    );
}

#[test]
fn the_trust_example_blocks_its_own_category_for_primary_pupils() {
    let daemon = start_shipped(
        &root().join("config/examples/multi-site-trust.toml"),
        "\n[[network]]\ncidr = \"127.0.0.2/32\"\ngroup = \"north-primary\"\nname = \"test\"\n",
    );
    let reply = get(daemon.proxy, local(2), "http://brainly.co.uk/question/1");
    assert_eq!(reply.status, 403);
    assert!(daemon.transparent_http.is_none());
}

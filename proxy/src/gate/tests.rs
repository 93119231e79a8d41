//! The pipeline driven in memory: hand-built snapshots, a real request log in a temporary
//! folder, no listener.

use super::pipeline::local_time;
use super::*;
use crate::clock::ManualClock;
use crate::config::{Config, ConfigOrigin};
use crate::identity::hashing::{HashParams, hash_secret_with};
use crate::identity::map::{BindRequest, BindUser};
use crate::identity::{IdentityMetrics, IdentitySource, TokenScope, UsersFile};
use crate::log::{LogMetrics, LogSettings, RecordType, RequestLog, RequestLogTask};
use crate::metrics::ProxyMetrics;
use lychgate_classifier::policy::{Action, GroupKind, Request, RequestKind};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

const NOW: &str = "2026-12-07T10:30:00Z";

/// A school with staff, ks1 (a shared class login) and guests; ks1 is on 10.0.3.0/24 and, when
/// `block_games` is set, has `games.example` blocked by an override.
fn config_text(zone: &str, block_games: bool, users_file: bool) -> String {
    let mut text = format!(
        r#"
timezone = "{zone}"
default_group = "guest"

[groups.staff]
kind = "staff"
account_type = "individual"

[groups.ks1]
kind = "pupil"
account_type = "shared"

[groups.guest]
kind = "guest"
account_type = "none"

[[network]]
cidr = "10.0.3.0/24"
group = "ks1"
"#
    );
    if block_games {
        text.push_str(
            r#"
[[groups.ks1.override]]
action = "block"
host = "games.example"
reason = "not in lessons"
"#,
        );
    }
    if users_file {
        text.push_str("\n[identity]\nusers_file = \"users\"\n");
    }
    text
}

fn config(dir: &Path, zone: &str, block_games: bool) -> Config {
    let users = dir.join("users");
    let with_users = users.exists();
    crate::config::load_str(
        &config_text(zone, block_games, with_users),
        ConfigOrigin::File(dir.join("test.toml")),
        dir,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A users file with one shared class login, `oak-class` in ks1.
fn write_users(dir: &Path) {
    let hash = hash_secret_with(b"acorn", &HashParams::for_tests()).unwrap();
    let mut file = UsersFile::empty(&dir.join("users"));
    file.add("oak-class", "ks1", None, &hash, &["staff", "ks1", "guest"])
        .unwrap();
    file.save().unwrap();
}

struct Harness {
    gate: Arc<Gate>,
    env: BuildEnv,
    metrics: Arc<ProxyMetrics>,
    log_dir: tempfile::TempDir,
    log_task: RequestLogTask,
}

fn harness(first: Config) -> Harness {
    let clock = Arc::new(ManualClock::new(NOW.parse().unwrap()));
    let metrics = Arc::new(ProxyMetrics::default());
    let env = BuildEnv {
        clock: clock.clone(),
        identity_metrics: Arc::new(IdentityMetrics::new()),
        requests: metrics.requests.clone(),
    };
    let log_dir = tempfile::tempdir().unwrap();
    let settings = LogSettings {
        dir: log_dir.path().to_path_buf(),
        timezone: jiff::tz::TimeZone::get("Europe/London").unwrap(),
        ..LogSettings::default()
    };
    let (log, log_task) =
        RequestLog::start(settings, clock.clone(), LogMetrics::default()).unwrap();
    let snapshot = Snapshot::build(first, None, &env).unwrap();
    let gate = Arc::new(Gate::new(
        snapshot,
        log,
        Arc::clone(&metrics),
        clock,
        tokio_util::sync::CancellationToken::new(),
    ));
    Harness {
        gate,
        env,
        metrics,
        log_dir,
        log_task,
    }
}

impl Harness {
    /// Every line written so far, parsed.
    fn lines(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.log_dir.path()).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
            out.extend(text.lines().map(|l| serde_json::from_str(l).unwrap()));
        }
        out
    }

    async fn close(self) {
        drop(self.gate);
        self.log_task.shutdown().await.unwrap();
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn host_only(host: &str) -> Request<'_> {
    Request {
        host,
        ip: None,
        path: "/",
        query: None,
        kind: RequestKind::HostOnly,
    }
}

#[tokio::test]
async fn a_request_is_decided_on_the_snapshot_it_began_with() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(config(dir.path(), "Europe/London", true));
    let gate = &h.gate;
    let before = gate.begin(TrafficKind::Http, ip("10.0.3.7"));
    assert_eq!(before.snapshot().generation, 1);

    let previous = gate.snapshot();
    let next = Snapshot::build(
        config(dir.path(), "Europe/London", false),
        Some(&previous),
        &h.env,
    )
    .unwrap();
    gate.install(next);
    assert_eq!(h.metrics.policy_generation.get(), 2);

    let mut before = before;
    let ks1 = before.snapshot().identities.by_address(before.client);
    let group = ks1.group;
    before.set_identity(ks1);
    let d = gate.decide(&mut before, group, &host_only("games.example"));
    assert_eq!(
        d.action,
        Action::Block,
        "the override of generation 1 applies"
    );
    assert_eq!(before.outcome, Outcome::Block);
    assert!(before.rule.as_deref().unwrap().contains("not in lessons"));

    let mut after = gate.begin(TrafficKind::Http, ip("10.0.3.7"));
    assert_eq!(after.snapshot().generation, 2);
    let d = gate.decide(&mut after, group, &host_only("games.example"));
    assert_eq!(d.action, Action::Allow, "generation 2 has no override");
    assert_eq!(after.outcome, Outcome::Allow);

    // Each is recorded with its own snapshot's names and time zone.
    gate.record(before).await;
    gate.record(after).await;
    let lines = h.lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["decision"], "block");
    assert_eq!(lines[0]["group"], "ks1");
    assert_eq!(lines[1]["decision"], "allow");
    drop(previous);
    h.close().await;
}

#[tokio::test]
async fn identity_map_bindings_carry_over_to_the_next_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    write_users(dir.path());
    let h = harness(config(dir.path(), "Europe/London", false));
    let first = h.gate.snapshot();
    let ks1 = first.config.policy.group_id("ks1").unwrap();
    first
        .identities
        .map()
        .bind(&BindRequest {
            scope: TokenScope::LoginServer,
            token: Arc::from("login-server"),
            caller: ip("10.0.3.1"),
            user: BindUser {
                name: Arc::from("oak-class"),
                group: ks1,
                kind: GroupKind::Pupil,
                account_type: crate::identity::AccountType::Shared,
            },
            ip: ip("10.0.3.9"),
            ttl: None,
        })
        .unwrap();

    let next = Snapshot::build(
        config(dir.path(), "Europe/London", true),
        Some(&first),
        &h.env,
    )
    .unwrap();
    assert_eq!(next.generation, 2);
    let who = next.identities.by_address(ip("10.0.3.9"));
    assert_eq!(who.user.as_deref(), Some("oak-class"));
    assert_eq!(who.source, IdentitySource::IdentityMap);

    // Without a previous snapshot nothing is carried.
    let fresh = Snapshot::build(config(dir.path(), "Europe/London", true), None, &h.env).unwrap();
    assert_eq!(fresh.generation, 1);
    assert_eq!(fresh.identities.by_address(ip("10.0.3.9")).user, None);
    drop(first);
    h.close().await;
}

#[test]
fn the_local_time_cache_follows_the_snapshot_generation() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW.parse().unwrap()));
    let metrics = ProxyMetrics::default();
    let env = BuildEnv {
        clock,
        identity_metrics: Arc::new(IdentityMetrics::new()),
        requests: metrics.requests.clone(),
    };
    let london = Snapshot::build(config(dir.path(), "Europe/London", false), None, &env).unwrap();
    let tokyo =
        Snapshot::build(config(dir.path(), "Asia/Tokyo", false), Some(&london), &env).unwrap();
    let at: jiff::Timestamp = NOW.parse().unwrap();
    // Within the same second, on the same thread: each generation gets its own zone's time.
    let in_london = local_time(&london, at);
    let in_tokyo = local_time(&tokyo, at);
    assert_eq!(in_london, london.config.policy.local_time(at));
    assert_eq!(in_tokyo, tokyo.config.policy.local_time(at));
    assert_ne!(in_london, in_tokyo);
    assert_eq!(local_time(&london, at), in_london);
}

#[tokio::test]
async fn every_kind_of_traffic_is_recorded_as_its_own_type() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(config(dir.path(), "Europe/London", false));
    let gate = &h.gate;

    let mut admin = gate.begin(TrafficKind::Admin, ip("10.0.3.1"));
    admin.method = "POST".to_string();
    admin.host = "identity".to_string();
    admin.path = "/identity".to_string();
    admin.status = 200;
    admin.outcome = Outcome::Allow;
    gate.record(admin).await;

    let mut dns = gate.begin(TrafficKind::Dns, ip("10.0.3.2"));
    let group = dns.identify_by_address();
    assert_eq!(dns.snapshot().group_name(group), "ks1");
    dns.host = "example.org".to_string();
    dns.qtype = Some("A".into());
    dns.rcode = Some("NOERROR");
    dns.cache_hit = Some(false);
    dns.bytes_in = 40;
    dns.outcome = Outcome::Allow;
    let record = dns.into_record();
    assert_eq!(record.kind, RecordType::Dns);
    assert_eq!(record.scheme, None, "a DNS question has no scheme");
    assert_eq!(record.host.as_deref(), Some("example.org"));
    assert_eq!(record.group, "ks1");
    assert_eq!(record.bytes_in, 40);
    assert_eq!(record.time.time_zone(), &jiff::tz::TimeZone::UTC);

    let lines = h.lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["type"], "admin");
    assert_eq!(lines[0]["host"], "identity");

    // Counted under its own kind; DNS questions are counted by the DNS server instead.
    let mut registry = prometheus_client::registry::Registry::default();
    h.metrics.register(&mut registry);
    let text = crate::metrics::render(&registry);
    assert!(
        text.contains(r#"lychgate_requests_total{kind="admin",decision="allow",group="unknown",category="none"} 1"#),
        "{text}"
    );
    h.close().await;
}

#[tokio::test]
async fn identification_is_by_address_when_the_client_cannot_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    write_users(dir.path());
    let h = harness(config(dir.path(), "Europe/London", false));
    let ctx = h.gate.begin(TrafficKind::Tls, ip("10.0.3.4"));
    // A transparent client's header (were there one) is never read.
    let who = h
        .gate
        .identify(
            &ctx,
            Some(b"Basic b2FrLWNsYXNzOndyb25n"),
            SignIn::Impossible,
        )
        .await
        .unwrap();
    assert_eq!(who.source, IdentitySource::Network);
    assert_eq!(ctx.snapshot().config.policy.group(who.group).name, "ks1");
    // Through the explicit proxy the same wrong password is refused.
    let refused = h
        .gate
        .identify(&ctx, Some(b"Basic b2FrLWNsYXNzOndyb25n"), SignIn::Possible)
        .await;
    assert!(matches!(refused, Err(IdentifyError::Auth(_))));
    drop(ctx);
    h.close().await;
}

#[tokio::test]
async fn an_abandoned_request_is_still_recorded_as_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(config(dir.path(), "Europe/London", false));
    let mut ctx = h.gate.begin(TrafficKind::Http, ip("10.0.3.5"));
    ctx.arm(&h.gate);
    ctx.host = "example.org".to_string();
    ctx.outcome = Outcome::Allow;
    drop(ctx);
    // The armed context queued its record on drop; the writer has it once the log closes.
    let dir_path = h.log_dir.path().to_path_buf();
    let Harness {
        gate,
        log_task,
        log_dir,
        ..
    } = h;
    drop(gate);
    log_task.shutdown().await.unwrap();
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(&dir_path).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        lines.extend(
            text.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()),
        );
    }
    drop(log_dir);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["decision"], "error", "no status was sent");
    assert!(
        lines[0]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "unfinished")
    );
}

#[tokio::test]
async fn a_failing_log_stops_fail_closed_groups_and_flags_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(config(dir.path(), "Europe/London", false));
    let gate = &h.gate;
    let snapshot = gate.snapshot();
    let ks1 = snapshot.config.policy.group_id("ks1").unwrap();
    let staff = snapshot.config.policy.group_id("staff").unwrap();

    let mut healthy = gate.begin(TrafficKind::Http, ip("10.0.3.5"));
    assert!(
        !gate.log_blocks(&mut healthy, ks1),
        "a healthy log stops no one"
    );
    assert!(healthy.flags.is_empty());
    gate.record(healthy).await;

    // Today's file becomes a full disk; the next line written finds out.
    let file = std::fs::read_dir(h.log_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("today's log file");
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink("/dev/full", &file).unwrap();
    gate.record_detached(gate.begin(TrafficKind::Http, ip("10.0.3.5")).into_record());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while gate.log.is_healthy() {
        assert!(
            std::time::Instant::now() < deadline,
            "the log never noticed the full disk"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let mut pupil = gate.begin(TrafficKind::Http, ip("10.0.3.5"));
    assert!(
        gate.log_blocks(&mut pupil, ks1),
        "a pupil group fails closed"
    );
    let mut teacher = gate.begin(TrafficKind::Http, ip("10.0.3.6"));
    assert!(!gate.log_blocks(&mut teacher, staff), "staff fail open");
    assert_eq!(teacher.flags, [crate::log::Flag::FailOpen]);
    drop((pupil, teacher, snapshot));
    let Harness { gate, log_task, .. } = h;
    drop(gate);
    // The lines held for the full disk cannot be written; closing must still end.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), log_task.shutdown()).await;
}

#[test]
fn a_snapshot_that_cannot_be_built_says_why() {
    let dir = tempfile::tempdir().unwrap();
    write_users(dir.path());
    let config = config(dir.path(), "Europe/London", false);
    std::fs::remove_file(dir.path().join("users")).unwrap();
    let metrics = ProxyMetrics::default();
    let env = BuildEnv {
        clock: Arc::new(ManualClock::new(NOW.parse().unwrap())),
        identity_metrics: Arc::new(IdentityMetrics::new()),
        requests: metrics.requests.clone(),
    };
    let error = Snapshot::build(config, None, &env).unwrap_err().to_string();
    assert!(error.contains("users"), "{error}");
    // The daemon and check-config put their own `identity: ` before it.
    assert!(!error.starts_with("identity:"), "{error}");
}

//! Tests of the whole log: records in, lines out, through the real files or a disk that blocks
//! or fails on command.

use super::record::tests::sample;
use super::sink::Sink;
use super::writer::{self, STDERR_PREFIX};
use super::*;
use crate::clock::{ManualClock, SharedClock};
use jiff::civil::Date;
use std::collections::BTreeMap;
use std::io::{self, Read as _, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;

/// Long enough never to fire in a passing test; a hang becomes a failure instead of a stuck run.
const PATIENCE: Duration = Duration::from_secs(20);

fn clock_at(wall: &str) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(wall.parse().unwrap()))
}

fn settings(dir: &Path) -> LogSettings {
    LogSettings {
        dir: dir.to_path_buf(),
        timezone: jiff::tz::TimeZone::get("Europe/London").unwrap(),
        ..LogSettings::default()
    }
}

fn lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn ids(values: &[serde_json::Value]) -> Vec<String> {
    values
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

fn expected_ids(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|n| format!("TEST{n:04}")).collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// ---- a disk the test controls ----

#[derive(Default)]
struct DiskState {
    files: BTreeMap<Date, Vec<u8>>,
    fail: bool,
    blocked: bool,
    /// Appends after this many block (as `blocked` does).
    block_after: Option<usize>,
    appends_started: usize,
    /// How long each append takes.
    delay: Duration,
    /// The thread each append ran on (the writer thread is `lychgate-log`).
    append_threads: Vec<String>,
    /// What the writer did, in order: `append`, `sync` or `reopen`.
    calls: Vec<&'static str>,
}

/// Shared between the test and the writer's sink.
#[derive(Clone, Default)]
struct Disk(Arc<(Mutex<DiskState>, Condvar)>);

impl Disk {
    fn with<R>(&self, f: impl FnOnce(&mut DiskState) -> R) -> R {
        let r = f(&mut self.0.0.lock().unwrap());
        self.0.1.notify_all();
        r
    }

    fn set_fail(&self, fail: bool) {
        self.with(|s| s.fail = fail);
    }

    fn set_blocked(&self, blocked: bool) {
        self.with(|s| s.blocked = blocked);
    }

    /// Blocks the calling thread until the writer has entered `append` `n` times.
    fn wait_appends(&self, n: usize) {
        let (lock, cv) = &*self.0;
        let (_state, timeout) = cv
            .wait_timeout_while(lock.lock().unwrap(), PATIENCE, |s| s.appends_started < n)
            .unwrap();
        assert!(!timeout.timed_out(), "the writer never reached the disk");
    }

    fn text(&self, date: &str) -> String {
        let date: Date = date.parse().unwrap();
        self.with(|s| String::from_utf8(s.files.get(&date).cloned().unwrap_or_default()).unwrap())
    }
}

struct DiskSink {
    disk: Disk,
    date: Option<Date>,
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

impl Sink for DiskSink {
    fn date(&self) -> Option<Date> {
        self.date
    }
    fn open(&mut self, date: Date) -> io::Result<()> {
        self.disk.with(|s| {
            if s.fail {
                return Err(enospc());
            }
            s.files.entry(date).or_default();
            Ok(())
        })?;
        self.date = Some(date);
        Ok(())
    }
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let date = self.date.expect("opened before append");
        let (lock, cv) = &*self.disk.0;
        let mut s = lock.lock().unwrap();
        s.appends_started += 1;
        cv.notify_all();
        let mut s = cv
            .wait_while(s, |s| {
                s.blocked || s.block_after.is_some_and(|n| s.appends_started > n)
            })
            .unwrap();
        if s.fail {
            return Err(enospc());
        }
        if !s.delay.is_zero() {
            std::thread::sleep(s.delay);
        }
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned();
        s.append_threads.push(thread);
        s.files.entry(date).or_default().extend_from_slice(bytes);
        s.calls.push("append");
        Ok(())
    }
    fn reopen(&mut self) -> io::Result<()> {
        self.disk.with(|s| {
            if s.fail {
                return Err(enospc());
            }
            s.calls.push("reopen");
            Ok(())
        })
    }
    fn sync(&mut self) -> io::Result<()> {
        self.disk.with(|s| {
            if s.fail {
                return Err(enospc());
            }
            s.calls.push("sync");
            Ok(())
        })
    }
    fn close(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the writer sent to "stderr".
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

struct OnDisk {
    log: LogHandle,
    task: RequestLogTask,
    disk: Disk,
    stderr: Captured,
    metrics: LogMetrics,
    clock: Arc<ManualClock>,
}

fn start_on_disk(settings: LogSettings) -> OnDisk {
    start_on_disk_with(super::writer_config(&settings))
}

fn start_on_disk_with(config: writer::WriterConfig) -> OnDisk {
    let disk = Disk::default();
    let stderr = Captured::default();
    let metrics = LogMetrics::new();
    let clock = clock_at("2026-11-30T09:00:00Z");
    let sink = DiskSink {
        disk: disk.clone(),
        date: None,
    };
    let (log, task) = writer::start(
        config,
        sink,
        clock.clone(),
        metrics.clone(),
        Box::new(stderr.clone()),
    )
    .unwrap();
    OnDisk {
        log,
        task,
        disk,
        stderr,
        metrics,
        clock,
    }
}

// ---- the tests ----

#[tokio::test]
async fn records_become_parseable_lines_in_the_days_file() {
    let tmp = tempfile::tempdir().unwrap();
    let metrics = LogMetrics::new();
    let s = LogSettings {
        batch_max: 7,
        ..settings(tmp.path())
    };
    let (log, task) =
        RequestLog::start(s, clock_at("2026-07-01T10:00:00Z"), metrics.clone()).unwrap();
    for n in 0..100 {
        let mut r = sample(n);
        // Made in UTC; written in the configured zone (London, summer time).
        r.time = "2026-07-01T08:00:00.5Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC);
        log.write(r).await.unwrap();
    }
    task.shutdown().await.unwrap();

    let path = tmp.path().join("requests-2026-07-01.jsonl");
    assert_eq!(mode(&path), 0o640);
    let values = lines(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(ids(&values), expected_ids(0..100));
    for v in &values {
        assert_eq!(v["v"], 1);
        assert_eq!(v["time"], "2026-07-01T09:00:00.500+01:00");
        assert_eq!(v["host"], "www.example.com");
        assert_eq!(v["query"], serde_json::Value::Null, "search-terms-only");
        assert_eq!(v["search"], "how to tie a knot");
    }
    assert_eq!(metrics.lines_written.get(), 100);
    assert_eq!(metrics.lines_failed.get(), 0);
    // Batches of at most batch_max (7) lines: at least 15 of them, 100 lines in all.
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains("lychgate_log_batch_lines_sum 100.0"),
        "{text}"
    );
    let count: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("lychgate_log_batch_lines_count "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(count >= 15, "{count}");
    assert!(
        text.contains("lychgate_log_batch_lines_bucket{le=\"4.0\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn query_modes_are_applied_by_the_writer() {
    for (mode, query, search) in [
        (
            QueryLogging::Full,
            Some("q=how+to+tie+a+knot&sid=12345"),
            Some("how to tie a knot"),
        ),
        (QueryLogging::None, None, None),
    ] {
        let t = start_on_disk(LogSettings {
            query: mode,
            ..LogSettings::default()
        });
        t.log.write(sample(1)).await.unwrap();
        t.task.shutdown().await.unwrap();
        let v = &lines(&t.disk.text("2026-11-30"))[0];
        assert_eq!(v["query"].as_str(), query, "{mode}");
        assert_eq!(v["search"].as_str(), search, "{mode}");
    }
}

#[tokio::test]
async fn files_rotate_at_local_midnight_and_yesterday_is_compressed() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = clock_at("2026-11-29T23:59:59Z");
    let shared: SharedClock = clock.clone();
    let (log, task) = RequestLog::start(settings(tmp.path()), shared, LogMetrics::new()).unwrap();
    log.write(sample(0)).await.unwrap();
    assert!(log.flush().await);
    clock.advance(Duration::from_secs(2));
    log.write(sample(1)).await.unwrap();
    assert!(log.flush().await);
    task.shutdown().await.unwrap();

    let gz = tmp.path().join("requests-2026-11-29.jsonl.gz");
    let mut yesterday = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&gz).unwrap())
        .read_to_string(&mut yesterday)
        .unwrap();
    assert_eq!(ids(&lines(&yesterday)), expected_ids(0..1));
    assert_eq!(mode(&gz), 0o640);
    assert!(!tmp.path().join("requests-2026-11-29.jsonl").exists());
    let today = std::fs::read_to_string(tmp.path().join("requests-2026-11-30.jsonl")).unwrap();
    assert_eq!(ids(&lines(&today)), expected_ids(1..2));
}

#[tokio::test]
async fn midnight_follows_the_configured_zone_not_utc() {
    // 23:30 UTC on 31 May is 00:30 on 1 June in London: already the new day's file.
    let tmp = tempfile::tempdir().unwrap();
    let (log, task) = RequestLog::start(
        settings(tmp.path()),
        clock_at("2026-05-31T23:30:00Z"),
        LogMetrics::new(),
    )
    .unwrap();
    log.write(sample(0)).await.unwrap();
    task.shutdown().await.unwrap();
    assert!(tmp.path().join("requests-2026-06-01.jsonl").exists());
    assert!(!tmp.path().join("requests-2026-05-31.jsonl").exists());
}

#[tokio::test]
async fn start_appends_to_today_and_compresses_and_prunes_earlier_days() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("requests-2026-11-30.jsonl"),
        "{\"earlier\":true}\n",
    )
    .unwrap();
    std::fs::write(dir.join("requests-2026-11-27.jsonl"), "{\"left\":true}\n").unwrap();
    std::fs::write(dir.join("requests-2026-01-01.jsonl.gz"), b"kept").unwrap();
    std::fs::write(dir.join("requests-2025-11-29.jsonl.gz"), b"expired").unwrap();
    let (log, task) = RequestLog::start(
        settings(dir),
        clock_at("2026-11-30T09:00:00Z"),
        LogMetrics::new(),
    )
    .unwrap();
    log.write(sample(0)).await.unwrap();
    task.shutdown().await.unwrap();

    let today = std::fs::read_to_string(dir.join("requests-2026-11-30.jsonl")).unwrap();
    assert!(
        today.starts_with("{\"earlier\":true}\n{\"v\":1,"),
        "{today}"
    );
    assert!(dir.join("requests-2026-11-27.jsonl.gz").exists());
    assert!(!dir.join("requests-2026-11-27.jsonl").exists());
    assert!(dir.join("requests-2026-01-01.jsonl.gz").exists());
    assert!(
        !dir.join("requests-2025-11-29.jsonl.gz").exists(),
        "366 days old with retention 365"
    );
}

#[tokio::test]
async fn start_refuses_when_the_log_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let not_a_dir = tmp.path().join("log");
    std::fs::write(&not_a_dir, b"").unwrap();
    let e = RequestLog::start(
        settings(&not_a_dir),
        clock_at("2026-11-30T09:00:00Z"),
        LogMetrics::new(),
    )
    .unwrap_err();
    assert!(matches!(e, LogError::CreateDir { .. }), "{e:?}");
    assert!(
        e.to_string().contains(&not_a_dir.display().to_string()),
        "{e}"
    );

    // The day's file name taken by a directory.
    std::fs::create_dir(tmp.path().join("requests-2026-11-30.jsonl")).unwrap();
    let e = RequestLog::start(
        settings(tmp.path()),
        clock_at("2026-11-30T09:00:00Z"),
        LogMetrics::new(),
    )
    .unwrap_err();
    assert!(matches!(e, LogError::Open { .. }), "{e:?}");
    assert!(e.to_string().contains("requests-2026-11-30.jsonl"), "{e}");

    let e = RequestLog::start(
        LogSettings {
            retention_days: 0,
            ..settings(tmp.path())
        },
        clock_at("2026-11-30T09:00:00Z"),
        LogMetrics::new(),
    )
    .unwrap_err();
    assert!(matches!(e, LogError::Settings(_)), "{e:?}");
}

#[tokio::test]
async fn a_full_queue_makes_writers_wait_and_nothing_is_dropped() {
    let t = start_on_disk(LogSettings {
        queue_capacity: 2,
        batch_max: 1,
        ..LogSettings::default()
    });
    t.disk.set_blocked(true);
    t.log.write(sample(0)).await.unwrap();
    // The writer holds record 0 inside the stuck disk; the queue takes two more.
    let disk = t.disk.clone();
    tokio::task::spawn_blocking(move || disk.wait_appends(1))
        .await
        .unwrap();
    t.log.write(sample(1)).await.unwrap();
    t.log.write(sample(2)).await.unwrap();

    let mut fourth = pin!(t.log.write(sample(3)));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        fourth.as_mut().poll(&mut cx).is_pending(),
        "a write to a full queue waits"
    );
    assert_eq!(t.metrics.queue_full.get(), 1);

    t.disk.set_blocked(false);
    tokio::time::timeout(PATIENCE, fourth)
        .await
        .unwrap()
        .unwrap();
    assert!(t.log.flush().await);
    t.task.shutdown().await.unwrap();
    assert_eq!(ids(&lines(&t.disk.text("2026-11-30"))), expected_ids(0..4));
    assert_eq!(t.metrics.lines_written.get(), 4);
}

#[tokio::test]
async fn a_failing_disk_is_reported_and_its_lines_are_written_on_recovery() {
    let t = start_on_disk(LogSettings::default());
    let mut health = t.log.health();
    t.log.write(sample(0)).await.unwrap();
    assert!(t.log.flush().await);
    assert!(t.log.is_healthy());

    t.disk.set_fail(true);
    t.log.write(sample(1)).await.unwrap();
    assert!(!t.log.flush().await, "line 1 is retained, not written");
    assert!(!t.log.is_healthy());
    tokio::time::timeout(PATIENCE, health.changed())
        .await
        .unwrap()
        .unwrap();
    assert!(!*health.borrow_and_update());
    t.log.write(sample(2)).await.unwrap();
    assert!(!t.log.flush().await);
    assert!(t.metrics.write_errors.get() >= 2);
    assert_eq!(t.metrics.healthy.get(), 0);
    assert_eq!(t.metrics.retry_buffer_lines.get(), 2);

    t.disk.set_fail(false);
    t.log.write(sample(3)).await.unwrap();
    assert!(t.log.flush().await);
    assert!(t.log.is_healthy());
    assert!(*health.borrow_and_update());
    t.task.shutdown().await.unwrap();

    assert_eq!(ids(&lines(&t.disk.text("2026-11-30"))), expected_ids(0..4));
    assert_eq!(t.metrics.lines_written.get(), 4);
    assert_eq!(t.metrics.lines_failed.get(), 0);
    assert_eq!(t.metrics.retry_buffer_lines.get(), 0);
    assert_eq!(t.metrics.healthy.get(), 1);
    assert_eq!(t.stderr.text(), "");
}

#[tokio::test]
async fn retained_lines_are_retried_without_new_traffic() {
    let t = start_on_disk(LogSettings {
        retry_interval: Duration::from_millis(10),
        ..LogSettings::default()
    });
    let mut health = t.log.health();
    t.disk.set_fail(true);
    t.log.write(sample(0)).await.unwrap();
    assert!(!t.log.flush().await);
    assert!(!*health.borrow_and_update());
    t.disk.set_fail(false);
    // Waits for the event (the periodic retry succeeding), not for a time.
    tokio::time::timeout(PATIENCE, health.wait_for(|&ok| ok))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids(&lines(&t.disk.text("2026-11-30"))), expected_ids(0..1));
    t.task.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_failed_fsync_is_reported_and_cleared_by_the_next_good_one() {
    let t = start_on_disk(LogSettings {
        retry_interval: Duration::from_millis(10),
        fsync_interval: Duration::from_secs(5),
        ..LogSettings::default()
    });
    let mut health = t.log.health();
    t.log.write(sample(0)).await.unwrap();
    assert!(t.log.flush().await);
    t.disk.set_fail(true);
    // The fsync falls due by the clock the writer reads, not by the test waiting.
    t.clock.advance(Duration::from_secs(6));
    tokio::time::timeout(PATIENCE, health.wait_for(|&ok| !ok))
        .await
        .unwrap()
        .unwrap();
    assert!(t.metrics.write_errors.get() >= 1);
    t.disk.set_fail(false);
    tokio::time::timeout(PATIENCE, health.wait_for(|&ok| ok))
        .await
        .unwrap()
        .unwrap();
    t.task.shutdown().await.unwrap();
}

#[tokio::test]
async fn overflowing_lines_go_to_stderr_and_are_counted() {
    let t = start_on_disk(LogSettings {
        retry_buffer_bytes: 1,
        ..LogSettings::default()
    });
    t.disk.set_fail(true);
    t.log.write(sample(0)).await.unwrap();
    t.log.write(sample(1)).await.unwrap();
    assert!(!t.log.flush().await);
    assert_eq!(t.metrics.lines_failed.get(), 2);
    assert_eq!(t.metrics.retry_buffer_lines.get(), 0);
    let spilled = t.stderr.text();
    let spilled: Vec<&str> = spilled
        .lines()
        .map(|l| l.strip_prefix(STDERR_PREFIX).expect("prefixed"))
        .collect();
    assert_eq!(ids(&lines(&spilled.join("\n"))), expected_ids(0..2));

    t.disk.set_fail(false);
    t.log.write(sample(2)).await.unwrap();
    assert!(t.log.flush().await);
    t.task.shutdown().await.unwrap();
    assert_eq!(ids(&lines(&t.disk.text("2026-11-30"))), expected_ids(2..3));
    assert_eq!(t.metrics.lines_written.get(), 1);
}

#[tokio::test]
async fn shutdown_with_the_disk_still_failing_puts_lines_on_stderr() {
    let t = start_on_disk(LogSettings::default());
    t.disk.set_fail(true);
    t.log.write(sample(0)).await.unwrap();
    let e = t.task.shutdown().await.unwrap_err();
    assert!(matches!(e, LogError::Unwritten { lines: 1, .. }), "{e:?}");
    assert!(t.stderr.text().starts_with(STDERR_PREFIX));
    assert_eq!(t.metrics.lines_failed.get(), 1);
    assert_eq!(t.metrics.lines_written.get(), 0);
}

#[tokio::test]
async fn shutdown_writes_everything_queued_then_refuses_records() {
    let t = start_on_disk(LogSettings {
        queue_capacity: 1000,
        batch_max: 16,
        ..LogSettings::default()
    });
    // Queue up behind a stuck disk, so the records are still queued when shutdown starts.
    t.disk.set_blocked(true);
    for n in 0..500 {
        t.log.write(sample(n)).await.unwrap();
    }
    let task = tokio::spawn(t.task.shutdown());
    t.disk.set_blocked(false);
    tokio::time::timeout(PATIENCE, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        ids(&lines(&t.disk.text("2026-11-30"))),
        expected_ids(0..500)
    );
    let refused = t.log.write(sample(500)).await.unwrap_err();
    assert_eq!(refused.0.id, "TEST0500", "the record comes back");
    assert!(!t.log.flush().await);
}

#[tokio::test]
async fn the_writer_ends_when_every_handle_is_dropped() {
    let t = start_on_disk(LogSettings::default());
    let second = t.log.clone();
    second.write(sample(0)).await.unwrap();
    drop(second);
    drop(t.log);
    tokio::time::timeout(PATIENCE, t.task.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids(&lines(&t.disk.text("2026-11-30"))), expected_ids(0..1));
}

#[tokio::test]
async fn a_full_real_disk_marks_the_log_unhealthy() {
    // /dev/full fails every write with ENOSPC, even for root: the real file sink's failure path.
    let tmp = tempfile::tempdir().unwrap();
    let clock = clock_at("2026-11-30T09:00:00Z");
    std::os::unix::fs::symlink("/dev/full", tmp.path().join("requests-2026-11-30.jsonl")).unwrap();
    let metrics = LogMetrics::new();
    let (log, task) =
        RequestLog::start(settings(tmp.path()), clock.clone(), metrics.clone()).unwrap();
    log.write(sample(0)).await.unwrap();
    assert!(!log.flush().await);
    assert!(!log.is_healthy());
    assert!(metrics.write_errors.get() >= 1);
    // The technician frees space: here, the day's file becomes a real one again at midnight.
    clock.advance(Duration::from_secs(15 * 3600));
    log.write(sample(1)).await.unwrap();
    assert!(log.flush().await);
    assert!(log.is_healthy());
    task.shutdown().await.unwrap();
    let text = std::fs::read_to_string(tmp.path().join("requests-2026-12-01.jsonl")).unwrap();
    assert_eq!(ids(&lines(&text)), expected_ids(0..2));
}

#[tokio::test]
async fn a_ticket_is_committed_only_once_its_line_reached_the_file() {
    let t = start_on_disk(LogSettings::default());
    t.disk.set_blocked(true);
    let first = t.log.write(sample(0)).await.unwrap();
    let disk = t.disk.clone();
    tokio::task::spawn_blocking(move || disk.wait_appends(1))
        .await
        .unwrap();
    // Record 0 is inside the stuck disk; 1 and 2 wait in the queue for the next batch.
    let second = t.log.write(sample(1)).await.unwrap();
    let third = t.log.write(sample(2)).await.unwrap();
    assert!(first.seq() < second.seq() && second.seq() < third.seq());
    assert!(
        !first.is_committed(),
        "not released before the write returns"
    );
    let mut waiting = pin!(third.committed());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(waiting.as_mut().poll(&mut cx).is_pending());

    t.disk.set_blocked(false);
    tokio::time::timeout(PATIENCE, waiting).await.unwrap();
    assert!(first.is_committed() && second.is_committed());
    // Group commit: 1 and 2 went in one write after 0's.
    assert_eq!(t.disk.with(|s| s.appends_started), 2);
    assert_eq!(ids(&lines(&t.disk.text("2026-11-30"))), expected_ids(0..3));
    t.task.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_failing_disk_releases_tickets_and_keeps_the_lines() {
    let t = start_on_disk(LogSettings::default());
    t.disk.set_fail(true);
    let ticket = t.log.write(sample(0)).await.unwrap();
    // Fail-open groups are served while the disk fails: their requests must not hang.
    tokio::time::timeout(PATIENCE, ticket.committed())
        .await
        .unwrap();
    assert!(!t.log.is_healthy());
    t.disk.set_fail(false);
    t.log.write(sample(1)).await.unwrap().committed().await;
    assert_eq!(ids(&lines(&t.disk.text("2026-11-30"))), expected_ids(0..2));
    t.task.shutdown().await.unwrap();
}

#[tokio::test]
async fn fsync_interval_zero_syncs_each_batch_before_releasing_it() {
    let t = start_on_disk(LogSettings {
        fsync_interval: Duration::ZERO,
        ..LogSettings::default()
    });
    for i in 0..3 {
        t.log.write(sample(i)).await.unwrap().committed().await;
        let calls = t.disk.with(|s| s.calls.clone());
        assert_eq!(
            calls.last(),
            Some(&"sync"),
            "batch {i} released before its fsync"
        );
    }
    let calls = t.disk.with(|s| s.calls.clone());
    assert_eq!(calls, ["append", "sync"].repeat(3));
    t.task.shutdown().await.unwrap();
}

#[tokio::test]
async fn fsync_waits_for_its_interval_otherwise() {
    let t = start_on_disk(LogSettings {
        retry_interval: Duration::from_millis(10),
        fsync_interval: Duration::from_millis(500),
        ..LogSettings::default()
    });
    t.log.write(sample(0)).await.unwrap().committed().await;
    assert_eq!(t.disk.with(|s| s.calls.clone()), ["append"]);
    t.clock.advance(Duration::from_millis(600));
    let deadline = std::time::Instant::now() + PATIENCE;
    while !t.disk.with(|s| s.calls.contains(&"sync")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the due fsync never came"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    t.task.shutdown().await.unwrap();
}

#[tokio::test]
async fn reopen_comes_after_the_lines_queued_before_it() {
    let t = start_on_disk(LogSettings::default());
    t.log.write(sample(0)).await.unwrap();
    t.log.write(sample(1)).await.unwrap();
    t.log.reopen().await.unwrap();
    t.log.write(sample(2)).await.unwrap().committed().await;
    let calls = t.disk.with(|s| s.calls.clone());
    let reopen = calls.iter().position(|c| *c == "reopen").expect("reopened");
    assert_eq!(calls[..reopen], ["append"], "{calls:?}");
    assert_eq!(calls[reopen + 1..], ["append"], "{calls:?}");
    t.disk.set_fail(true);
    assert!(t.log.reopen().await.is_err(), "a failed reopen is reported");
    assert!(!t.log.is_healthy());
    t.disk.set_fail(false);
    t.task.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_batch_wakes_only_the_requests_it_released() {
    struct Count(std::sync::atomic::AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let woken = |c: &Arc<Count>| c.0.load(std::sync::atomic::Ordering::SeqCst);
    let t = start_on_disk(LogSettings::default());
    t.disk.set_blocked(true);
    let mut first = t.log.write(sample(0)).await.unwrap();
    let disk = t.disk.clone();
    tokio::task::spawn_blocking(move || disk.wait_appends(1))
        .await
        .unwrap();
    // Record 1 waits in the queue for the next batch while 0 is being written.
    let mut second = t.log.write(sample(1)).await.unwrap();
    let (c1, c2) = (Arc::new(Count(0.into())), Arc::new(Count(0.into())));
    let (w1, w2) = (Waker::from(Arc::clone(&c1)), Waker::from(Arc::clone(&c2)));
    // The writer thread is stuck in the disk with record 0: each wait spins briefly, then
    // sleeps.
    assert!(
        pin!(first.wait())
            .poll(&mut Context::from_waker(&w1))
            .is_pending()
    );
    assert!(
        pin!(second.wait())
            .poll(&mut Context::from_waker(&w2))
            .is_pending()
    );
    // Let only the first batch through: the second append blocks.
    t.disk.with(|s| {
        s.block_after = Some(1);
        s.blocked = false;
    });
    let disk = t.disk.clone();
    tokio::task::spawn_blocking(move || disk.wait_appends(2))
        .await
        .unwrap();
    assert!(first.is_committed() && !second.is_committed());
    assert_eq!(woken(&c1), 1, "the released request is woken");
    assert_eq!(woken(&c2), 0, "a request of a later batch sleeps on");
    t.disk.with(|s| s.block_after = None);
    // Watched without waiting on it, so its registered waker stays the one to wake.
    let deadline = std::time::Instant::now() + PATIENCE;
    while woken(&c2) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "batch 1 never woke its request"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(second.is_committed(), "woken once its own batch is written");
    assert_eq!(woken(&c2), 1);
    t.task.shutdown().await.unwrap();
}

/// Writes and waits for one line, returning the thread that appended it.
async fn commit_one(t: &OnDisk, n: u32) -> String {
    t.log.write(sample(n)).await.unwrap().committed().await;
    t.disk.with(|s| s.append_threads.last().cloned().unwrap())
}

#[tokio::test]
async fn a_waiting_request_appends_its_line_itself() {
    let t = start_on_disk(LogSettings::default());
    // The first line may find the day's file not yet open: that is the writer thread's job.
    commit_one(&t, 0).await;
    let mut by_requests = 0;
    for n in 1..=8 {
        if commit_one(&t, n).await != "lychgate-log" {
            by_requests += 1;
        }
    }
    // The writer thread may take a line now and then (woken for an earlier one, it finds a
    // line queued while its request let the others go first); the requests write the rest.
    assert!(
        by_requests >= 6,
        "a quick, healthy disk is written by the waiting requests: {by_requests} of 8"
    );
    t.task.shutdown().await.unwrap();
    assert_eq!(ids(&lines(&t.disk.text("2026-11-30"))), expected_ids(0..9));
}

#[tokio::test]
async fn a_slow_write_sends_batches_to_the_writer_thread_until_the_disk_is_quick_again() {
    // Slow and quick far apart, so a busy test machine cannot blur them.
    let t = start_on_disk_with(writer::WriterConfig {
        slow_write: Duration::from_millis(150),
        ..super::writer_config(&LogSettings::default())
    });
    commit_one(&t, 0).await;
    commit_one(&t, 1).await;
    // Whoever writes line 2 (a request, or the writer thread on a stray wake), it is slow.
    t.disk.with(|s| s.delay = Duration::from_millis(250));
    commit_one(&t, 2).await;
    assert_eq!(
        commit_one(&t, 3).await,
        "lychgate-log",
        "after a slow write, the request path no longer writes"
    );
    t.disk.with(|s| s.delay = Duration::ZERO);
    let mut n = 4;
    while commit_one(&t, n).await == "lychgate-log" {
        n += 1;
        assert!(n < 300, "requests never lead again");
    }
    // Line 3 was slow too; then at least 64 quick writes by the writer thread (lines 4 to 67),
    // before a request leads again.
    assert!(n >= 68, "a request led again after {} quick writes", n - 4);
    t.task.shutdown().await.unwrap();
    assert_eq!(
        ids(&lines(&t.disk.text("2026-11-30"))),
        expected_ids(0..n + 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_hand_on_and_every_line_lands_once() {
    const TASKS: u32 = 16;
    const EACH: u32 = 100;
    let t = Arc::new(start_on_disk(LogSettings {
        batch_max: 8,
        ..LogSettings::default()
    }));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let t = Arc::clone(&t);
        tasks.spawn(async move {
            for i in 0..EACH {
                let n = task * EACH + i;
                let ticket = t.log.write(sample(n)).await.unwrap();
                let seq = ticket.seq();
                ticket.committed().await;
                // Everything numbered up to this line is in the file too.
                let written = t.disk.with(|s| {
                    s.files
                        .values()
                        .map(|f| f.iter().filter(|&&b| b == b'\n').count())
                        .sum::<usize>()
                });
                assert!(
                    written as u64 >= seq,
                    "released before its line was written"
                );
            }
        });
    }
    tokio::time::timeout(PATIENCE, async {
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    })
    .await
    .expect("every request was released");
    let t = Arc::into_inner(t).unwrap();
    t.task.shutdown().await.unwrap();
    let mut got = ids(&lines(&t.disk.text("2026-11-30")));
    got.sort();
    assert_eq!(got, expected_ids(0..TASKS * EACH), "each line exactly once");
    assert_eq!(t.metrics.lines_written.get(), u64::from(TASKS * EACH));
}

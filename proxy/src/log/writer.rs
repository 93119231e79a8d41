//! The writer: one dedicated OS thread that takes records off the bounded queue in batches,
//! serialises them and appends them to the day's file, so file I/O (and a slow or failing disk)
//! never stalls the runtime that serves requests.
//!
//! Never silent: a full queue makes [`LogHandle::write`] wait (backpressure); a failing disk
//! marks the log unhealthy, is counted and reported once per episode, and its lines are held in a
//! bounded retry buffer and sent again; lines that overflow the buffer go to stderr (journald
//! keeps it) and are counted. Every line ends in `lines_written` or `lines_failed`.
//!
//! Group commit: every record sent gets the next number of one sequence (taken under a short
//! lock together with its place in the queue, so numbers follow queue order), and the writer
//! publishes, after each batch has reached the kernel, the number of the last record handled.
//! A request that must not answer before its line is safe holds a [`Ticket`] and waits for that
//! number to pass its own: one `write(2)` and one publication serve every request in the batch,
//! with no channel or allocation per waiter.

use super::error::{LogClosed, LogError};
use super::metrics::LogMetrics;
use super::query::QueryLogging;
use super::record::RequestRecord;
use super::sink::Sink;
use crate::clock::SharedClock;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Marks each line written to stderr as a last resort, so `journalctl -u lychgate | grep` finds
/// them among the daemon's messages.
pub const STDERR_PREFIX: &str = "lychgate-unlogged: ";

/// What travels through the queue.
#[allow(clippy::large_enum_variant)] // boxing would cost an allocation per request
pub(crate) enum Item {
    /// A record to write.
    Record(RequestRecord),
    /// Answer, once everything queued before it was handled, whether it all reached the file.
    Flush(oneshot::Sender<bool>),
    /// Open the file at its path again (after logrotate or a technician moved it away), once
    /// everything queued before it was written to the old one; answers whether that worked.
    Reopen(oneshot::Sender<io::Result<()>>),
}

/// What every handle and permit shares: the sequence that numbers records in queue order, and
/// the writer's published progress.
#[derive(Debug)]
struct Sequence {
    /// Number of the last record put in the queue. Held while sending, so numbers and queue
    /// order agree.
    last_sent: Mutex<u64>,
    /// The writer's progress and the requests waiting on it.
    commits: Arc<Commits>,
}

/// The writer's published progress, and the requests waiting on it.
#[derive(Debug, Default)]
struct Commits {
    /// Number of the last record the writer has handled: written to the kernel (or, while the
    /// disk fails, retained for the retry or sent to stderr). `u64::MAX` once it has stopped.
    done: AtomicU64,
    /// Wakers of waiting requests by their record's number, so a batch wakes exactly the
    /// requests it released (a broadcast would wake every waiter at every batch, most of them
    /// only to wait again).
    waiters: Mutex<BTreeMap<u64, Waker>>,
}

impl Commits {
    fn is_done(&self, seq: u64) -> bool {
        self.done.load(Ordering::Acquire) >= seq
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Waker>> {
        self.waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes progress and wakes the requests it releases.
    fn publish(&self, done: u64) {
        self.done.store(done, Ordering::Release);
        let released = {
            let mut waiters = self.waiters();
            let later = waiters.split_off(&done.saturating_add(1));
            std::mem::replace(&mut *waiters, later)
        };
        for waker in released.into_values() {
            waker.wake();
        }
    }

    fn poll_done(&self, seq: u64, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_done(seq) {
            return Poll::Ready(());
        }
        let mut waiters = self.waiters();
        // Checked again under the lock: `publish` stores before it takes the lock, so either
        // this sees the new number or `publish` sees this waker.
        if self.is_done(seq) {
            return Poll::Ready(());
        }
        waiters.insert(seq, cx.waker().clone());
        Poll::Pending
    }
}

/// Releases every waiter when the writer ends, however it ends (a panic too).
struct ReleaseOnDrop(Arc<Commits>);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        self.0.publish(u64::MAX);
    }
}

impl Sequence {
    /// Sends a record through a reserved place, numbering it.
    fn send(&self, permit: mpsc::OwnedPermit<Item>, record: RequestRecord) -> Ticket {
        let seq = {
            let mut last = self
                .last_sent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *last += 1;
            permit.send(Item::Record(record));
            *last
        };
        Ticket {
            seq,
            commits: Arc::clone(&self.commits),
        }
    }
}

/// A record's place in the sequence: [`Ticket::committed`] waits until the writer has handed
/// it to the kernel, so an answer sent after it cannot outlive its line in a crash.
#[derive(Debug)]
pub struct Ticket {
    seq: u64,
    commits: Arc<Commits>,
}

impl Ticket {
    /// The record's number in the sequence.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Waits until the record has been written to the log file — or, while the disk fails,
    /// retained for the retry (serving on then is the group's `fail_open` choice; fail-closed
    /// groups are refused before they get here) — or the writer has stopped (it then puts what
    /// it could not write on stderr).
    pub fn committed(self) -> impl Future<Output = ()> + Send + Unpin + 'static {
        std::future::poll_fn(move |cx| self.commits.poll_done(self.seq, cx))
    }

    /// Like [`Ticket::committed`], keeping the ticket (for a loop that `select!`s on it).
    pub fn wait(&mut self) -> impl Future<Output = ()> + Send + Unpin + '_ {
        std::future::poll_fn(|cx| self.commits.poll_done(self.seq, cx))
    }

    /// Whether the record has already been handled, without waiting. A stopped writer counts
    /// as done, as for [`Ticket::committed`].
    pub fn is_committed(&self) -> bool {
        self.commits.is_done(self.seq)
    }
}

/// The callers' side of the request log: cheap to clone, one per connection task if need be.
#[derive(Debug, Clone)]
pub struct LogHandle {
    tx: mpsc::Sender<Item>,
    sequence: Arc<Sequence>,
    healthy: Arc<AtomicBool>,
    health: watch::Receiver<bool>,
    metrics: LogMetrics,
}

impl LogHandle {
    /// Queues a record. Waits while the queue is full (backpressure: the request waits, the
    /// line is not dropped). Fails only once the log has shut down. The ticket tells when the
    /// line has reached the file.
    pub async fn write(&self, record: RequestRecord) -> Result<Ticket, LogClosed> {
        match self.reserve().await {
            Some(permit) => Ok(permit.send(record)),
            None => Err(LogClosed(Box::new(record))),
        }
    }

    /// Queues a record if there is room now; gives it back otherwise (queue full or closed).
    pub fn try_write(&self, record: RequestRecord) -> Result<Ticket, LogClosed> {
        match self.tx.clone().try_reserve_owned() {
            Ok(permit) => Ok(self.sequence.send(permit, record)),
            Err(_) => Err(LogClosed(Box::new(record))),
        }
    }

    /// Takes a place in the queue now, for a record written later from a place that cannot wait
    /// (a response body ending). Waits while the queue is full, like [`LogHandle::write`];
    /// `None` once the log has shut down.
    pub async fn reserve(&self) -> Option<LogPermit> {
        let permit = match self.tx.clone().try_reserve_owned() {
            Ok(permit) => permit,
            Err(mpsc::error::TrySendError::Closed(_)) => return None,
            Err(mpsc::error::TrySendError::Full(tx)) => {
                self.metrics.queue_full.inc();
                tx.reserve_owned().await.ok()?
            }
        };
        Some(LogPermit {
            permit,
            sequence: Arc::clone(&self.sequence),
        })
    }

    /// Opens the log file at its path again once everything queued before this call has been
    /// written to the file open now: the hook for a reload (SIGHUP) after an external rotation.
    /// The writer also notices by itself, at its next write, that the file at the path is no
    /// longer the one it writes to. Fails if the log has shut down or the file cannot be opened
    /// (the writer then keeps trying, as for any failing disk).
    pub async fn reopen(&self) -> io::Result<()> {
        let closed = || io::Error::other("the request log has shut down");
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Item::Reopen(reply))
            .await
            .map_err(|_| closed())?;
        answer.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Waits until everything queued before this call has been handled; `true` if it all
    /// reached the log file (the OS's page cache: see the fsync notes in `docs/logging.md`),
    /// `false` if some is held for a retry, some went to stderr since the previous flush, or
    /// the log has shut down.
    pub async fn flush(&self) -> bool {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Item::Flush(reply)).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// Whether lines are reaching the file. Fail-closed groups are refused while this is false.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Health changes, so open tunnels of fail-closed groups can be closed when logging fails.
    pub fn health(&self) -> watch::Receiver<bool> {
        self.health.clone()
    }
}

/// A reserved place in the log queue: sending through it never waits and never fails.
#[derive(Debug)]
pub struct LogPermit {
    permit: mpsc::OwnedPermit<Item>,
    sequence: Arc<Sequence>,
}

impl LogPermit {
    /// Queues the record in the reserved place; the ticket tells when it is in the file.
    pub fn send(self, record: RequestRecord) -> Ticket {
        self.sequence.send(self.permit, record)
    }
}

/// The running writer. Await [`RequestLogTask::shutdown`] on shutdown, after the servers have
/// stopped: everything queued is written before it returns.
#[derive(Debug)]
pub struct RequestLogTask {
    cancel: CancellationToken,
    done: oneshot::Receiver<Result<(), LogError>>,
}

impl RequestLogTask {
    /// Stops taking records (later writes get [`LogClosed`]), writes everything queued, syncs
    /// the file, waits for compression in progress, and returns. `Err(Unwritten)` if the disk
    /// still refused lines (they went to stderr); `Err(WriterPanicked)` if the writer died.
    pub async fn shutdown(self) -> Result<(), LogError> {
        self.cancel.cancel();
        self.wait().await
    }

    /// Waits for the writer to end by itself, which it does once every [`LogHandle`] is dropped.
    pub async fn wait(self) -> Result<(), LogError> {
        self.done.await.unwrap_or(Err(LogError::WriterPanicked))
    }
}

/// How the writer is set up.
pub(crate) struct WriterConfig {
    /// Log directory, for messages.
    pub(crate) dir: PathBuf,
    /// Zone of `time` and of midnight.
    pub(crate) timezone: TimeZone,
    /// Query-logging mode.
    pub(crate) query: QueryLogging,
    /// Queue capacity.
    pub(crate) queue_capacity: usize,
    /// Most records per batch.
    pub(crate) batch_max: usize,
    /// Retry buffer bound in bytes.
    pub(crate) retry_buffer_bytes: usize,
    /// Retry, idle-rotation and sync check period.
    pub(crate) retry_interval: Duration,
    /// Most time between a write and its fsync; zero: every batch is fsynced before the
    /// requests waiting on it are released.
    pub(crate) fsync_interval: Duration,
}

/// Starts the writer thread over `sink`; `spill` receives lines the disk would not take.
pub(crate) fn start<S: Sink>(
    config: WriterConfig,
    sink: S,
    clock: SharedClock,
    metrics: LogMetrics,
    spill: Box<dyn Write + Send>,
) -> Result<(LogHandle, RequestLogTask), LogError> {
    let (tx, rx) = mpsc::channel(config.queue_capacity);
    let healthy = Arc::new(AtomicBool::new(true));
    let (health_tx, health_rx) = watch::channel(true);
    let commits = Arc::new(Commits::default());
    metrics.healthy.set(1);
    let cancel = CancellationToken::new();
    let (done_tx, done) = oneshot::channel();
    // A runtime of its own: the writer only needs a timer and the queue, and blocking file I/O
    // here stalls nothing else.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(LogError::Spawn)?;
    let now = clock.now();
    let writer = Writer {
        rx,
        sink,
        clock,
        config,
        metrics: metrics.clone(),
        healthy: Arc::clone(&healthy),
        health: health_tx,
        commits: ReleaseOnDrop(Arc::clone(&commits)),
        handled: 0,
        pending: VecDeque::new(),
        pending_bytes: 0,
        pending_lines: 0,
        last_sync: now,
        unsynced: false,
        spill,
        spilling: false,
        missed_since_flush: false,
        failure: None,
        cancel: cancel.clone(),
    };
    std::thread::Builder::new()
        .name("lychgate-log".into())
        .spawn(move || {
            let result = runtime.block_on(writer.run());
            drop(runtime);
            let _ = done_tx.send(result);
        })
        .map_err(LogError::Spawn)?;
    let handle = LogHandle {
        tx,
        sequence: Arc::new(Sequence {
            last_sent: Mutex::new(0),
            commits,
        }),
        healthy,
        health: health_rx,
        metrics,
    };
    Ok((handle, RequestLogTask { cancel, done }))
}

/// What failed, which decides what proves the disk is back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Appending lines (or opening the day's file for them): only a successful append proves
    /// recovery. An fsync of a file with nothing new in it succeeds on a full disk too.
    Write,
    /// Opening the new day's file while idle.
    Open,
    /// An fsync.
    Sync,
}

impl Op {
    const fn verb(self) -> &'static str {
        match self {
            Op::Write => "write",
            Op::Open => "open",
            Op::Sync => "sync",
        }
    }
}

/// Serialised lines not yet in the file.
struct Chunk {
    bytes: Vec<u8>,
    lines: u64,
}

struct Writer<S> {
    rx: mpsc::Receiver<Item>,
    sink: S,
    clock: SharedClock,
    config: WriterConfig,
    metrics: LogMetrics,
    healthy: Arc<AtomicBool>,
    health: watch::Sender<bool>,
    /// Where `handled` is published once the batch holding those records reached the kernel.
    commits: ReleaseOnDrop,
    /// Records taken off the queue so far (the sequence number of the last one).
    handled: u64,
    /// The retry buffer, oldest first.
    pending: VecDeque<Chunk>,
    pending_bytes: usize,
    pending_lines: u64,
    last_sync: Instant,
    unsynced: bool,
    spill: Box<dyn Write + Send>,
    /// Whether this failure episode has already overflowed to stderr (reported once).
    spilling: bool,
    /// Whether a line went to stderr since the last flush answered.
    missed_since_flush: bool,
    /// What failed in the current failure episode; `None` while healthy.
    failure: Option<Op>,
    cancel: CancellationToken,
}

impl<S: Sink> Writer<S> {
    async fn run(mut self) -> Result<(), LogError> {
        let mut items = Vec::with_capacity(self.config.batch_max);
        // Housekeeping also makes due fsyncs, so it runs at least as often as they fall due.
        let period = match self.config.fsync_interval {
            Duration::ZERO => self.config.retry_interval,
            every => every.min(self.config.retry_interval),
        };
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut closing = false;
        loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled(), if !closing => {
                    // Refuse new records but keep those already queued: they are drained below.
                    self.rx.close();
                    closing = true;
                }
                n = self.rx.recv_many(&mut items, self.config.batch_max) => {
                    if n == 0 {
                        break;
                    }
                    self.metrics.queue_depth.set(gauge(self.rx.len()));
                    // No lingering for more records: requests wait for this batch, and those
                    // arriving while it is written make the next one (group commit).
                    self.handle(&mut items);
                }
                _ = tick.tick() => self.housekeeping(),
            }
        }
        self.finish()
    }

    fn handle(&mut self, items: &mut Vec<Item>) {
        let mut buf = Vec::new();
        let mut lines = 0;
        for item in items.drain(..) {
            match item {
                Item::Record(mut record) => {
                    self.handled += 1;
                    self.config.query.apply(&mut record);
                    record.time = record.time.with_time_zone(self.config.timezone.clone());
                    let before = buf.len();
                    match record.write_line(&mut buf) {
                        Ok(()) => lines += 1,
                        Err(e) => {
                            buf.truncate(before);
                            self.unserialisable(&record, &e);
                        }
                    }
                }
                Item::Flush(reply) => {
                    self.submit(std::mem::take(&mut buf), lines);
                    lines = 0;
                    let all_in_file = self.pending.is_empty() && !self.missed_since_flush;
                    self.missed_since_flush = false;
                    let _ = reply.send(all_in_file);
                }
                Item::Reopen(reply) => {
                    self.submit(std::mem::take(&mut buf), lines);
                    lines = 0;
                    let _ = reply.send(self.reopen());
                }
            }
        }
        self.submit(buf, lines);
        if self.config.fsync_interval.is_zero() {
            self.sync_now();
        }
        self.publish();
    }

    /// Releases the requests waiting for the records handled so far.
    fn publish(&mut self) {
        if self.commits.0.done.load(Ordering::Relaxed) != self.handled {
            self.commits.0.publish(self.handled);
        }
    }

    /// Opens the file at its path again, for [`LogHandle::reopen`].
    fn reopen(&mut self) -> io::Result<()> {
        match self.sink.reopen() {
            Ok(()) => {
                self.last_sync = self.clock.now();
                self.unsynced = false;
                tracing::info!(dir = %self.config.dir.display(), "request log reopened");
                Ok(())
            }
            Err(e) => {
                self.failed(&e, Op::Open);
                Err(e)
            }
        }
    }

    /// Makes what was written durable now (if anything is unsynced).
    fn sync_now(&mut self) {
        if !self.unsynced {
            return;
        }
        match self.sink.sync() {
            Ok(()) => {
                self.unsynced = false;
                self.last_sync = self.clock.now();
            }
            Err(e) => self.failed(&e, Op::Sync),
        }
    }

    /// Queues a batch behind any retained lines (order is kept) and writes what the disk takes.
    fn submit(&mut self, bytes: Vec<u8>, lines: u64) {
        if lines > 0 {
            self.pending_bytes += bytes.len();
            self.pending_lines += lines;
            self.pending.push_back(Chunk { bytes, lines });
        }
        self.write_pending();
        self.bound_pending();
        self.metrics
            .retry_buffer_lines
            .set(gauge(self.pending_lines));
    }

    fn write_pending(&mut self) {
        while let Some(chunk) = self.pending.pop_front() {
            let started = Instant::now();
            let written = self
                .rotate_if_due()
                .and_then(|()| self.sink.append(&chunk.bytes));
            if let Err(e) = written {
                self.pending.push_front(chunk);
                self.failed(&e, Op::Write);
                return;
            }
            #[allow(clippy::cast_precision_loss)] // a batch is far below 2^53 lines
            self.metrics.batch_lines.observe(chunk.lines as f64);
            self.metrics
                .write_seconds
                .observe(started.elapsed().as_secs_f64());
            self.metrics.lines_written.inc_by(chunk.lines);
            self.pending_bytes -= chunk.bytes.len();
            self.pending_lines -= chunk.lines;
            self.unsynced = true;
            self.recovered();
        }
    }

    /// Opens the new day's file once the wall clock has passed local midnight. Never goes back
    /// to an earlier day: a clock stepped back keeps writing to the newest file.
    fn rotate_if_due(&mut self) -> io::Result<()> {
        let today = self.config.timezone.to_datetime(self.clock.wall()).date();
        if self.sink.date().is_some_and(|open| open >= today) {
            return Ok(());
        }
        self.sink.open(today)?;
        self.last_sync = self.clock.now();
        self.unsynced = false;
        tracing::info!(date = %today, "request log rotated");
        Ok(())
    }

    /// Beyond the retry buffer's bound the oldest lines go to stderr rather than nowhere.
    fn bound_pending(&mut self) {
        while self.pending_bytes > self.config.retry_buffer_bytes {
            let Some(chunk) = self.pending.pop_front() else {
                break;
            };
            if !self.spilling {
                self.spilling = true;
                tracing::error!(
                    dir = %self.config.dir.display(),
                    limit_bytes = self.config.retry_buffer_bytes,
                    "request log retry buffer is full: the oldest lines are going to stderr, \
                     prefixed `{}`",
                    STDERR_PREFIX.trim_end()
                );
            }
            self.spill_chunk(&chunk);
        }
    }

    /// Sends a chunk taken off the retry buffer to stderr.
    fn spill_chunk(&mut self, chunk: &Chunk) {
        self.pending_bytes -= chunk.bytes.len();
        self.pending_lines -= chunk.lines;
        self.spill_bytes(&chunk.bytes);
        self.metrics.lines_failed.inc_by(chunk.lines);
    }

    fn spill_bytes(&mut self, bytes: &[u8]) {
        self.missed_since_flush = true;
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            // Nothing is left to try if stderr fails too; the count below still tells.
            let _ = self
                .spill
                .write_all(STDERR_PREFIX.as_bytes())
                .and_then(|()| self.spill.write_all(line));
        }
        let _ = self.spill.flush();
    }

    /// A record serde could not write (not possible for the types in it today, but a line is
    /// never dropped without a trace).
    fn unserialisable(&mut self, record: &RequestRecord, e: &serde_json::Error) {
        tracing::error!(id = %record.id, "cannot serialise a request log record: {e}");
        self.spill_bytes(format!("{record:?}\n").as_bytes());
        self.metrics.lines_failed.inc();
    }

    /// Every tick: retry retained lines, rotate at midnight even when idle (so yesterday is
    /// compressed promptly), and fsync when due.
    fn housekeeping(&mut self) {
        if self.pending.is_empty() {
            match self.rotate_if_due() {
                Ok(()) if matches!(self.failure, Some(Op::Open | Op::Sync)) => {
                    // Failed on a sync or an idle rotation: healthy again once the file takes
                    // a sync. After a failed write, only the next written line can tell.
                    if self.sink.sync().is_ok() {
                        self.unsynced = false;
                        self.last_sync = self.clock.now();
                        self.recovered();
                    }
                }
                Ok(()) => {}
                Err(e) => self.failed(&e, Op::Open),
            }
        } else {
            self.write_pending();
            self.bound_pending();
            self.metrics
                .retry_buffer_lines
                .set(gauge(self.pending_lines));
        }
        if self.clock.now() - self.last_sync >= self.config.fsync_interval {
            self.sync_now();
        }
    }

    fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    fn failed(&mut self, e: &io::Error, op: Op) {
        self.metrics.write_errors.inc();
        // A failed write outranks a failed sync or open: it needs a written line to clear.
        if self.failure != Some(Op::Write) {
            self.failure = Some(op);
        }
        if self.is_healthy() {
            self.set_health(false);
            tracing::error!(
                dir = %self.config.dir.display(),
                retained_lines = self.pending_lines,
                "cannot {} the request log: {e}; holding lines in memory and retrying every \
                 {:?}; fail-closed groups are refused until it recovers",
                op.verb(),
                self.config.retry_interval
            );
        }
    }

    fn recovered(&mut self) {
        self.failure = None;
        if !self.is_healthy() {
            self.set_health(true);
            self.spilling = false;
            tracing::warn!(
                dir = %self.config.dir.display(),
                "request log writing again; retained lines written"
            );
        }
    }

    fn set_health(&mut self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
        self.metrics.healthy.set(i64::from(healthy));
        self.health.send_replace(healthy);
    }

    /// Last attempt at what is retained, then stderr for whatever the disk still refuses.
    fn finish(mut self) -> Result<(), LogError> {
        self.write_pending();
        self.publish();
        let unwritten = self.pending_lines;
        while let Some(chunk) = self.pending.pop_front() {
            self.spill_chunk(&chunk);
        }
        self.metrics.retry_buffer_lines.set(0);
        self.metrics.queue_depth.set(0);
        if let Err(e) = self.sink.close() {
            self.failed(&e, Op::Sync);
        }
        if unwritten > 0 {
            tracing::error!(
                lines = unwritten,
                "request log shut down with lines the disk refused; they are on stderr"
            );
            return Err(LogError::Unwritten {
                lines: unwritten,
                dir: self.config.dir.clone(),
            });
        }
        Ok(())
    }
}

fn gauge(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

//! The writer: serialises records on the request path, puts their lines in one bounded queue, and
//! appends them to the day's file before the requests that made them answer — without a thread
//! switch per request in the common case.
//!
//! Group commit by a leader: a request that waits for its line ([`Ticket::committed`]) takes the
//! writer if nobody holds it, appends every line queued so far with one `write(2)`, publishes how
//! far the file has got, and hands on: if lines arrived meanwhile, it wakes the first request
//! waiting for one of them, which leads the next batch. One `write(2)` serves every request in a
//! batch; the requests that were not leaders are released by number, with no channel or
//! allocation per waiter. Only appending to the open file happens on the request path, and only
//! while the disk is healthy and quick: rotation at midnight, compression, reopening, retries of a
//! failing disk, periodic fsync, and every batch while a write has lately been slow, belong to
//! one dedicated OS thread (`lychgate-log`), so a slow or failing disk stalls no runtime worker
//! for longer than one write.
//!
//! Never silent: a full queue makes [`LogHandle::write`] wait (backpressure); a failing disk
//! marks the log unhealthy, is counted and reported once per episode, and its lines are held in a
//! bounded retry buffer and sent again; lines that overflow the buffer go to stderr (journald
//! keeps it) and are counted. Every line ends in `lines_written` or `lines_failed`.

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
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Marks each line written to stderr as a last resort, so `journalctl -u lychgate | grep` finds
/// them among the daemon's messages.
pub const STDERR_PREFIX: &str = "lychgate-unlogged: ";

/// A write to the file slower than this moves appending off the request path until the disk has
/// been quick again for [`QUICK_WRITES_TO_LEAD`] batches.
pub(crate) const SLOW_WRITE: Duration = Duration::from_millis(20);
const QUICK_WRITES_TO_LEAD: u32 = 64;

/// How long a waiting request spins while another one writes, before it sleeps.
const BUSY_SPIN: Duration = Duration::from_micros(30);

/// Locks, going on after a panic elsewhere: every value behind these locks stays consistent
/// between statements, and the log must keep going.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What waits in the queue, in order.
enum Queued {
    /// Serialised lines, at most `batch_max` of them.
    Lines(Chunk),
    /// A record serde could not write (its number and its debug form, for stderr).
    Unserialisable { seq: u64, id: String, text: String },
    /// Answer, once everything queued before it was handled, whether it all reached the file.
    Flush(oneshot::Sender<bool>),
    /// Open the file at its path again (after logrotate or a technician moved it away), once
    /// everything queued before it was written to the old one; answers whether that worked.
    Reopen(oneshot::Sender<io::Result<()>>),
}

/// Lines queued for the writer, and the numbering of records in queue order.
#[derive(Default)]
struct Queue {
    items: VecDeque<Queued>,
    /// Number of the last record queued.
    last_seq: u64,
    /// Records queued and not yet taken, for the depth gauge and to give back queue places.
    records: usize,
    /// Set once the writer has taken its last items: nothing queued after would be handled.
    stopped: bool,
}

/// What a request's attempt to lead came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Led {
    /// It wrote what was queued.
    Wrote,
    /// Someone else holds the writer (and hands on when done).
    Busy,
    /// This batch is the writer thread's (a slow or failing disk, or a new day): it was called.
    ToThread,
}

/// Whose turn it is to take lines off the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taker {
    /// A request on the runtime: only lines, stopping at the first control item.
    Leader,
    /// The writer thread: everything.
    Thread,
}

impl Queue {
    /// Numbers the next record.
    fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.records += 1;
        self.last_seq
    }

    fn push_line(&mut self, line: &[u8], batch_max: usize) -> u64 {
        let seq = self.next_seq();
        match self.items.back_mut() {
            Some(Queued::Lines(chunk)) if chunk.lines < batch_max as u64 => {
                chunk.bytes.extend_from_slice(line);
                chunk.lines += 1;
                chunk.last_seq = seq;
            }
            _ => self.items.push_back(Queued::Lines(Chunk {
                bytes: line.to_vec(),
                lines: 1,
                last_seq: seq,
            })),
        }
        seq
    }

    fn push_unserialisable(&mut self, id: String, text: String) -> u64 {
        let seq = self.next_seq();
        self.items
            .push_back(Queued::Unserialisable { seq, id, text });
        seq
    }

    /// Takes items off the front, and how many records they hold.
    fn take(&mut self, taker: Taker) -> (Vec<Queued>, usize) {
        let count = match taker {
            Taker::Thread => self.items.len(),
            Taker::Leader => self
                .items
                .iter()
                .take_while(|q| matches!(q, Queued::Lines(_)))
                .count(),
        };
        let taken: Vec<Queued> = self.items.drain(..count).collect();
        let records = taken.iter().map(Queued::records).sum();
        self.records -= records;
        (taken, records)
    }
}

impl Queued {
    fn records(&self) -> usize {
        match self {
            Queued::Lines(chunk) => usize::try_from(chunk.lines).unwrap_or(usize::MAX),
            Queued::Unserialisable { .. } => 1,
            Queued::Flush(_) | Queued::Reopen(_) => 0,
        }
    }
}

/// The writer's published progress, and the requests waiting on it.
#[derive(Debug, Default)]
struct Commits {
    /// Number of the last record the writer has handled: written to the kernel (or, while the
    /// disk fails, retained for the retry or sent to stderr). `u64::MAX` once it has stopped.
    done: AtomicU64,
    /// Wakers of waiting requests by their record's number, so a batch wakes exactly the
    /// requests it released (a broadcast would wake every waiter at every batch, most of them
    /// only to wait again), and a leader can hand on to the first request still waiting.
    waiters: Mutex<BTreeMap<u64, Waker>>,
}

impl Commits {
    fn is_done(&self, seq: u64) -> bool {
        self.done.load(Ordering::Acquire) >= seq
    }

    /// Publishes progress and wakes the requests it releases.
    fn publish(&self, done: u64) {
        self.done.store(done, Ordering::Release);
        let released = {
            let mut waiters = lock(&self.waiters);
            let later = waiters.split_off(&done.saturating_add(1));
            std::mem::replace(&mut *waiters, later)
        };
        for waker in released.into_values() {
            waker.wake();
        }
    }

    /// Registers a waiter unless its record is already handled; `true` if it is.
    fn register(&self, seq: u64, waker: &Waker) -> bool {
        if self.is_done(seq) {
            return true;
        }
        let mut waiters = lock(&self.waiters);
        // Checked again under the lock: `publish` stores before it takes the lock, so either
        // this sees the new number or `publish` sees this waker.
        if self.is_done(seq) {
            return true;
        }
        match waiters.get_mut(&seq) {
            Some(known) if known.will_wake(waker) => {}
            Some(known) => known.clone_from(waker),
            None => {
                waiters.insert(seq, waker.clone());
            }
        }
        false
    }

    fn forget(&self, seq: u64) {
        lock(&self.waiters).remove(&seq);
    }

    /// Wakes the first request still waiting, to lead the next batch; `false` if none waits.
    fn wake_next_leader(&self) -> bool {
        let waiters = lock(&self.waiters);
        match waiters.first_key_value() {
            Some((_, waker)) => {
                waker.wake_by_ref();
                true
            }
            None => false,
        }
    }
}

/// Releases every waiter when the writer ends, however it ends (a panic too).
struct ReleaseOnDrop(Arc<Commits>);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        self.0.publish(u64::MAX);
    }
}

/// What every handle, permit and ticket shares with the writer thread.
struct Shared {
    queue: Mutex<Queue>,
    /// The file and everything about it. Held by whoever is writing: a leading request or the
    /// writer thread.
    writer: Mutex<Writer>,
    commits: Arc<Commits>,
    /// Places in the queue: one per record reserved or queued and not yet taken.
    places: Arc<Semaphore>,
    /// Calls the writer thread.
    wake: Notify,
    query: QueryLogging,
    timezone: TimeZone,
    batch_max: usize,
    metrics: LogMetrics,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("done", &self.commits.done)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Serialises a record in its reserved place and queues its line; the writer is not called
    /// here: the ticket leads when it is awaited, or calls the writer thread if it is dropped.
    fn send(self: &Arc<Self>, place: OwnedSemaphorePermit, mut record: RequestRecord) -> Ticket {
        self.query.apply(&mut record);
        record.time = record.time.with_time_zone(self.timezone.clone());
        let mut line = Vec::with_capacity(512);
        // Not possible for the types in a record today, but a line is never dropped without a
        // trace: its debug form goes to stderr in its turn.
        let unserialisable = record.write_line(&mut line).err().map(|e| {
            tracing::error!(id = %record.id, "cannot serialise a request log record: {e}");
            (record.id.to_string(), format!("{record:?}\n"))
        });
        let seq = {
            let mut queue = lock(&self.queue);
            let seq = match unserialisable {
                None => queue.push_line(&line, self.batch_max),
                Some((id, text)) => queue.push_unserialisable(id, text),
            };
            // The place stays taken until the writer takes the line off the queue.
            place.forget();
            seq
        };
        Ticket {
            seq,
            shared: Arc::clone(self),
        }
    }

    /// Queues a control item for the writer thread; `false` if the writer has stopped.
    fn send_control(&self, item: Queued) -> bool {
        {
            let mut queue = lock(&self.queue);
            if queue.stopped {
                return false;
            }
            queue.items.push_back(item);
        }
        self.wake.notify_one();
        true
    }

    /// Writes what is queued if nobody else is writing, then hands on. Called by a waiting
    /// request; never waits for a lock.
    fn lead(&self) -> Led {
        let mut writer = match self.writer.try_lock() {
            Ok(writer) => writer,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            // Whoever holds it hands on when it lets go.
            Err(TryLockError::WouldBlock) => return Led::Busy,
        };
        if !writer.may_lead() {
            drop(writer);
            self.wake.notify_one();
            return Led::ToThread;
        }
        let taken = self.take(Taker::Leader);
        writer.handle(taken);
        drop(writer);
        self.hand_on();
        Led::Wrote
    }

    /// After a leader lets go of the writer: if lines are still queued, someone must write them —
    /// the first request waiting (it leads next), or else the writer thread.
    fn hand_on(&self) {
        let front_is_lines = match lock(&self.queue).items.front() {
            None => return,
            Some(item) => matches!(item, Queued::Lines(_)),
        };
        if !(front_is_lines && self.commits.wake_next_leader()) {
            self.wake.notify_one();
        }
    }

    /// Takes items off the queue (with the writer held, so batches reach the file in order) and
    /// gives their places back.
    fn take(&self, taker: Taker) -> Vec<Queued> {
        let (taken, records, depth) = {
            let mut queue = lock(&self.queue);
            let (taken, records) = queue.take(taker);
            (taken, records, queue.records)
        };
        self.places.add_permits(records);
        self.metrics.queue_depth.set(gauge(depth));
        taken
    }

    /// The writer thread's turn: writes everything queued, until the queue is empty.
    fn drain(&self) {
        loop {
            let mut writer = lock(&self.writer);
            let taken = self.take(Taker::Thread);
            if taken.is_empty() {
                return;
            }
            writer.handle(taken);
        }
    }

    fn housekeeping(&self) {
        lock(&self.writer).housekeeping();
        self.drain();
    }

    /// Whether no record is reserved or queued.
    fn is_idle(&self, capacity: usize) -> bool {
        self.places.available_permits() >= capacity && lock(&self.queue).items.is_empty()
    }

    /// The writer thread's last turn: everything queued, then no more.
    fn finish(&self) -> Result<(), LogError> {
        self.drain();
        let rest = {
            let mut queue = lock(&self.queue);
            queue.stopped = true;
            queue.take(Taker::Thread).0
        };
        let mut writer = lock(&self.writer);
        writer.handle(rest);
        writer.finish()
    }
}

/// A record's place in the sequence: [`Ticket::committed`] waits until its line has been handed
/// to the kernel, so an answer sent after it cannot outlive its line in a crash. Waiting leads
/// the write when nobody else is writing; a ticket dropped unawaited calls the writer thread.
pub struct Ticket {
    seq: u64,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket").field("seq", &self.seq).finish()
    }
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
    pub fn committed(mut self) -> impl Future<Output = ()> + Send + Unpin + 'static {
        std::future::poll_fn(move |cx| self.poll_committed(cx))
    }

    /// Like [`Ticket::committed`], keeping the ticket (for a loop that `select!`s on it).
    pub fn wait(&mut self) -> impl Future<Output = ()> + Send + Unpin + '_ {
        std::future::poll_fn(|cx| self.poll_committed(cx))
    }

    /// Whether the record has already been handled, without waiting. A stopped writer counts
    /// as done, as for [`Ticket::committed`].
    pub fn is_committed(&self) -> bool {
        self.shared.commits.is_done(self.seq)
    }

    fn poll_committed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let commits = &self.shared.commits;
        if commits.is_done(self.seq) {
            return Poll::Ready(());
        }
        // The common case: nobody is writing, so this request writes its own line (and every
        // line queued before it) and goes on at once. Answering in the same poll matters: a
        // response body whose last frame waits is sent as two writes (head, then the end).
        let mut spun_since: Option<Instant> = None;
        loop {
            match self.shared.lead() {
                Led::Wrote if commits.is_done(self.seq) => return Poll::Ready(()),
                // A control item (flush, reopen) ahead of this line is the writer thread's,
                // which was called.
                Led::Wrote | Led::ToThread => break,
                Led::Busy => {
                    if commits.is_done(self.seq) {
                        return Poll::Ready(());
                    }
                    // Another request is in the middle of one write(2): a few microseconds.
                    // Waiting that long costs less than a wake-up later; a writer that takes
                    // longer (the thread's fsync, a slow disk) is waited for asleep.
                    let since = *spun_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > BUSY_SPIN {
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
        }
        if commits.register(self.seq, cx.waker()) {
            return Poll::Ready(());
        }
        // Registered now, so either the writer, letting go, sees this request and hands on to
        // it, or it let go before and this try succeeds.
        self.shared.lead();
        if commits.is_done(self.seq) {
            commits.forget(self.seq);
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let commits = &self.shared.commits;
        if !commits.is_done(self.seq) {
            // Nobody will wait for this line: the writer thread writes it.
            commits.forget(self.seq);
            self.shared.wake.notify_one();
        }
    }
}

/// The callers' side of the request log: cheap to clone, one per connection task if need be.
#[derive(Debug, Clone)]
pub struct LogHandle {
    shared: Arc<Shared>,
    /// Never sent on: the writer thread ends once every handle and permit is gone.
    alive: mpsc::Sender<()>,
    healthy: Arc<AtomicBool>,
    health: watch::Receiver<bool>,
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
        match Arc::clone(&self.shared.places).try_acquire_owned() {
            Ok(place) => Ok(self.shared.send(place, record)),
            Err(_) => Err(LogClosed(Box::new(record))),
        }
    }

    /// Takes a place in the queue now, for a record written later from a place that cannot wait
    /// (a response body ending). Waits while the queue is full, like [`LogHandle::write`];
    /// `None` once the log has shut down.
    pub async fn reserve(&self) -> Option<LogPermit> {
        let places = Arc::clone(&self.shared.places);
        let place = match Arc::clone(&places).try_acquire_owned() {
            Ok(place) => place,
            Err(tokio::sync::TryAcquireError::Closed) => return None,
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                self.shared.metrics.queue_full.inc();
                // The lines ahead are written by whoever waits for them; make sure someone
                // does even if nobody waits.
                self.shared.wake.notify_one();
                places.acquire_owned().await.ok()?
            }
        };
        Some(LogPermit {
            place,
            shared: Arc::clone(&self.shared),
            _alive: self.alive.clone(),
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
        if !self.shared.send_control(Queued::Reopen(reply)) {
            return Err(closed());
        }
        answer.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Waits until everything queued before this call has been handled; `true` if it all
    /// reached the log file (the OS's page cache: see the fsync notes in `docs/logging.md`),
    /// `false` if some is held for a retry, some went to stderr since the previous flush, or
    /// the log has shut down.
    pub async fn flush(&self) -> bool {
        let (reply, answer) = oneshot::channel();
        if !self.shared.send_control(Queued::Flush(reply)) {
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
    place: OwnedSemaphorePermit,
    shared: Arc<Shared>,
    _alive: mpsc::Sender<()>,
}

impl LogPermit {
    /// Queues the record in the reserved place; the ticket tells when it is in the file.
    pub fn send(self, record: RequestRecord) -> Ticket {
        self.shared.send(self.place, record)
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
    /// Whether waiting requests may append to the file themselves; when false, every batch
    /// goes through the writer thread.
    pub(crate) lead_on_request_path: bool,
    /// A write slower than this sends batches to the writer thread for a while.
    pub(crate) slow_write: Duration,
}

/// How long shutdown waits between looks for records still reserved.
const SHUTDOWN_POLL: Duration = Duration::from_millis(2);

/// Starts the writer thread over `sink`; `spill` receives lines the disk would not take.
pub(crate) fn start<S: Sink>(
    config: WriterConfig,
    sink: S,
    clock: SharedClock,
    metrics: LogMetrics,
    spill: Box<dyn Write + Send>,
) -> Result<(LogHandle, RequestLogTask), LogError> {
    let (alive, mut all_gone) = mpsc::channel::<()>(1);
    let healthy = Arc::new(AtomicBool::new(true));
    let (health_tx, health_rx) = watch::channel(true);
    let commits = Arc::new(Commits::default());
    metrics.healthy.set(1);
    let cancel = CancellationToken::new();
    let (done_tx, done) = oneshot::channel();
    // A runtime of its own: the writer thread only needs a timer and wake-ups, and blocking file
    // I/O here stalls nothing else.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(LogError::Spawn)?;
    let now = clock.now();
    let capacity = config.queue_capacity;
    let period = match config.fsync_interval {
        // Housekeeping also makes due fsyncs, so it runs at least as often as they fall due.
        Duration::ZERO => config.retry_interval,
        every => every.min(config.retry_interval),
    };
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        places: Arc::new(Semaphore::new(capacity)),
        wake: Notify::new(),
        query: config.query,
        timezone: config.timezone.clone(),
        batch_max: config.batch_max,
        metrics: metrics.clone(),
        commits: Arc::clone(&commits),
        writer: Mutex::new(Writer {
            sink: Box::new(sink),
            clock,
            config,
            metrics,
            healthy: Arc::clone(&healthy),
            health: health_tx,
            commits: Arc::clone(&commits),
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
            quick_writes: QUICK_WRITES_TO_LEAD,
        }),
    });
    let thread_shared = Arc::clone(&shared);
    let thread_cancel = cancel.clone();
    std::thread::Builder::new()
        .name("lychgate-log".into())
        .spawn(move || {
            // However the thread ends, nobody waits for it in vain.
            let _release = ReleaseOnDrop(commits);
            let shared = thread_shared;
            let result = runtime.block_on(async {
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        biased;
                        () = thread_cancel.cancelled() => break,
                        _ = all_gone.recv() => break,
                        () = shared.wake.notified() => shared.drain(),
                        _ = tick.tick() => shared.housekeeping(),
                    }
                }
                // Refuse new records, then wait for those already reserved: a permit always
                // ends in a record or is dropped, and the servers have stopped by now.
                shared.places.close();
                while !shared.is_idle(capacity) {
                    shared.drain();
                    tokio::select! {
                        () = shared.wake.notified() => {}
                        () = tokio::time::sleep(SHUTDOWN_POLL) => {}
                    }
                }
                shared.finish()
            });
            drop(runtime);
            let _ = done_tx.send(result);
        })
        .map_err(LogError::Spawn)?;
    let handle = LogHandle {
        shared,
        alive,
        healthy,
        health: health_rx,
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
    /// Number of the last record in it.
    last_seq: u64,
}

/// The file and everything about it: held by whoever writes (a leading request or the writer
/// thread), behind [`Shared::writer`].
struct Writer {
    sink: Box<dyn Sink>,
    clock: SharedClock,
    config: WriterConfig,
    metrics: LogMetrics,
    healthy: Arc<AtomicBool>,
    health: watch::Sender<bool>,
    /// Where `handled` is published once the batch holding those records reached the kernel.
    commits: Arc<Commits>,
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
    /// Quick writes in a row since the last slow one; requests lead only once there have been
    /// [`QUICK_WRITES_TO_LEAD`].
    quick_writes: u32,
}

impl Writer {
    /// Whether a request may write the next batch itself: only a plain append to a healthy,
    /// quick disk with nothing retained and no new day to open.
    fn may_lead(&self) -> bool {
        self.config.lead_on_request_path
            && self.failure.is_none()
            && self.pending.is_empty()
            && self.quick_writes >= QUICK_WRITES_TO_LEAD
            && !self.rotation_due()
    }

    fn handle(&mut self, items: Vec<Queued>) {
        for item in items {
            match item {
                Queued::Lines(chunk) => {
                    self.handled = self.handled.max(chunk.last_seq);
                    self.submit(chunk);
                }
                Queued::Unserialisable { seq, id, text } => {
                    self.handled = self.handled.max(seq);
                    self.unserialisable(&id, &text);
                }
                Queued::Flush(reply) => {
                    let all_in_file = self.pending.is_empty() && !self.missed_since_flush;
                    self.missed_since_flush = false;
                    let _ = reply.send(all_in_file);
                }
                Queued::Reopen(reply) => {
                    let _ = reply.send(self.reopen());
                }
            }
        }
        if self.config.fsync_interval.is_zero() {
            self.sync_now();
        }
        self.publish();
    }

    /// Releases the requests waiting for the records handled so far.
    fn publish(&mut self) {
        if self.commits.done.load(Ordering::Relaxed) < self.handled {
            self.commits.publish(self.handled);
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
    fn submit(&mut self, chunk: Chunk) {
        if chunk.lines > 0 {
            self.pending_bytes += chunk.bytes.len();
            self.pending_lines += chunk.lines;
            self.pending.push_back(chunk);
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
            let took = started.elapsed();
            self.quick_writes = if took > self.config.slow_write {
                0
            } else {
                self.quick_writes.saturating_add(1)
            };
            #[allow(clippy::cast_precision_loss)] // a batch is far below 2^53 lines
            self.metrics.batch_lines.observe(chunk.lines as f64);
            self.metrics.write_seconds.observe(took.as_secs_f64());
            self.metrics.lines_written.inc_by(chunk.lines);
            self.pending_bytes -= chunk.bytes.len();
            self.pending_lines -= chunk.lines;
            self.unsynced = true;
            self.recovered();
        }
    }

    /// The local day now, if the open file is for an earlier one (or none is open).
    fn day_to_open(&self) -> Option<jiff::civil::Date> {
        let today = self.config.timezone.to_datetime(self.clock.wall()).date();
        match self.sink.date() {
            Some(open) if open >= today => None,
            _ => Some(today),
        }
    }

    fn rotation_due(&self) -> bool {
        self.day_to_open().is_some()
    }

    /// Opens the new day's file once the wall clock has passed local midnight. Never goes back
    /// to an earlier day: a clock stepped back keeps writing to the newest file.
    fn rotate_if_due(&mut self) -> io::Result<()> {
        let Some(today) = self.day_to_open() else {
            return Ok(());
        };
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
    fn unserialisable(&mut self, id: &str, text: &str) {
        tracing::error!(
            id,
            "a request log record that could not be serialised went to stderr"
        );
        self.spill_bytes(text.as_bytes());
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
    fn finish(&mut self) -> Result<(), LogError> {
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

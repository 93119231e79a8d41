//! The request log: the school's record of every web request (and, later, every DNS query), one
//! JSON object per line in a dated file, schema and operations documented in `docs/logging.md`.
//!
//! - [`record`]: the line ([`RequestRecord`], schema v1) and its parts.
//! - [`reference`]: block reference codes a child reads out.
//! - [`query`]: how much of a query string is kept (GDPR).
//! - `writer`: the queue, batching, retries, health, stderr as the last resort.
//! - `sink` and [`rotate`]: the dated files, rotation at local midnight, compression, retention.
//! - [`summary`]: refused traffic (rate-limited, unreadable, outsiders) counted and written as
//!   one line per client per interval.
//! - [`metrics`]: what a technician sees in Prometheus.
//!
//! ```text
//! let (log, log_task) = RequestLog::start(settings, clock, metrics)?;   // refuses to start unlogged
//! let ticket = log.write(record).await?;  // waits if the writer is behind; never drops
//! ticket.committed().await;               // the line is in the file: now answer
//! if !log.is_healthy() { /* fail-closed groups: refuse */ }
//! log_task.shutdown().await?;             // after the servers stop: writes everything queued
//! ```

pub mod error;
pub mod line;
mod metrics;
pub mod query;
pub mod record;
pub mod reference;
pub mod rotate;
pub mod settings;
mod sink;
pub mod summary;
mod writer;

pub use error::{LogClosed, LogError};
pub use metrics::LogMetrics;
pub use query::{QueryLogging, QueryLoggingError};
pub use record::{Concern, Flag, LogDecision, RecordType, RequestRecord, SCHEMA_VERSION};
pub use reference::{new_reference, normalize_reference};
pub use settings::{DEFAULT_RETENTION_DAYS, LogSettings};
pub use summary::{Refused, RefusedReason, RefusedSummary};
pub use writer::{LogHandle, LogPermit, RequestLogTask, STDERR_PREFIX, Ticket};

use crate::clock::SharedClock;
use rotate::Naming;
use sink::FileSink;

/// The request log's entry point.
#[derive(Debug)]
pub struct RequestLog;

impl RequestLog {
    /// Checks `settings`, creates the directory, opens today's file (appending if it exists),
    /// starts compressing and pruning earlier days in the background, and starts the writer
    /// thread. Fails, naming the directory or file, if the log cannot be written: the daemon must
    /// not serve unlogged.
    pub fn start(
        settings: LogSettings,
        clock: SharedClock,
        metrics: LogMetrics,
    ) -> Result<(LogHandle, RequestLogTask), LogError> {
        settings.check()?;
        let today = settings.timezone.to_datetime(clock.wall()).date();
        let naming = Naming {
            dir: settings.dir.clone(),
            stem: settings.file_stem.clone(),
        };
        let path = naming.plain(today);
        let sink = FileSink::create(naming, settings.retention_days, today, metrics.clone())?;
        tracing::info!(
            path = %path.display(),
            retention_days = settings.retention_days,
            query = %settings.query,
            "request log open"
        );
        writer::start(
            writer_config(&settings),
            sink,
            clock,
            metrics,
            Box::new(std::io::stderr()),
        )
    }
}

fn writer_config(settings: &LogSettings) -> writer::WriterConfig {
    writer::WriterConfig {
        dir: settings.dir.clone(),
        timezone: settings.timezone.clone(),
        query: settings.query,
        queue_capacity: settings.queue_capacity,
        batch_max: settings.batch_max,
        retry_buffer_bytes: settings.retry_buffer_bytes,
        retry_interval: settings.retry_interval,
        fsync_interval: settings.fsync_interval,
        lead_on_request_path: true,
        slow_write: writer::SLOW_WRITE,
    }
}

#[cfg(test)]
mod tests;

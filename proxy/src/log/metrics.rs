//! The request log's metrics. Counters are what make "never drop silently" checkable: every
//! line ends up in `lines_written` or `lines_failed`, and a failing disk shows in
//! `write_errors` and `healthy` before anyone reads a log.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Metric values of the request log. Cheap to clone (each value is shared): the writer keeps
/// one clone, the registry reads another.
#[derive(Debug, Clone)]
pub struct LogMetrics {
    /// Records waiting in the queue for the writer (`lychgate_log_queue_depth`).
    pub queue_depth: Gauge,
    /// Writes that found the queue full and waited (`lychgate_log_queue_full_total`).
    pub queue_full: Counter,
    /// Lines written to the log file (`lychgate_log_lines_written_total`).
    pub lines_written: Counter,
    /// Lines that could not be kept for the file and went to stderr instead
    /// (`lychgate_log_lines_failed_total`).
    pub lines_failed: Counter,
    /// Failed write, open or sync attempts (`lychgate_log_write_errors_total`).
    pub write_errors: Counter,
    /// Lines held in memory for a retry while the disk fails (`lychgate_log_retry_buffer_lines`).
    pub retry_buffer_lines: Gauge,
    /// 1 while lines reach the file, 0 while the disk fails (`lychgate_log_healthy`).
    pub healthy: Gauge,
    /// Failed compressions or retention deletions (`lychgate_log_maintenance_errors_total`).
    pub maintenance_errors: Counter,
    /// Lines per batch written (`lychgate_log_batch_lines`).
    pub batch_lines: Histogram,
    /// Time to write one batch (`lychgate_log_write_seconds`).
    pub write_seconds: Histogram,
}

impl LogMetrics {
    /// Fresh metrics (all zero, `healthy` 1 — the log starts only once its file is open).
    pub fn new() -> Self {
        let healthy = Gauge::default();
        healthy.set(1);
        LogMetrics {
            queue_depth: Gauge::default(),
            queue_full: Counter::default(),
            lines_written: Counter::default(),
            lines_failed: Counter::default(),
            write_errors: Counter::default(),
            retry_buffer_lines: Gauge::default(),
            healthy,
            maintenance_errors: Counter::default(),
            // 1, 2, 4 ... 1024 lines.
            batch_lines: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            // 50 µs ... ~3.3 s.
            write_seconds: Histogram::new(exponential_buckets(0.000_05, 3.0, 11)),
        }
    }

    /// Registers every value under its `lychgate_log_` name (the registry adds `_total` to
    /// counters).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "lychgate_log_queue_depth",
            "Request log records waiting for the writer",
            self.queue_depth.clone(),
        );
        registry.register(
            "lychgate_log_queue_full",
            "Request log writes that waited because the queue was full",
            self.queue_full.clone(),
        );
        registry.register(
            "lychgate_log_lines_written",
            "Request log lines written to the log file",
            self.lines_written.clone(),
        );
        registry.register(
            "lychgate_log_lines_failed",
            "Request log lines that could not be written to the file and went to stderr",
            self.lines_failed.clone(),
        );
        registry.register(
            "lychgate_log_write_errors",
            "Failed request log write, open or sync attempts",
            self.write_errors.clone(),
        );
        registry.register(
            "lychgate_log_retry_buffer_lines",
            "Request log lines held in memory until the disk accepts them",
            self.retry_buffer_lines.clone(),
        );
        registry.register(
            "lychgate_log_healthy",
            "1 while request log lines reach the file, 0 while writing fails",
            self.healthy.clone(),
        );
        registry.register(
            "lychgate_log_maintenance_errors",
            "Failed request log compressions and retention deletions",
            self.maintenance_errors.clone(),
        );
        registry.register(
            "lychgate_log_batch_lines",
            "Lines per request log batch",
            self.batch_lines.clone(),
        );
        registry.register(
            "lychgate_log_write_seconds",
            "Time to write one request log batch",
            self.write_seconds.clone(),
        );
    }
}

impl Default for LogMetrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_names_are_the_documented_ones() {
        let m = LogMetrics::new();
        m.write_errors.inc();
        let mut registry = Registry::default();
        m.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for name in [
            "lychgate_log_queue_depth 0",
            "lychgate_log_queue_full_total 0",
            "lychgate_log_lines_written_total 0",
            "lychgate_log_lines_failed_total 0",
            "lychgate_log_write_errors_total 1",
            "lychgate_log_retry_buffer_lines 0",
            "lychgate_log_healthy 1",
            "lychgate_log_maintenance_errors_total 0",
            "lychgate_log_batch_lines_count 0",
            "lychgate_log_write_seconds_count 0",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}

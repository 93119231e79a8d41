//! What the request log is told by the config (the `[log]` table). The config reader fills a
//! [`LogSettings`]; `Default` holds the documented defaults.

use super::error::LogError;
use super::query::QueryLogging;
use jiff::tz::TimeZone;
use std::path::PathBuf;
use std::time::Duration;

/// Default retention: 365 days. A full school year plus the summer holiday, so a concern raised
/// in any term, or a complaint or investigation in the following one, can still be checked
/// against the record; beyond that GDPR's storage limitation applies. Concerns that need keeping
/// longer belong in the child's safeguarding record, not in the request log.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;

/// Settings of the request log.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// `[log] dir` (default `var/log`, relative to the working directory, so the default
    /// config runs without root; packages set `/var/log/lychgate`). Created 0750 if missing.
    pub dir: PathBuf,
    /// `[log] file_stem` (default `requests`): files are `<stem>-YYYY-MM-DD.jsonl`, and
    /// `<stem>-YYYY-MM-DD.jsonl.gz` once the day is over. Letters, digits, `-`, `_`, `.`.
    pub file_stem: String,
    /// `[log] retention_days` (default 365, see [`DEFAULT_RETENTION_DAYS`]): compressed files
    /// dated more than this many days before today are deleted. At least 1.
    pub retention_days: u32,
    /// `[log] queue` (default 8192): records the queue holds before writers wait.
    pub queue_capacity: usize,
    /// `[log] batch` (default 512): most records written with one `write` call.
    pub batch_max: usize,
    /// `[log] retry_buffer_mib` (default 64 MiB, as bytes here): serialised lines held in memory
    /// while the disk fails; beyond it the oldest go to stderr.
    pub retry_buffer_bytes: usize,
    /// `[log] retry_interval_ms` (default 1000): how often a failing disk is retried, midnight
    /// is checked for when idle, and a due fsync is made.
    pub retry_interval: Duration,
    /// `[log] fsync_interval_ms` (default 1000): most time a line written to the kernel stays
    /// un-fsynced (what a power cut can lose); 0 fsyncs every batch before its requests are
    /// answered. A crash of Lychgate alone loses nothing either way: requests are answered only
    /// once their line has been written.
    pub fsync_interval: Duration,
    /// The top-level `timezone` (default `Europe/London`): the zone of `time` and of the local
    /// midnight at which files rotate.
    pub timezone: TimeZone,
    /// `[log] query` (default `search-terms-only`).
    pub query: QueryLogging,
    /// `[log] summary_interval_seconds` (default 10, at most 3600): how often refused traffic
    /// (rate-limited, unreadable, from outside the networks) is written as one summary line per
    /// client and reason ([`super::summary`]).
    pub summary_interval: Duration,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            dir: PathBuf::from("var/log"),
            file_stem: "requests".to_owned(),
            retention_days: DEFAULT_RETENTION_DAYS,
            queue_capacity: 8192,
            batch_max: 512,
            retry_buffer_bytes: 64 << 20,
            retry_interval: Duration::from_secs(1),
            fsync_interval: Duration::from_secs(1),
            // A UK school's zone; falls back to UTC only if the zone database is missing.
            timezone: TimeZone::get("Europe/London").unwrap_or(TimeZone::UTC),
            query: QueryLogging::SearchTermsOnly,
            summary_interval: Duration::from_secs(10),
        }
    }
}

impl LogSettings {
    /// Checks the values the writer relies on.
    pub fn check(&self) -> Result<(), LogError> {
        let bad = |why: String| Err(LogError::Settings(why));
        if self.file_stem.is_empty()
            || !self
                .file_stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || self.file_stem.starts_with('.')
        {
            return bad(format!(
                "file_stem `{}` must be letters, digits, `-`, `_` or `.` (not first)",
                self.file_stem
            ));
        }
        if self.retention_days == 0 {
            return bad("retention_days must be at least 1".into());
        }
        if self.queue_capacity == 0 || self.batch_max == 0 {
            return bad("queue and batch must be at least 1".into());
        }
        if self.retry_interval.is_zero() {
            return bad("retry_interval_ms must be above 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_bad_values_are_named() {
        assert!(LogSettings::default().check().is_ok());
        type Change = fn(&mut LogSettings);
        let cases: [(Change, &str); 5] = [
            (|s| s.file_stem = "../x".into(), "file_stem"),
            (|s| s.file_stem = String::new(), "file_stem"),
            (|s| s.retention_days = 0, "retention_days"),
            (|s| s.queue_capacity = 0, "queue"),
            (|s| s.retry_interval = Duration::ZERO, "retry_interval_ms"),
        ];
        for (change, word) in cases {
            let mut s = LogSettings::default();
            change(&mut s);
            let e = s.check().unwrap_err().to_string();
            assert!(e.contains(word), "{e}");
        }
    }
}

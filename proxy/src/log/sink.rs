//! Where the writer's bytes go: [`Sink`], with [`FileSink`] for the real dated files. The writer
//! only sees the trait, so tests can put a disk that blocks or fails behind it.

use super::error::LogError;
use super::metrics::LogMetrics;
use super::rotate::{Naming, maintain, open_append};
use jiff::civil::Date;
use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::thread::JoinHandle;

/// A destination for whole log lines, kept per day.
pub(crate) trait Sink: Send + 'static {
    /// The day whose file is open, if any.
    fn date(&self) -> Option<Date>;
    /// Makes `date`'s file the one written to, syncing and closing the previous one.
    fn open(&mut self, date: Date) -> io::Result<()>;
    /// Opens the open day's file again by its path (it may have been moved away).
    fn reopen(&mut self) -> io::Result<()>;
    /// Appends whole lines to the open file. On error nothing of `bytes` may be counted as
    /// written; the writer sends them again.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes what was appended durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Syncs and waits for background work (compression) to finish.
    fn close(&mut self) -> io::Result<()>;
}

/// The dated files in the log directory.
#[derive(Debug)]
pub(crate) struct FileSink {
    naming: Naming,
    retention_days: u32,
    file: Option<(Date, File)>,
    /// Device and inode of the open file, to notice when the path names another file (moved
    /// away by logrotate, or removed).
    identity: (u64, u64),
    /// A failed write may have left part of a line that could not be cut off again; the next
    /// write starts with a newline so that fragment stays on a line of its own.
    torn: bool,
    maintenance: Option<JoinHandle<()>>,
    metrics: LogMetrics,
}

impl FileSink {
    /// Creates the directory if needed and opens `today`'s file, so a log that cannot be
    /// written is found at start, not at the first request. Then compresses and prunes old days
    /// in the background.
    pub(crate) fn create(
        naming: Naming,
        retention_days: u32,
        today: Date,
        metrics: LogMetrics,
    ) -> Result<Self, LogError> {
        naming.create_dir().map_err(|source| LogError::CreateDir {
            dir: naming.dir.clone(),
            source,
        })?;
        let path = naming.plain(today);
        let file = open_append(&path).map_err(|source| LogError::Open {
            path: path.clone(),
            source,
        })?;
        let torn = ends_mid_line(&file);
        let identity = identity(&file).map_err(|source| LogError::Open {
            path: path.clone(),
            source,
        })?;
        let mut sink = FileSink {
            naming,
            retention_days,
            file: Some((today, file)),
            identity,
            torn,
            maintenance: None,
            metrics,
        };
        sink.spawn_maintenance(today);
        Ok(sink)
    }

    fn spawn_maintenance(&mut self, today: Date) {
        // One run at a time, so two never work on the same file.
        self.join_maintenance();
        let naming = self.naming.clone();
        let retention_days = self.retention_days;
        let metrics = self.metrics.clone();
        let spawned = std::thread::Builder::new()
            .name("lychgate-log-gzip".into())
            .spawn(move || {
                let done = maintain(&naming, today, retention_days);
                if !done.compressed.is_empty() || !done.deleted.is_empty() {
                    tracing::info!(
                        dir = %naming.dir.display(),
                        compressed = done.compressed.len(),
                        deleted_past_retention = done.deleted.len(),
                        "request log maintenance"
                    );
                }
                for e in &done.errors {
                    metrics.maintenance_errors.inc();
                    tracing::error!(
                        "request log maintenance: {e}; will retry at the next rotation"
                    );
                }
            });
        match spawned {
            Ok(handle) => self.maintenance = Some(handle),
            Err(e) => {
                self.metrics.maintenance_errors.inc();
                tracing::error!(
                    "cannot start request log compression: {e}; will retry at the next rotation"
                );
            }
        }
    }

    fn join_maintenance(&mut self) {
        if let Some(handle) = self.maintenance.take()
            && handle.join().is_err()
        {
            self.metrics.maintenance_errors.inc();
            tracing::error!("request log compression stopped abnormally");
        }
    }
}

impl Sink for FileSink {
    fn date(&self) -> Option<Date> {
        self.file.as_ref().map(|(d, _)| *d)
    }

    fn open(&mut self, date: Date) -> io::Result<()> {
        if let Some((_, old)) = &self.file
            && let Err(e) = old.sync_all()
        {
            // Not a reason to stay on the old day: the new file may well be writable, and the
            // writer cannot resend lines it already handed to the OS.
            self.metrics.write_errors.inc();
            tracing::error!("cannot sync the finished request log file: {e}");
        }
        self.open_at_path(date)?;
        self.spawn_maintenance(date);
        Ok(())
    }

    fn reopen(&mut self) -> io::Result<()> {
        let Some(date) = self.date() else {
            return Err(io::Error::other("no request log file is open"));
        };
        self.open_at_path(date)
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let Some(date) = self.date() else {
            return Err(io::Error::other("no request log file is open"));
        };
        // One stat of the path per batch (in place of an fstat of the open file): it gives the
        // length to cut back to if the write fails, and tells whether the path still names the
        // file being written.
        let path = self.naming.plain(date);
        let start = match std::fs::metadata(&path) {
            Ok(meta) if (meta.dev(), meta.ino()) == self.identity => meta.len(),
            found => {
                if let Err(e) = &found
                    && e.kind() != io::ErrorKind::NotFound
                {
                    return Err(io::Error::new(e.kind(), e.to_string()));
                }
                // Moved away (logrotate's default) or removed: lines written to a moved file
                // land in the wrong file, to an unlinked one nowhere, so start the day's file
                // at its path again.
                tracing::warn!(
                    path = %path.display(),
                    "the request log file was moved or removed while open; opening it again"
                );
                self.open_at_path(date)?;
                self.file
                    .as_ref()
                    .map_or(Ok(0), |(_, f)| f.metadata().map(|m| m.len()))?
            }
        };
        let Some((_, file)) = &mut self.file else {
            return Err(io::Error::other("no request log file is open"));
        };
        let torn = self.torn;
        let written = if torn {
            file.write_all(b"\n").and_then(|()| file.write_all(bytes))
        } else {
            file.write_all(bytes)
        };
        match written {
            Ok(()) => {
                self.torn = false;
                Ok(())
            }
            Err(e) => {
                // Cut off what part of the batch got in, so the retry does not duplicate it.
                if file.set_len(start).is_err() {
                    self.torn = true;
                }
                Err(e)
            }
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        match &self.file {
            Some((_, file)) => file.sync_data(),
            None => Ok(()),
        }
    }

    fn close(&mut self) -> io::Result<()> {
        let synced = self.sync();
        self.join_maintenance();
        synced
    }
}

impl FileSink {
    /// Opens `date`'s file at its path (creating it if it is missing) as the one written to.
    fn open_at_path(&mut self, date: Date) -> io::Result<()> {
        let file = open_append(&self.naming.plain(date))?;
        self.identity = identity(&file)?;
        self.torn = ends_mid_line(&file);
        self.file = Some((date, file));
        Ok(())
    }
}

/// Device and inode of an open file.
fn identity(file: &File) -> io::Result<(u64, u64)> {
    let meta = file.metadata()?;
    Ok((meta.dev(), meta.ino()))
}

/// Whether `file` ends with part of a line (a crash or a full disk in the middle of a write);
/// then the next line must start on a line of its own.
fn ends_mid_line(file: &File) -> bool {
    use std::os::unix::fs::FileExt as _;
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return false;
    };
    if len == 0 {
        return false;
    }
    let mut last = [0u8; 1];
    match file.read_at(&mut last, len - 1) {
        Ok(1) => last[0] != b'\n',
        // Unreadable: assume the worst; a blank line is cheaper than two lines run together.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn sink(dir: &Path, today: &str) -> FileSink {
        let naming = Naming {
            dir: dir.to_path_buf(),
            stem: "requests".into(),
        };
        FileSink::create(naming, 365, d(today), LogMetrics::new()).unwrap()
    }

    #[test]
    fn a_removed_file_is_created_again() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = sink(tmp.path(), "2026-11-30");
        s.append(b"one\n").unwrap();
        let path = tmp.path().join("requests-2026-11-30.jsonl");
        std::fs::remove_file(&path).unwrap();
        s.append(b"two\n").unwrap();
        s.close().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
    }

    #[test]
    fn a_file_moved_away_is_noticed_and_the_path_opened_again() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = sink(tmp.path(), "2026-11-30");
        s.append(b"one\n").unwrap();
        let path = tmp.path().join("requests-2026-11-30.jsonl");
        let rotated = tmp.path().join("requests-2026-11-30.jsonl.1");
        std::fs::rename(&path, &rotated).unwrap();
        s.append(b"two\n").unwrap();
        // A file a rotation tool created in its place is appended to, not replaced.
        std::fs::rename(&path, tmp.path().join("requests-2026-11-30.jsonl.2")).unwrap();
        std::fs::write(&path, "made by logrotate\n").unwrap();
        s.append(b"three\n").unwrap();
        s.close().unwrap();
        assert_eq!(std::fs::read_to_string(&rotated).unwrap(), "one\n");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("requests-2026-11-30.jsonl.2")).unwrap(),
            "two\n"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "made by logrotate\nthree\n"
        );
    }

    #[test]
    fn reopen_opens_the_path_again() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = sink(tmp.path(), "2026-11-30");
        s.append(b"one\n").unwrap();
        let path = tmp.path().join("requests-2026-11-30.jsonl");
        let rotated = tmp.path().join("requests-2026-11-30.jsonl.1");
        std::fs::rename(&path, &rotated).unwrap();
        s.reopen().unwrap();
        assert!(path.exists(), "reopen creates the file at the path");
        s.append(b"two\n").unwrap();
        s.close().unwrap();
        assert_eq!(std::fs::read_to_string(&rotated).unwrap(), "one\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
    }

    #[test]
    fn a_full_disk_fails_and_a_torn_line_is_kept_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = sink(tmp.path(), "2026-11-30");
        // /dev/full refuses every write with ENOSPC, even for root. The day's path names it, so
        // the writer sees the file it has open at the path.
        let path = tmp.path().join("requests-2026-11-30.jsonl");
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/dev/full", &path).unwrap();
        s.reopen().unwrap();
        let e = s.append(b"lost?\n").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28), "{e}");
        assert!(s.torn, "a device cannot be truncated back");
        std::fs::remove_file(&path).unwrap();
        s.open(d("2026-11-30")).unwrap();
        s.append(b"kept\n").unwrap();
        s.close().unwrap();
        let text = std::fs::read_to_string(tmp.path().join("requests-2026-11-30.jsonl")).unwrap();
        assert_eq!(text, "kept\n", "a fresh file needs no separator");
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_not_joined_to_the_next() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("requests-2026-11-30.jsonl");
        std::fs::write(&path, "{\"v\":1}\n{\"v\":1,\"ti").unwrap();
        let mut s = sink(tmp.path(), "2026-11-30");
        s.append(b"{}\n").unwrap();
        s.append(b"{}\n").unwrap();
        s.close().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"v\":1}\n{\"v\":1,\"ti\n{}\n{}\n");
    }

    #[test]
    fn rotation_opens_the_new_day_and_compresses_the_old() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = sink(tmp.path(), "2026-11-29");
        s.append(b"old\n").unwrap();
        s.open(d("2026-11-30")).unwrap();
        assert_eq!(s.date(), Some(d("2026-11-30")));
        s.append(b"new\n").unwrap();
        s.close().unwrap();
        assert!(tmp.path().join("requests-2026-11-29.jsonl.gz").exists());
        assert!(!tmp.path().join("requests-2026-11-29.jsonl").exists());
        let today = std::fs::read_to_string(tmp.path().join("requests-2026-11-30.jsonl"));
        assert_eq!(today.unwrap(), "new\n");
    }
}

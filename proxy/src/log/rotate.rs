//! The log's files on disk: their names, the day's file opened 0640, and the maintenance run
//! after each rotation (and at start): compress finished days, delete days past retention.
//!
//! Compression never risks a line: the gzip is written to a `.tmp` file, fsynced, renamed into
//! place and the directory fsynced before the plain file is removed. If a `.gz` for the day
//! already exists (a restart with the clock behind, or a crash between rename and removal), the
//! new data is appended to it as another gzip member, which `zcat`/`zgrep` read as one stream:
//! at worst a line appears twice, never not at all.

use flate2::Compression;
use flate2::write::GzEncoder;
use jiff::ToSpan as _;
use jiff::civil::Date;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Mode of log files: the service user writes, its group (the technician's or a log reader's)
/// reads, nobody else — pupils never see logs.
pub const FILE_MODE: u32 = 0o640;
/// Mode of a log directory Lychgate creates.
pub const DIR_MODE: u32 = 0o750;

/// What a file in the log directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// `<stem>-<date>.jsonl`: being written, or a day not yet compressed.
    Plain,
    /// `<stem>-<date>.jsonl.gz`: a finished day.
    Compressed,
    /// `<stem>-<date>.jsonl.gz.tmp`: a compression that did not finish.
    Partial,
}

/// File names of one log.
#[derive(Debug, Clone)]
pub(crate) struct Naming {
    /// The directory.
    pub(crate) dir: PathBuf,
    /// The file name stem.
    pub(crate) stem: String,
}

impl Naming {
    /// The plain file of `date`.
    pub(crate) fn plain(&self, date: Date) -> PathBuf {
        self.dir.join(format!("{}-{date}.jsonl", self.stem))
    }

    /// The compressed file of `date`.
    pub(crate) fn compressed(&self, date: Date) -> PathBuf {
        self.dir.join(format!("{}-{date}.jsonl.gz", self.stem))
    }

    fn partial(&self, date: Date) -> PathBuf {
        self.dir.join(format!("{}-{date}.jsonl.gz.tmp", self.stem))
    }

    /// The date and kind of a file of this log; `None` for anything else in the directory.
    pub(crate) fn parse(&self, name: &str) -> Option<(Date, FileKind)> {
        let rest = name.strip_prefix(self.stem.as_str())?.strip_prefix('-')?;
        let (date, suffix) = rest.split_at_checked(10)?;
        let kind = match suffix {
            ".jsonl" => FileKind::Plain,
            ".jsonl.gz" => FileKind::Compressed,
            ".jsonl.gz.tmp" => FileKind::Partial,
            _ => return None,
        };
        let date: Date = date.parse().ok()?;
        // Strict: only the spelling this code writes.
        (date.to_string() == rest[..10]).then_some((date, kind))
    }

    /// Creates the directory (0750, parents too) if it is missing.
    pub(crate) fn create_dir(&self) -> io::Result<()> {
        match fs::metadata(&self.dir) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "exists and is not a directory",
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(&self.dir),
            Err(e) => Err(e),
        }
    }
}

/// Opens `path` for appending (and reading, to check how it ends), creating it 0640 if it is new (the mode is set explicitly so a
/// tight umask cannot make the file unreadable to the log readers' group, and a loose one cannot
/// open it to everyone). An existing file keeps the mode an administrator gave it.
pub(crate) fn open_append(path: &Path) -> io::Result<File> {
    match OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(file) => {
            file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
            Ok(file)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            OpenOptions::new().read(true).append(true).open(path)
        }
        Err(e) => Err(e),
    }
}

/// What one maintenance run did.
#[derive(Debug, Default)]
pub(crate) struct Maintenance {
    /// Days compressed.
    pub(crate) compressed: Vec<Date>,
    /// Compressed days deleted by retention.
    pub(crate) deleted: Vec<Date>,
    /// What failed (each is retried at the next run).
    pub(crate) errors: Vec<String>,
}

/// Compresses every plain file dated before `today`, removes unfinished compressions, and
/// deletes compressed files dated more than `retention_days` before `today`.
pub(crate) fn maintain(naming: &Naming, today: Date, retention_days: u32) -> Maintenance {
    let mut done = Maintenance::default();
    let mut files = match list(naming) {
        Ok(f) => f,
        Err(e) => {
            done.errors
                .push(format!("cannot list {}: {e}", naming.dir.display()));
            return done;
        }
    };
    files.sort_by_key(|&(date, kind)| (date, kind == FileKind::Plain));
    for &(date, kind) in &files {
        if kind == FileKind::Partial {
            // A compression cut short: its plain file is still there and is compressed again.
            if let Err(e) = fs::remove_file(naming.partial(date)) {
                done.errors
                    .push(format!("cannot remove a partial compression: {e}"));
            }
        }
    }
    for &(date, kind) in &files {
        if kind == FileKind::Plain && date < today {
            match compress(naming, date) {
                Ok(()) => done.compressed.push(date),
                Err(e) => done.errors.push(format!(
                    "cannot compress {}: {e}",
                    naming.plain(date).display()
                )),
            }
        }
    }
    let oldest_kept = today.saturating_sub(i64::from(retention_days).days());
    for &(date, kind) in &files {
        if kind == FileKind::Compressed && date < oldest_kept {
            match fs::remove_file(naming.compressed(date)) {
                Ok(()) => done.deleted.push(date),
                Err(e) => done.errors.push(format!(
                    "cannot delete {} (past retention): {e}",
                    naming.compressed(date).display()
                )),
            }
        }
    }
    done
}

fn list(naming: &Naming) -> io::Result<Vec<(Date, FileKind)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(&naming.dir)? {
        let entry = entry?;
        // Regular files only: never follow a link or read a device as if it were a day's log.
        if !entry.file_type()?.is_file() {
            continue;
        }
        if let Some(found) = entry.file_name().to_str().and_then(|n| naming.parse(n)) {
            out.push(found);
        }
    }
    Ok(out)
}

/// Compresses one finished day; see the module notes for why each step is in this order.
fn compress(naming: &Naming, date: Date) -> io::Result<()> {
    let plain = naming.plain(date);
    let target = naming.compressed(date);
    let partial = naming.partial(date);
    let mut out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(&partial)?;
    out.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    match File::open(&target) {
        Ok(mut existing) => {
            io::copy(&mut existing, &mut out)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut gz = GzEncoder::new(out, Compression::default());
    io::copy(&mut File::open(&plain)?, &mut gz)?;
    let mut out = gz.finish()?;
    out.flush()?;
    out.sync_all()?;
    drop(out);
    fs::rename(&partial, &target)?;
    sync_dir(&naming.dir)?;
    fs::remove_file(&plain)?;
    sync_dir(&naming.dir)
}

/// Makes renames and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::MultiGzDecoder;
    use std::io::Read as _;

    fn naming(dir: &Path) -> Naming {
        Naming {
            dir: dir.to_path_buf(),
            stem: "requests".into(),
        }
    }

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn gunzip(path: &Path) -> String {
        let mut text = String::new();
        MultiGzDecoder::new(File::open(path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn names_parse_strictly() {
        let n = naming(Path::new("/x"));
        assert_eq!(
            n.parse("requests-2026-11-30.jsonl"),
            Some((d("2026-11-30"), FileKind::Plain))
        );
        assert_eq!(
            n.parse("requests-2026-11-30.jsonl.gz"),
            Some((d("2026-11-30"), FileKind::Compressed))
        );
        assert_eq!(
            n.parse("requests-2026-11-30.jsonl.gz.tmp"),
            Some((d("2026-11-30"), FileKind::Partial))
        );
        for other in [
            "requests-2026-11-30.log",
            "requests-2026-13-30.jsonl",
            "requests-20261130.jsonl",
            "dns-2026-11-30.jsonl",
            "requests.jsonl",
            "requests-2026-11-30.jsonl.gz.old",
        ] {
            assert_eq!(n.parse(other), None, "{other}");
        }
        assert_eq!(
            n.plain(d("2026-11-30")),
            Path::new("/x/requests-2026-11-30.jsonl")
        );
    }

    #[test]
    fn finished_days_are_compressed_and_old_ones_deleted() {
        let tmp = tempfile::tempdir().unwrap();
        let n = naming(tmp.path());
        let today = d("2026-11-30");
        for (date, text) in [
            ("2026-11-28", "a\n"),
            ("2026-11-29", "b\n"),
            ("2026-11-30", "c\n"),
        ] {
            fs::write(n.plain(d(date)), text).unwrap();
        }
        // Kept: exactly `retention_days` (10) back. Deleted: older.
        for date in ["2026-11-20", "2026-11-19", "2025-01-01"] {
            fs::write(n.compressed(d(date)), b"old").unwrap();
        }
        fs::write(n.partial(d("2026-11-29")), b"half a gzip").unwrap();
        fs::write(tmp.path().join("notes.txt"), b"not ours").unwrap();

        let done = maintain(&n, today, 10);
        assert!(done.errors.is_empty(), "{:?}", done.errors);
        assert_eq!(done.compressed, [d("2026-11-28"), d("2026-11-29")]);
        assert_eq!(done.deleted, [d("2025-01-01"), d("2026-11-19")]);

        assert_eq!(gunzip(&n.compressed(d("2026-11-28"))), "a\n");
        assert_eq!(gunzip(&n.compressed(d("2026-11-29"))), "b\n");
        assert_eq!(mode(&n.compressed(d("2026-11-29"))), FILE_MODE);
        assert!(!n.plain(d("2026-11-29")).exists());
        assert!(!n.partial(d("2026-11-29")).exists());
        assert_eq!(
            fs::read(n.plain(today)).unwrap(),
            b"c\n",
            "today is left alone"
        );
        assert!(n.compressed(d("2026-11-20")).exists());
        assert!(!n.compressed(d("2026-11-19")).exists());
        assert!(tmp.path().join("notes.txt").exists());
    }

    #[test]
    fn a_day_compressed_twice_keeps_both_parts() {
        let tmp = tempfile::tempdir().unwrap();
        let n = naming(tmp.path());
        fs::write(n.plain(d("2026-11-29")), "first\n").unwrap();
        maintain(&n, d("2026-11-30"), 365);
        fs::write(n.plain(d("2026-11-29")), "second\n").unwrap();
        let done = maintain(&n, d("2026-11-30"), 365);
        assert!(done.errors.is_empty(), "{:?}", done.errors);
        assert_eq!(gunzip(&n.compressed(d("2026-11-29"))), "first\nsecond\n");
    }

    #[test]
    fn new_files_are_0640_and_existing_ones_are_appended() {
        let tmp = tempfile::tempdir().unwrap();
        let n = Naming {
            dir: tmp.path().join("var/log"),
            stem: "requests".into(),
        };
        n.create_dir().unwrap();
        assert_eq!(mode(&n.dir), DIR_MODE);
        let path = n.plain(d("2026-11-30"));
        open_append(&path).unwrap().write_all(b"one\n").unwrap();
        assert_eq!(mode(&path), FILE_MODE);
        open_append(&path).unwrap().write_all(b"two\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }

    #[test]
    fn a_file_where_the_directory_should_be_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("log");
        fs::write(&file, b"").unwrap();
        let n = naming(&file);
        assert_eq!(
            n.create_dir().unwrap_err().kind(),
            io::ErrorKind::NotADirectory
        );
    }
}

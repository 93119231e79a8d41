//! Reading the files Lychgate is pointed at (lists, phrase lists, and in the daemon the config,
//! users file and logo): only regular files, never more than a stated size.
//!
//! A path in a config can name anything: `/dev/zero` would be read for ever, a FIFO would block
//! the start with no writer, a directory fails late with an unclear message. The file is opened
//! without blocking (`O_NONBLOCK`, which changes nothing for a regular file but makes opening a
//! FIFO return at once) and without becoming a controlling terminal (`O_NOCTTY`), then what was
//! opened is checked with `fstat` — the check and the read are on the same handle, so the path
//! cannot be swapped in between.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Take};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest list or phrase-list file read: a list of a million domains is about 20 MiB, so
/// this leaves room for the biggest public lists while refusing a runaway file.
pub const MAX_LIST_BYTES: u64 = 256 * 1024 * 1024;

/// Why a file could not be read. The path is added by the caller's error.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Opening or reading failed (missing, no permission, a symlink loop ...).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A directory, FIFO, socket or device.
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    /// Larger than the limit (checked before reading, and again while reading in case it grows).
    #[error("it is larger than the limit of {}", show_size(*limit))]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
}

impl FileError {
    /// The I/O error kind, when the failure was one (`NotFound` is worth telling apart).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            FileError::Io(e) => Some(e.kind()),
            _ => None,
        }
    }
}

/// A regular file opened for reading, at most `limit` bytes of it: reads past the limit are
/// cut short by [`Take`], so call [`LimitedFile::check_not_over`] after reading.
#[derive(Debug)]
pub struct LimitedFile {
    reader: BufReader<Take<File>>,
    limit: u64,
    read: u64,
}

impl LimitedFile {
    /// Fails with [`FileError::TooLarge`] if the file grew past the limit while it was read.
    pub fn check_not_over(&self) -> Result<(), FileError> {
        if self.read > self.limit {
            Err(FileError::TooLarge { limit: self.limit })
        } else {
            Ok(())
        }
    }
}

impl Read for LimitedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.reader.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl std::io::BufRead for LimitedFile {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.reader.fill_buf()
    }
    fn consume(&mut self, amount: usize) {
        self.read += amount as u64;
        self.reader.consume(amount);
    }
}

/// Opens `path` for a streaming read if it is a regular file (symlinks followed) no larger than
/// `limit` bytes.
pub fn open_regular(path: &Path, limit: u64) -> Result<LimitedFile, FileError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else {
            "not a file"
        };
        return Err(FileError::NotRegular(what));
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge { limit });
    }
    Ok(LimitedFile {
        reader: BufReader::with_capacity(64 * 1024, file.take(limit.saturating_add(1))),
        limit,
        read: 0,
    })
}

/// Reads a whole regular file of at most `limit` bytes (see [`open_regular`]).
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let mut file = open_regular(path, limit)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    file.check_not_over()?;
    Ok(bytes)
}

/// [`read_regular`] for a file that must be UTF-8 text.
pub fn read_regular_text(path: &Path, limit: u64) -> Result<String, FileError> {
    let bytes = read_regular(path, limit)?;
    String::from_utf8(bytes).map_err(|e| {
        FileError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (first bad byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        ))
    })
}

/// A size for people: `256 MiB`, `16 KiB`, `100 bytes`.
pub fn show_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = KIB * 1024;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes % KIB == 0 {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "0123456789").unwrap();
        assert_eq!(read_regular(&path, 10).unwrap(), b"0123456789");
        let err = read_regular(&path, 9).unwrap_err();
        assert!(matches!(err, FileError::TooLarge { limit: 9 }), "{err}");
        assert_eq!(err.to_string(), "it is larger than the limit of 9 bytes");
    }

    #[test]
    fn devices_directories_and_fifos_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        for (path, what) in [
            (Path::new("/dev/zero"), "a character device"),
            (dir.path(), "a directory"),
            (fifo.as_path(), "a FIFO (named pipe)"),
        ] {
            let err = read_regular(path, MAX_LIST_BYTES).unwrap_err();
            assert_eq!(err.to_string(), format!("it is {what}, not a regular file"));
        }
    }

    #[test]
    fn symlink_loops_and_missing_files_keep_their_cause() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::os::unix::fs::symlink(dir.path().join("b"), &a).unwrap();
        std::os::unix::fs::symlink(&a, dir.path().join("b")).unwrap();
        let err = read_regular(&a, 100).unwrap_err();
        assert_ne!(err.io_kind(), Some(std::io::ErrorKind::NotFound), "{err}");
        assert!(err.to_string().contains("symbolic links"), "{err}");
        let err = read_regular(&dir.path().join("none"), 100).unwrap_err();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(show_size(MAX_LIST_BYTES), "256 MiB");
        assert_eq!(show_size(16 * 1024), "16 KiB");
        assert_eq!(show_size(1000), "1000 bytes");
    }
}

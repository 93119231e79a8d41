//! Errors of the request log.

use super::record::RequestRecord;
use std::path::PathBuf;

/// Why the request log could not start or did not finish cleanly.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A setting is out of range.
    #[error("request log settings: {0}")]
    Settings(String),
    /// The log directory cannot be created or is not a directory.
    #[error("cannot create the request log directory {dir}: {source}")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The day's log file cannot be opened for appending.
    #[error("cannot open the request log file {path} for writing: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the request log writer: {0}")]
    Spawn(std::io::Error),
    /// The writer thread panicked; whatever it held was not written.
    #[error("the request log writer stopped abnormally")]
    WriterPanicked,
    /// At shutdown the disk still refused lines; they were written to stderr instead.
    #[error("{lines} request log lines could not be written to {dir} and went to stderr")]
    Unwritten {
        /// How many lines.
        lines: u64,
        /// The log directory.
        dir: PathBuf,
    },
}

/// The request log has shut down; the record comes back so the caller can still report it.
#[derive(Debug, thiserror::Error)]
#[error("the request log is closed")]
pub struct LogClosed(pub Box<RequestRecord>);

//! Where a rule came from: a list file and a line, so `lychgate explain` can answer "why?".

use std::fmt;
use std::path::PathBuf;

/// Index of a loaded list in the policy's list table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListId(pub u16);

/// A list and a 1-based line in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceRef {
    /// The list the rule was read from.
    pub list: ListId,
    /// 1-based line number; 0 when the rule did not come from a line (built-in or config).
    pub line: u32,
}

/// A problem with one line of a list file. Lists keep loading past bad lines: these are
/// reported as warnings (or errors under `--strict`), never a reason to lose the good lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListWarning {
    /// The file the line is in.
    pub path: PathBuf,
    /// 1-based line number (0 when the problem is with the whole file).
    pub line: u32,
    /// What is wrong, for a technician.
    pub message: String,
}

impl fmt::Display for ListWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        }
    }
}

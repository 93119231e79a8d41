//! The users file: proxy-authentication logins and their argon2id hashes.
//!
//! One login per line, four fields separated by `:`:
//!
//! ```text
//! # name:group:account_type:argon2id PHC hash
//! mrs.khan:staff::$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g...
//! oak-class:ks1:shared:$argon2id$v=19$m=19456,t=2,p=1$...
//! lion:year1:weak:$argon2id$v=19$m=19456,t=2,p=1$...
//! ```
//!
//! - `name`: 1–64 characters, no `:` (HTTP Basic cannot carry one in a user name), no spaces or
//!   control characters; case-sensitive; unique.
//! - `group`: a group defined in the config (`[groups.NAME]`).
//! - `account_type`: `individual`, `shared` or `weak`; empty means "the group's `account_type`",
//!   which is what `lychgate user add` writes unless told otherwise, so a group's setting can
//!   be changed in one place. Year 1's animal logins are `weak`, KS1 class and Reception
//!   whole-class logins `shared`, KS2 and staff `individual`.
//! - the hash: an argon2id v19 PHC string ([`super::hashing`]); plaintext is never accepted.
//!
//! `#` starts a comment line; blank lines are fine. Comments and blank lines are kept when the
//! CLI rewrites the file. The file is written atomically (temporary file, then rename) with
//! mode 0640: it holds hashes, so it must never be world-readable, and loading one that is
//! produces a warning.

use super::AccountType;
use super::hashing::{BadHash, check_phc};
use lychgate_classifier::files::{self, FileError};
use std::collections::HashMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Longest accepted login name.
pub const MAX_NAME_LEN: usize = 64;

/// One login.
#[derive(Clone)]
pub struct UserEntry {
    /// Login name.
    pub name: Arc<str>,
    /// Config group name.
    pub group: Arc<str>,
    /// Account type written on the line; `None` means the group's.
    pub account_type: Option<AccountType>,
    /// PHC hash; private so it only leaves through [`UserEntry::hash`], never through `Debug`.
    hash: String,
}

impl UserEntry {
    /// The stored argon2id PHC hash (for verification only; never log it).
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

impl fmt::Debug for UserEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserEntry")
            .field("name", &self.name)
            .field("group", &self.group)
            .field("account_type", &self.account_type)
            .field("hash", &"<redacted>")
            .finish()
    }
}

/// A line as read, so rewriting keeps comments in place.
#[derive(Debug, Clone)]
enum Line {
    /// A comment or blank line, verbatim.
    Text(String),
    /// A login.
    Entry(UserEntry),
}

/// A problem on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Every problem found in a users file, one per line of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineErrors(pub Vec<LineError>);

impl fmt::Display for LineErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// The largest users file read: 10,000 accounts are about 1.5 MiB.
pub const MAX_USERS_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reading or writing the users file failed.
#[derive(Debug, thiserror::Error)]
pub enum UsersFileError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: FileError,
    },
    /// The file could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Lines that do not parse or validate.
    #[error("{0}")]
    Invalid(LineErrors),
}

/// An edit that was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The name cannot be used.
    #[error("bad user name `{name}`: {why}")]
    BadName {
        /// The name (safe to show: it is not a secret).
        name: String,
        /// Why.
        why: &'static str,
    },
    /// The name is taken.
    #[error("user `{0}` already exists")]
    Exists(String),
    /// No such user.
    #[error("no user `{0}`")]
    NoSuchUser(String),
    /// The group is not in the config.
    #[error("unknown group `{group}` (known: {known})")]
    UnknownGroup {
        /// The group asked for.
        group: String,
        /// The config's groups, comma-separated.
        known: String,
    },
    /// The account type cannot be used for a login.
    #[error("account type `none` is for network-only groups, not for a login")]
    NoneAccountType,
    /// The hash is unusable.
    #[error("bad hash: {0}")]
    BadHash(BadHash),
}

/// The users file in memory.
#[derive(Debug, Clone)]
pub struct UsersFile {
    /// Where it is read from and written to.
    path: PathBuf,
    /// Every line, comments included, in order.
    lines: Vec<Line>,
    /// Name → index into `lines`.
    index: HashMap<Arc<str>, usize>,
    /// Problems worth a look that do not stop loading.
    warnings: Vec<String>,
}

/// Checks a login name; `Err` says why it cannot be used.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err("longer than 64 characters");
    }
    if name.contains(':') {
        return Err("contains `:`");
    }
    if name.starts_with('#') {
        return Err("starts with `#`");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains a space or control character");
    }
    Ok(())
}

/// Parses a login account type; empty means "the group's".
pub fn parse_account_type(s: &str) -> Result<Option<AccountType>, String> {
    match s {
        "" => Ok(None),
        "individual" => Ok(Some(AccountType::Individual)),
        "shared" => Ok(Some(AccountType::Shared)),
        "weak" => Ok(Some(AccountType::Weak)),
        "none" => Err("account type `none` is for network-only groups, not for a login".into()),
        other => Err(format!(
            "unknown account type `{other}` (individual, shared or weak; empty for the group's)"
        )),
    }
}

impl UsersFile {
    /// An empty file that will be written to `path`.
    pub fn empty(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            lines: vec![Line::Text(
                "# Lychgate users: name:group:account_type:argon2id-hash (manage with `lychgate user`)"
                    .to_string(),
            )],
            index: HashMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Reads and checks a users file; `known_groups` are the config's group names.
    pub fn load(path: &Path, known_groups: &[&str]) -> Result<Self, UsersFileError> {
        let text = files::read_regular_text(path, MAX_USERS_FILE_BYTES).map_err(|source| {
            UsersFileError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let mut file = Self::parse(path, &text, known_groups)?;
        if let Some(w) = world_readable_warning(path) {
            tracing::warn!(file = %path.display(), "{w}");
            file.warnings.push(w);
        }
        Ok(file)
    }

    /// Checks users-file text; every bad line is reported, with its number.
    pub fn parse(path: &Path, text: &str, known_groups: &[&str]) -> Result<Self, UsersFileError> {
        let mut file = Self {
            path: path.to_path_buf(),
            lines: Vec::new(),
            index: HashMap::new(),
            warnings: Vec::new(),
        };
        let mut errors = Vec::new();
        let mut first_line: HashMap<Arc<str>, usize> = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let number = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                file.lines.push(Line::Text(raw.to_string()));
                continue;
            }
            let mut error = |message: String| {
                errors.push(LineError {
                    file: path.to_path_buf(),
                    line: number,
                    message,
                })
            };
            let fields: Vec<&str> = trimmed.splitn(4, ':').collect();
            let [name, group, account, hash] = fields[..] else {
                error(format!(
                    "expected `name:group:account_type:hash` (4 fields), found {}",
                    fields.len()
                ));
                continue;
            };
            let mut ok = true;
            if let Err(why) = check_name(name) {
                error(format!("bad user name `{name}`: {why}"));
                ok = false;
            }
            if !known_groups.contains(&group) {
                error(format!(
                    "unknown group `{group}` (known: {})",
                    known_groups.join(", ")
                ));
                ok = false;
            }
            let account_type = match parse_account_type(account) {
                Ok(a) => a,
                Err(e) => {
                    error(e);
                    ok = false;
                    None
                }
            };
            if let Err(e) = check_phc(hash) {
                // The hash itself is never echoed: a half-pasted one may be close to the real one.
                error(format!("user `{name}`: bad hash: {e}"));
                ok = false;
            }
            if let Some(first) = first_line.get(name) {
                error(format!(
                    "user `{name}` is defined twice (first on line {first})"
                ));
                ok = false;
            }
            if !ok {
                continue;
            }
            let name: Arc<str> = Arc::from(name);
            first_line.insert(name.clone(), number);
            file.index.insert(name.clone(), file.lines.len());
            file.lines.push(Line::Entry(UserEntry {
                name,
                group: Arc::from(group),
                account_type,
                hash: hash.to_string(),
            }));
        }
        if errors.is_empty() {
            Ok(file)
        } else {
            Err(UsersFileError::Invalid(LineErrors(errors)))
        }
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Things worth a technician's look (a world-readable file).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// A login by name.
    pub fn get(&self, name: &str) -> Option<&UserEntry> {
        match self.index.get(name).map(|&i| &self.lines[i]) {
            Some(Line::Entry(e)) => Some(e),
            _ => None,
        }
    }

    /// Every login, in file order.
    pub fn users(&self) -> impl Iterator<Item = &UserEntry> {
        self.lines.iter().filter_map(|l| match l {
            Line::Entry(e) => Some(e),
            Line::Text(_) => None,
        })
    }

    /// Number of logins.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are no logins.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Adds a login; `phc` must be an argon2id hash and `group` one of `known_groups`.
    pub fn add(
        &mut self,
        name: &str,
        group: &str,
        account_type: Option<AccountType>,
        phc: &str,
        known_groups: &[&str],
    ) -> Result<(), EditError> {
        check_name(name).map_err(|why| EditError::BadName {
            name: name.to_string(),
            why,
        })?;
        if self.index.contains_key(name) {
            return Err(EditError::Exists(name.to_string()));
        }
        if !known_groups.contains(&group) {
            return Err(EditError::UnknownGroup {
                group: group.to_string(),
                known: known_groups.join(", "),
            });
        }
        if account_type == Some(AccountType::None) {
            return Err(EditError::NoneAccountType);
        }
        check_phc(phc).map_err(EditError::BadHash)?;
        let name: Arc<str> = Arc::from(name);
        self.index.insert(name.clone(), self.lines.len());
        self.lines.push(Line::Entry(UserEntry {
            name,
            group: Arc::from(group),
            account_type,
            hash: phc.to_string(),
        }));
        Ok(())
    }

    /// Replaces a login's hash (a new password).
    pub fn set_hash(&mut self, name: &str, phc: &str) -> Result<(), EditError> {
        check_phc(phc).map_err(EditError::BadHash)?;
        let i = *self
            .index
            .get(name)
            .ok_or_else(|| EditError::NoSuchUser(name.to_string()))?;
        match &mut self.lines[i] {
            Line::Entry(e) => {
                e.hash = phc.to_string();
                Ok(())
            }
            Line::Text(_) => Err(EditError::NoSuchUser(name.to_string())),
        }
    }

    /// Removes a login.
    pub fn remove(&mut self, name: &str) -> Result<(), EditError> {
        let i = self
            .index
            .remove(name)
            .ok_or_else(|| EditError::NoSuchUser(name.to_string()))?;
        self.lines.remove(i);
        for v in self.index.values_mut() {
            if *v > i {
                *v -= 1;
            }
        }
        Ok(())
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::Text(t) => out.push_str(t),
                Line::Entry(e) => {
                    out.push_str(&e.name);
                    out.push(':');
                    out.push_str(&e.group);
                    out.push(':');
                    out.push_str(e.account_type.map_or("", AccountType::name));
                    out.push(':');
                    out.push_str(&e.hash);
                }
            }
            out.push('\n');
        }
        out
    }

    /// Writes the file atomically with mode 0640 (a temporary file in the same folder, synced,
    /// then renamed over the old one, so the daemon never reads half a file). The old file's
    /// group is kept when the caller may set it, so the daemon's group can still read it.
    /// Returns warnings (e.g. the group could not be kept).
    pub fn save(&self) -> Result<Vec<String>, UsersFileError> {
        let write_err = |source| UsersFileError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "users".to_string());
        let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
        let mut warnings = Vec::new();
        let result = (|| -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o640);
            }
            let mut f = options.open(&tmp)?;
            // The umask may have taken bits away; 0640 exactly lets the daemon's group read.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                f.set_permissions(std::fs::Permissions::from_mode(0o640))?;
                if let Ok(old) = std::fs::metadata(&self.path) {
                    use std::os::unix::fs::MetadataExt as _;
                    if let Err(e) = std::os::unix::fs::fchown(&f, None, Some(old.gid())) {
                        warnings.push(format!(
                            "could not keep the file's group (gid {}): {e}",
                            old.gid()
                        ));
                    }
                }
            }
            f.write_all(self.render().as_bytes())?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, &self.path)?;
            // The rename is only durable once the folder is synced; failure here is harmless.
            if let Ok(d) = std::fs::File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(write_err(e));
        }
        Ok(warnings)
    }
}

/// A warning when the file's mode lets any local user read it.
fn world_readable_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o004 != 0 {
            return Some(format!(
                "{} is world-readable (mode {:o}); it holds password hashes: chmod 640 it",
                path.display(),
                mode & 0o777
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::hashing::{HashParams, hash_secret_with};

    const GROUPS: [&str; 4] = ["staff", "ks1", "year1", "guest"];

    fn hash(pw: &str) -> String {
        hash_secret_with(pw.as_bytes(), &HashParams::for_tests()).unwrap()
    }

    #[test]
    fn a_users_file_must_be_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        for path in [Path::new("/dev/zero"), dir.path()] {
            let err = UsersFile::load(path, &["staff"]).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("{}: cannot read: it is a ", path.display()))
                    && msg.ends_with(", not a regular file"),
                "{msg}"
            );
        }
    }

    #[test]
    fn parses_entries_comments_and_default_account_type() {
        let text = format!(
            "# comment\n\nmrs.khan:staff::{}\noak-class:ks1:shared:{}\nlion:year1:weak:{}\n",
            hash("a"),
            hash("b"),
            hash("c")
        );
        let f = UsersFile::parse(Path::new("users"), &text, &GROUPS).unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f.get("mrs.khan").unwrap().account_type, None);
        assert_eq!(&*f.get("mrs.khan").unwrap().group, "staff");
        assert_eq!(
            f.get("oak-class").unwrap().account_type,
            Some(AccountType::Shared)
        );
        assert_eq!(f.get("lion").unwrap().account_type, Some(AccountType::Weak));
        assert!(f.get("tiger").is_none());
        assert_eq!(f.render(), text);
    }

    #[test]
    fn reports_every_bad_line_with_its_number() {
        let good = hash("a");
        let text = format!(
            "ok:staff::{good}\n\
             nofields\n\
             x:nosuchgroup::{good}\n\
             y:staff:superuser:{good}\n\
             z:staff::plaintext-password\n\
             ok:ks1::{good}\n\
             w:guest:none:{good}\n"
        );
        let Err(UsersFileError::Invalid(errors)) =
            UsersFile::parse(Path::new("/etc/lychgate/users"), &text, &GROUPS)
        else {
            panic!("expected errors");
        };
        let shown = errors.to_string();
        let lines: Vec<usize> = errors.0.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7], "{shown}");
        assert!(
            shown.contains("/etc/lychgate/users:3: unknown group `nosuchgroup`"),
            "{shown}"
        );
        assert!(
            shown.contains(":4: unknown account type `superuser`"),
            "{shown}"
        );
        assert!(shown.contains(":5: user `z`: bad hash"), "{shown}");
        assert!(
            shown.contains(":6: user `ok` is defined twice (first on line 1)"),
            "{shown}"
        );
        assert!(shown.contains(":7: account type `none`"), "{shown}");
        assert!(!shown.contains("plaintext-password"), "{shown}");
    }

    #[test]
    fn edits_validate_and_debug_hides_hashes() {
        let mut f = UsersFile::empty(Path::new("users"));
        let h = hash("pw");
        f.add("amy", "staff", None, &h, &GROUPS).unwrap();
        assert_eq!(
            f.add("amy", "staff", None, &h, &GROUPS),
            Err(EditError::Exists("amy".into()))
        );
        assert!(matches!(
            f.add("a:b", "staff", None, &h, &GROUPS),
            Err(EditError::BadName { .. })
        ));
        assert!(matches!(
            f.add("bob", "nope", None, &h, &GROUPS),
            Err(EditError::UnknownGroup { .. })
        ));
        assert!(matches!(
            f.add("bob", "staff", None, "secret", &GROUPS),
            Err(EditError::BadHash(_))
        ));
        f.add("bob", "ks1", Some(AccountType::Shared), &h, &GROUPS)
            .unwrap();
        f.remove("amy").unwrap();
        assert_eq!(f.remove("amy"), Err(EditError::NoSuchUser("amy".into())));
        assert_eq!(f.get("bob").unwrap().hash(), h);
        let h2 = hash("new");
        f.set_hash("bob", &h2).unwrap();
        assert_eq!(f.get("bob").unwrap().hash(), h2);
        let debug = format!("{f:?}");
        assert!(!debug.contains("$argon2id$"), "{debug}");
    }

    #[cfg(unix)]
    #[test]
    fn save_round_trips_with_mode_0640_and_warns_when_world_readable() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, "# kept comment\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut f = UsersFile::load(&path, &GROUPS).unwrap();
        assert_eq!(f.warnings().len(), 1, "{:?}", f.warnings());
        f.add(
            "lion",
            "year1",
            Some(AccountType::Weak),
            &hash("roar"),
            &GROUPS,
        )
        .unwrap();
        f.save().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let again = UsersFile::load(&path, &GROUPS).unwrap();
        assert!(again.warnings().is_empty());
        assert_eq!(again.render(), f.render());
        assert!(
            again
                .render()
                .starts_with("# kept comment\nlion:year1:weak:$argon2id$")
        );
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}

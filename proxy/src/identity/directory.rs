//! Where logins come from. Today that is the users file; LDAP / Active Directory back ends
//! will implement [`DirectoryBackend`] later (bind as the user to verify, read group
//! membership to pick the Lychgate group) and plug into [`super::auth::ProxyAuth`] and the
//! identity map without either changing.

use super::AccountType;
use super::hashing::{unmatchable_hash, verify_secret};
use super::users_file::UsersFile;
use std::sync::{Arc, OnceLock};

/// A login as a directory knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// Login name.
    pub name: Arc<str>,
    /// Lychgate group name (a directory back end maps its own groups onto these).
    pub group: Arc<str>,
    /// Account type if the directory says; `None` means the group's.
    pub account_type: Option<AccountType>,
}

/// A directory could not answer (as opposed to answering "no").
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The directory is unreachable or failed.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
}

/// A source of logins. Methods may block (argon2, network): callers run [`verify`] on the
/// blocking pool.
///
/// [`verify`]: DirectoryBackend::verify
pub trait DirectoryBackend: Send + Sync + std::fmt::Debug {
    /// The login called `name`, if it exists.
    fn lookup(&self, name: &str) -> Result<Option<DirectoryUser>, DirectoryError>;

    /// The login if `password` is right; `Ok(None)` for a wrong password *or* an unknown name,
    /// and implementations must take about as long for both so timing does not reveal which
    /// names exist.
    fn verify(&self, name: &str, password: &[u8]) -> Result<Option<DirectoryUser>, DirectoryError>;
}

/// The users file as a directory.
#[derive(Debug)]
pub struct UsersFileDirectory {
    /// The loaded file.
    file: UsersFile,
    /// A hash that matches nothing, with the same cost as the file's first entry, verified for
    /// unknown names so they cost what known ones do. Made on first use (no argon2 run).
    dummy: OnceLock<String>,
}

impl UsersFileDirectory {
    /// Wraps a loaded users file.
    pub fn new(file: UsersFile) -> Self {
        Self {
            file,
            dummy: OnceLock::new(),
        }
    }

    /// The users file.
    pub fn file(&self) -> &UsersFile {
        &self.file
    }

    fn dummy_hash(&self) -> &str {
        self.dummy.get_or_init(|| {
            let params = self
                .file
                .users()
                .next()
                .and_then(|u| super::hashing::check_phc(u.hash()).ok())
                .unwrap_or_default();
            unmatchable_hash(&params)
        })
    }

    fn user(&self, name: &str) -> Option<DirectoryUser> {
        self.file.get(name).map(|e| DirectoryUser {
            name: e.name.clone(),
            group: e.group.clone(),
            account_type: e.account_type,
        })
    }
}

impl DirectoryBackend for UsersFileDirectory {
    fn lookup(&self, name: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        Ok(self.user(name))
    }

    fn verify(&self, name: &str, password: &[u8]) -> Result<Option<DirectoryUser>, DirectoryError> {
        match self.file.get(name) {
            Some(e) => Ok(verify_secret(password, e.hash())
                .then(|| self.user(name))
                .flatten()),
            None => {
                let _ = verify_secret(password, self.dummy_hash());
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::hashing::{HashParams, hash_secret_with};
    use std::path::Path;

    #[test]
    fn users_file_verifies_and_spends_time_on_unknown_names() {
        let mut f = UsersFile::empty(Path::new("users"));
        let h = hash_secret_with(b"roar", &HashParams::for_tests()).unwrap();
        f.add("lion", "year1", Some(AccountType::Weak), &h, &["year1"])
            .unwrap();
        let d = UsersFileDirectory::new(f);
        let lion = d.verify("lion", b"roar").unwrap().unwrap();
        assert_eq!(&*lion.group, "year1");
        assert_eq!(lion.account_type, Some(AccountType::Weak));
        assert_eq!(d.verify("lion", b"meow").unwrap(), None);
        assert_eq!(d.verify("tiger", b"roar").unwrap(), None);
        // The unknown name was checked against a dummy of the same cost as the real entries.
        let dummy = d.dummy.get().expect("dummy hash made for the unknown name");
        assert!(dummy.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{dummy}");
        assert_eq!(d.lookup("lion").unwrap(), Some(lion));
        assert_eq!(d.lookup("tiger").unwrap(), None);
    }
}

//! `lychgate user`: manage the proxy users file (`add`, `passwd`, `remove`, `list`) and make
//! identity-map tokens (`token`). Passwords come from a prompt (asked twice) or, when standard
//! input is not a terminal, from its first line — never from the command line, where `ps` and
//! shell history would see them. Group names are checked against the config.

use super::{EXIT_CONFIG, load_config};
use crate::config::Config;
use crate::identity::AccountType;
use crate::identity::hashing::hash_secret;
use crate::identity::tokens::{TokenScope, generate_token};
use crate::identity::users_file::{UsersFile, UsersFileError, parse_account_type};
use anyhow::{Context as _, bail};
use std::io::{BufRead as _, IsTerminal as _};
use std::path::Path;

/// Exit code for a users file with bad lines (sysexits EX_DATAERR).
const EXIT_USERS_DATA: u8 = 65;

/// Shortest password accepted without a warning for an individual login.
const MIN_INDIVIDUAL_PASSWORD: usize = 8;

/// What `lychgate user` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum UserAction {
    /// Add a login.
    Add {
        /// Login name.
        name: String,
        /// Config group.
        group: String,
        /// `individual` / `shared` / `weak`; `None` for the group's.
        account_type: Option<String>,
    },
    /// Set a new password.
    Passwd {
        /// Login name.
        name: String,
    },
    /// Remove a login.
    Remove {
        /// Login name.
        name: String,
    },
    /// List logins.
    List,
}

/// `add`, `passwd`, `remove` and `list`: edit or show the users file.
pub(super) fn user(action: UserAction, file: &Path, config: Option<&Path>) -> anyhow::Result<u8> {
    let config = match load_config(config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let names: Vec<&str> = config
        .policy
        .groups()
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    let creating = matches!(action, UserAction::Add { .. }) && !file.exists();
    let mut users = if creating {
        UsersFile::empty(file)
    } else {
        match UsersFile::load(file, &names) {
            Ok(u) => u,
            Err(UsersFileError::Invalid(errors)) => {
                eprintln!("{errors}");
                return Ok(EXIT_USERS_DATA);
            }
            Err(e) => return Err(e.into()),
        }
    };
    for w in users.warnings() {
        eprintln!("warning: {w}");
    }
    match action {
        UserAction::List => {
            list(&config, &users);
            return Ok(0);
        }
        UserAction::Add {
            name,
            group,
            account_type,
        } => {
            let account_type = parse_account_type(account_type.as_deref().unwrap_or(""))
                .map_err(anyhow::Error::msg)?;
            if users.get(&name).is_some() {
                bail!("user `{name}` already exists (use `lychgate user passwd {name}`)");
            }
            // Check everything that can be checked before asking for a password.
            users
                .add(&name, &group, account_type, &placeholder_hash(), &names)
                .with_context(|| format!("cannot add `{name}`"))?;
            let effective = account_type.unwrap_or_else(|| group_account_type(&config, &group));
            let hash = new_password_hash(&name, effective)?;
            users.set_hash(&name, &hash)?;
            println!(
                "added {name} (group {group}, {} login) to {}",
                effective.name(),
                file.display()
            );
        }
        UserAction::Passwd { name } => {
            let Some(entry) = users.get(&name) else {
                bail!("no user `{name}` in {}", file.display());
            };
            let effective = entry
                .account_type
                .unwrap_or_else(|| group_account_type(&config, &entry.group));
            let hash = new_password_hash(&name, effective)?;
            users.set_hash(&name, &hash)?;
            println!("password changed for {name}");
        }
        UserAction::Remove { name } => {
            users
                .remove(&name)
                .with_context(|| format!("in {}", file.display()))?;
            println!("removed {name}");
        }
    }
    for w in users.save()? {
        eprintln!("warning: {w}");
    }
    println!("restart Lychgate (systemctl restart lychgate) for the change to take effect");
    debug_assert_ne!(EXIT_CONFIG, EXIT_USERS_DATA);
    Ok(0)
}

/// A valid hash that stands in while the name and group are checked; it is replaced before
/// anything is written.
fn placeholder_hash() -> String {
    "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        .to_string()
}

fn group_account_type(config: &Config, group: &str) -> AccountType {
    config
        .policy
        .group_id(group)
        .and_then(|id| config.groups.get(id.0 as usize))
        .map_or(AccountType::Individual, |m| m.account_type)
}

fn list(config: &Config, users: &UsersFile) {
    if users.is_empty() {
        println!("no users in {}", users.path().display());
        return;
    }
    let width = users
        .users()
        .map(|u| u.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let gwidth = users
        .users()
        .map(|u| u.group.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!("{:<width$}  {:<gwidth$}  account type", "name", "group");
    for u in users.users() {
        let account = match u.account_type {
            Some(t) => t.name().to_string(),
            None => format!("{} (group's)", group_account_type(config, &u.group).name()),
        };
        println!("{:<width$}  {:<gwidth$}  {account}", u.name, u.group);
    }
}

/// Reads a new password and hashes it with the production parameters.
fn new_password_hash(name: &str, account_type: AccountType) -> anyhow::Result<String> {
    let mut password = read_password(name)?;
    if account_type == AccountType::Individual && password.chars().count() < MIN_INDIVIDUAL_PASSWORD
    {
        eprintln!(
            "warning: password shorter than {MIN_INDIVIDUAL_PASSWORD} characters for an individual login"
        );
    }
    let hash = hash_secret(&password);
    wipe(std::mem::take(&mut password));
    Ok(hash?)
}

/// Overwrites a plaintext before its memory goes back to the allocator.
fn wipe(secret: String) {
    let mut bytes = secret.into_bytes();
    bytes.fill(0);
    std::hint::black_box(&bytes);
}

fn read_password(name: &str) -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("new password for {name}: "))
            .context("cannot read the password")?;
        let second = rpassword::prompt_password("again: ").context("cannot read the password")?;
        let same = first == second;
        wipe(second);
        if !same {
            wipe(first);
            bail!("the passwords differ; nothing changed");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        // Trim in place: a trimmed copy would leave the original unwiped.
        let len = line.trim_end_matches(['\n', '\r']).len();
        line.truncate(len);
        line
    };
    if password.is_empty() {
        bail!("empty password; nothing changed");
    }
    Ok(password)
}

/// `token`: a new identity-map token and its config lines.
pub(super) fn token(scope: TokenScope, name: &str) -> anyhow::Result<u8> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        bail!("token name `{name}`: use letters, digits, `-`, `_` and `.`");
    }
    let (token, hash) = generate_token()?;
    println!("token for `{name}` (shown once; give it to the login script and keep it secret):");
    println!();
    println!("{token}");
    println!();
    println!("add to the config (only the hash is stored):");
    println!();
    println!("[[identity.token]]");
    println!("name = \"{name}\"");
    println!("scope = \"{}\"", scope.name());
    println!("hash = \"{hash}\"");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_is_a_valid_hash_that_matches_nothing_useful() {
        assert!(crate::identity::hashing::check_phc(&placeholder_hash()).is_ok());
        assert!(!crate::identity::hashing::verify_secret(
            b"",
            &placeholder_hash()
        ));
    }
}

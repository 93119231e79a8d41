//! The `lychgate` command line: arguments (clap) and one module per command. Commands return an
//! exit code; `main.rs` only calls [`main`].

mod check;
mod explain;
mod lists;
mod run;
mod user;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for an invalid configuration (sysexits EX_USAGE).
pub const EXIT_CONFIG: u8 = 64;
/// Exit code for bad list lines under `--strict` (sysexits EX_DATAERR).
pub const EXIT_LIST_DATA: u8 = 65;

/// Lychgate: a filtering and monitoring gateway for schools.
#[derive(Debug, Parser)]
#[command(name = "lychgate", version, about, long_about = None)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (loads the policy and serves clients).
    Run {
        /// Config file (default: ./config/lychgate.toml, then /etc/lychgate/lychgate.toml, then
        /// the built-in default).
        config: Option<PathBuf>,
    },
    /// Load the config and every list, print a summary or every problem; exit 0 or 64.
    CheckConfig {
        /// Config file (same search as `run`).
        config: Option<PathBuf>,
        /// Treat bad list lines as errors (exit 65) instead of warnings.
        #[arg(long)]
        strict: bool,
    },
    /// Explain the decision for a URL, host or search for a group.
    Explain {
        /// A URL (`https://www.google.com/search?q=...`), `host/path` or a bare host.
        url: String,
        /// The group to decide for, e.g. `ks2`.
        #[arg(long, short)]
        group: String,
        /// Local time in the config's time zone, e.g. `2026-11-30T12:30` (default: now).
        #[arg(long)]
        at: Option<String>,
        /// Print the whole decision as JSON.
        #[arg(long)]
        json: bool,
        /// Config file (same search as `run`).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Inspect the loaded lists.
    Lists {
        /// Which question.
        #[command(subcommand)]
        command: ListsCommand,
        /// Config file (same search as `run`).
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
    },
    /// Manage proxy logins (the users file) and identity-map tokens.
    User {
        /// Which change.
        #[command(subcommand)]
        command: UserCommand,
        /// The users file (until the config names it: `config/users`).
        #[arg(long, short, global = true, default_value = "config/users")]
        file: PathBuf,
        /// Config file, for group names (same search as `run`).
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
    },
}

/// `lychgate user ...`. Passwords are read from a prompt, or from standard input's first line
/// when it is not a terminal; never from arguments.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a login.
    Add {
        /// Login name.
        name: String,
        /// Its group, e.g. `ks1`.
        #[arg(long, short)]
        group: String,
        /// individual, shared or weak (default: the group's `account_type`).
        #[arg(long)]
        account_type: Option<String>,
    },
    /// Set a login's password.
    Passwd {
        /// Login name.
        name: String,
    },
    /// Remove a login.
    Remove {
        /// Login name.
        name: String,
    },
    /// List logins (name, group, account type; never hashes).
    List,
    /// Make an identity-map token: printed once, with the config lines holding its hash.
    Token {
        /// classroom (own address, no staff users) or login-server (any address and user).
        #[arg(long)]
        scope: crate::identity::TokenScope,
        /// Name for logs, e.g. `classroom-pcs` or `dc01`.
        #[arg(long)]
        name: String,
    },
}

/// `lychgate lists ...`.
#[derive(Debug, Subcommand)]
pub enum ListsCommand {
    /// Entries per list and category, and the index's memory.
    Stats,
    /// Which lists and categories contain a host.
    Lookup {
        /// Host or URL.
        host: String,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Run { config } => run::run(config.as_deref()),
        Command::CheckConfig { config, strict } => check::check(config.as_deref(), strict),
        Command::Explain {
            url,
            group,
            at,
            json,
            config,
        } => explain::explain(config.as_deref(), &url, &group, at.as_deref(), json),
        Command::Lists {
            command: ListsCommand::Stats,
            config,
        } => lists::stats(config.as_deref()),
        Command::Lists {
            command: ListsCommand::Lookup { host },
            config,
        } => lists::lookup(config.as_deref(), &host),
        Command::User {
            command,
            file,
            config,
        } => {
            let action = match command {
                UserCommand::Token { scope, name } => return finish(user::token(scope, &name)),
                UserCommand::Add {
                    name,
                    group,
                    account_type,
                } => user::UserAction::Add {
                    name,
                    group,
                    account_type,
                },
                UserCommand::Passwd { name } => user::UserAction::Passwd { name },
                UserCommand::Remove { name } => user::UserAction::Remove { name },
                UserCommand::List => user::UserAction::List,
            };
            user::user(action, &file, config.as_deref())
        }
    };
    finish(result)
}

/// A command's result as the process exit code.
fn finish(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("lychgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the config for a command, printing every problem; `Err(code)` means exit with it.
fn load_config(path: Option<&std::path::Path>) -> Result<crate::config::Config, u8> {
    let origin = crate::config::locate(path);
    crate::config::load(&origin).map_err(|errors| {
        eprint!("{errors}");
        EXIT_CONFIG
    })
}

//! What `lychgate run` loads before it serves, loaded without serving, so that `check-config`
//! passes exactly the configs `run` accepts: the users file and identity settings (tokens,
//! devices), the DNS upstreams (a DNS-over-TLS CA file), the review store in `state_dir` and
//! the request log's folder. The same loaders as [`crate::daemon::run`] where they have no side
//! effects; the two that would create folders and files (the request log and the review
//! store) are probed instead, so a check run as another user (root) leaves nothing behind that
//! the daemon could not then open.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::daemon::{DaemonError, dns_upstreams};
use crate::gate::snapshot::identities_for;
use crate::identity::IdentityMetrics;
use crate::log::LogError;
use crate::review::{REVIEW_FILE_NAME, ReviewStoreError};
use std::path::Path;
use std::sync::Arc;

/// Every problem `run` would stop at, after the config itself loaded; empty when none.
pub fn preflight(config: &Config, clock: SharedClock) -> Vec<DaemonError> {
    let mut problems = Vec::new();
    if let Err(e) = identities_for(config, &clock, &Arc::new(IdentityMetrics::new())) {
        problems.push(DaemonError::Identity(e.to_string()));
    }
    if let Err(e) = dns_upstreams(&config.dns, &config.listen.dns) {
        problems.push(e);
    }
    if let Err(e) = probe_review_store(&config.state_dir) {
        problems.push(DaemonError::Reviews(e.to_string()));
    }
    if let Err(e) = probe_log(config, &clock) {
        problems.push(DaemonError::Log(e));
    }
    problems
}

/// An existing folder must be a folder, and an existing file in it must open for appending.
fn probe_append(dir: &Path, file: &Path) -> Result<(), (bool, std::io::Error)> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            return Err((
                true,
                std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"),
            ));
        }
        Ok(_) => {}
        // `run` creates it; whether it may is the OS's answer at start.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err((true, e)),
    }
    match std::fs::OpenOptions::new().append(true).open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err((false, e)),
    }
}

fn probe_review_store(state_dir: &Path) -> Result<(), ReviewStoreError> {
    let path = state_dir.join(REVIEW_FILE_NAME);
    probe_append(state_dir, &path).map_err(|(at_dir, source)| {
        if at_dir {
            ReviewStoreError::CreateDir {
                path: state_dir.to_path_buf(),
                source,
            }
        } else {
            ReviewStoreError::Open { path, source }
        }
    })
}

fn probe_log(config: &Config, clock: &SharedClock) -> Result<(), LogError> {
    let settings = &config.log;
    settings.check()?;
    let today = settings.timezone.to_datetime(clock.wall()).date();
    let naming = crate::log::rotate::Naming {
        dir: settings.dir.clone(),
        stem: settings.file_stem.clone(),
    };
    let path = naming.plain(today);
    probe_append(&settings.dir, &path).map_err(|(at_dir, source)| {
        if at_dir {
            LogError::CreateDir {
                dir: settings.dir.clone(),
                source,
            }
        } else {
            LogError::Open { path, source }
        }
    })
}

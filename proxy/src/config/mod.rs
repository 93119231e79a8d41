//! Configuration: TOML read in two stages — [`raw`] (structure, with the line of every value)
//! then [`validate`] (meaning) — into a typed [`Config`] holding the compiled policy. Every
//! problem is reported at once with its file and line; the CLI exits 64 when there are any.

pub mod builtin;
pub mod dns;
pub mod error;
pub mod keys;
mod phrases;
pub mod raw;
pub mod reader;
pub(crate) mod schema;
pub mod sections;
pub mod serving;
pub mod validate;

pub use dns::{BlockedAnswer, DnsSettings, UpstreamSpec};
pub use error::{ConfigError, ConfigErrors};
pub use keys::{ConfigKeys, KeyChange};
pub use serving::{ProxySettings, StaticHosts};
pub use validate::{Config, GroupMeta, ListSummary, Listen, Network};

use lychgate_classifier::files;
use reader::Source;
use std::path::{Path, PathBuf};

/// The default configuration, compiled in (the same text as `config/lychgate.toml`).
pub const DEFAULT_CONFIG: &str = include_str!("../../../config/lychgate.toml");

/// Where a configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// A file.
    File(PathBuf),
    /// The built-in default.
    Embedded,
}

impl ConfigOrigin {
    /// The path shown in messages.
    pub fn display_path(&self) -> PathBuf {
        match self {
            ConfigOrigin::File(p) => p.clone(),
            ConfigOrigin::Embedded => validate::embedded_path(),
        }
    }
}

/// The largest config file read (the shipped one is a few KiB).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Places searched, in order, when no path is given.
pub const SEARCH_PATHS: [&str; 2] = ["config/lychgate.toml", "/etc/lychgate/lychgate.toml"];

/// Picks the config: the explicit path, else `./config/lychgate.toml`, else
/// `/etc/lychgate/lychgate.toml`, else the built-in default.
pub fn locate(explicit: Option<&Path>) -> ConfigOrigin {
    if let Some(p) = explicit {
        return ConfigOrigin::File(p.to_path_buf());
    }
    SEARCH_PATHS
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .map_or(ConfigOrigin::Embedded, |p| {
            ConfigOrigin::File(p.to_path_buf())
        })
}

/// Reads, checks and compiles a configuration.
pub fn load(origin: &ConfigOrigin) -> Result<Config, ConfigErrors> {
    match origin {
        ConfigOrigin::Embedded => load_str(DEFAULT_CONFIG, origin.clone(), Path::new(".")),
        ConfigOrigin::File(path) => {
            let text = files::read_regular_text(path, MAX_CONFIG_BYTES).map_err(|e| {
                ConfigErrors(vec![ConfigError {
                    file: path.clone(),
                    line: 0,
                    field: None,
                    message: format!("cannot read: {e}"),
                    hint: None,
                }])
            })?;
            let base = path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            let base = if base.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                base
            };
            load_str(&text, origin.clone(), &base)
        }
    }
}

/// Checks and compiles config text; relative list paths are resolved against `base_dir`.
pub fn load_str(text: &str, origin: ConfigOrigin, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let shown = origin.display_path();
    let mut src = Source::new(&shown, text);
    let raw = raw::read(&mut src, text);
    let config = validate::validate(&mut src, raw, origin, base_dir);
    match config {
        Some(c) if src.errors.is_empty() => Ok(c),
        _ => {
            let mut errors = src.errors;
            errors.sort();
            Err(errors)
        }
    }
}

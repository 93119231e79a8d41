//! `lychgate-classifier` is Lychgate's policy engine: everything needed to turn "this group asked
//! for this URL at this time" into a [`Decision`], with no I/O beyond loading list files and no
//! async. The daemon, the CLI (`lychgate explain`) and the benchmarks all use it unchanged.
//!
//! The pieces, one file per concern:
//! - [`host`]: host and URL normalisation (case, IDNA, trailing dots, IP literals in any notation,
//!   percent-decoding, dot segments) and mixed-script look-alike detection.
//! - [`category`]: the fixed category ids and category sets.
//! - [`domains`]: the compact domain index (hashed, millions of entries) and the full-entry
//!   domain table for small sensitive lists.
//! - [`urls`]: host + path-prefix URL lists.
//! - [`phrases`]: weighted phrase matching with evasion normalisation and safeguarding concerns.
//! - [`regexes`]: many regex rules matched in one pass.
//! - [`search`]: search engine query extraction.
//! - [`files`]: reading only regular files, never more than a stated size.
//! - [`lists`]: loaders for the list formats schools already have.
//! - [`time`]: local time and time windows.
//! - [`policy`]: groups × categories × time windows → [`Decision`].
#![forbid(unsafe_code)]

pub mod category;
pub mod concern;
pub mod domain_prefixes;
pub mod domains;
pub mod files;
pub mod host;
pub mod lists;
pub mod phrases;
pub mod policy;
pub mod regexes;
pub mod search;
pub mod source;
pub mod time;
pub mod urls;

pub use category::{CategoryId, CategorySet};
pub use policy::{Action, Decision, Policy};
pub use source::{ListId, SourceRef};

//! `lychgate`: the daemon and command-line tool of Lychgate, a filtering and monitoring gateway
//! for schools. The policy engine lives in `lychgate-classifier`; this crate reads the config,
//! serves clients (the HTTP proxy and DNS filter arrive in later work), and answers technicians'
//! questions (`check-config`, `explain`, `lists`).

pub mod admin;
pub mod cli;
mod client_key;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod dns;
pub mod gate;
pub mod http;
pub mod identity;
#[cfg(test)]
mod import_map;
pub mod log;
pub mod metrics;
pub mod net;
pub mod pages;
pub mod preflight;
pub mod review;
pub mod safe_search;
pub mod tls;

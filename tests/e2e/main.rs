//! Lychgate's end-to-end tests: one test binary that runs the real `lychgate` binary (and the
//! real config loader) against the fixtures in `tests/data/`. Loopback only, no root.

mod check_config;
mod daemon;
mod decisions;
mod dns;
mod dns_upstream;
mod examples;
mod explain;
mod lists_cli;
mod log_durability;
mod proxy_destination;
mod proxy_http;
mod proxy_identity;
mod proxy_limits;
mod proxy_log;
mod proxy_tunnel;
mod run;
mod support;
mod user_cli;

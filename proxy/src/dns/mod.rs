//! The filtering DNS server: the school's devices that never use a proxy (tablets, guest phones,
//! apps) are filtered here, with the same groups, identities and `decide()` as the web proxy.
//! `docs/dns.md` says what it answers; one file per concern:
//!
//! - `message`: questions read and answers written with `hickory-proto`, UDP size and truncation
//! - `wire`: the common question and Lychgate's own simple answers, read and written by hand
//! - `server`: one question in named phases, and the log line it leaves
//! - `answer_check`: an upstream answer checked for a group (aliases, rebinding, ECH, TTLs)
//! - `cache`: upstream answers (never per-group responses), TTL-bound and size-bound
//! - `upstream`: forwarding over UDP with TCP for truncated answers, failover, timeouts
//! - `upstream_tls`: DNS over TLS to an upstream, one pipelined connection
//! - `resolv_conf`: the system's resolvers as the default upstreams, without Lychgate itself
//! - `rate_limit`: questions per second per client
//! - `listen`: the `SO_REUSEPORT` UDP sockets, the TCP listener and their loops
//! - `metrics`: the `lychgate_dns_*` metrics

mod answer_check;
mod cache;
pub mod listen;
pub mod message;
pub mod metrics;
mod rate_limit;
pub mod resolv_conf;
pub mod server;
pub mod upstream;
mod upstream_tls;
mod wire;

pub use metrics::DnsMetrics;
pub use server::DnsServer;

//! TLS without terminating it: reading the server name from a client's ClientHello for the
//! transparent HTTPS listener, the alert it sends when it refuses a connection, and the
//! original destination of connections the gateway's nftables rules redirected to it.
//!
//! The transparent 443 listener's flow: accept → [`original_destination`] (where the client
//! was going) → [`read_client_hello`] within `[proxy] hello_timeout_seconds` → decide on
//! [`ClientHelloInfo::sni`] (or the destination address and the group's `no_sni` key when there is none) → either connect
//! upstream to the original destination and forward the buffered bytes, then splice; or write
//! [`alert_record`] and close.

pub mod alert;
pub mod client_hello;
pub mod metrics;
pub mod original_dst;
pub mod read_hello;
#[cfg(test)]
mod test_hello;

pub use alert::{AlertDescription, alert_record};
pub use client_hello::{
    Alpn, ClientHelloInfo, MAX_HELLO_BYTES, MalformedReason, Peek, TlsVersion, peek,
};
pub use metrics::TlsPeekMetrics;
pub use original_dst::original_destination;
pub use read_hello::{HelloError, read_client_hello};

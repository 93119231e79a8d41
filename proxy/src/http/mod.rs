//! The web proxy: explicit forward proxy (absolute-URI requests and CONNECT), transparent
//! port-80 and port-443 listeners, and Lychgate's own pages.

pub mod body;
pub mod destination;
pub mod framing_guard;
pub mod headers;
pub mod own_pages;
pub mod server;
pub mod service;
pub mod state;
pub mod tunnel;
pub mod upstream;

//! Lychgate daemon and CLI library.

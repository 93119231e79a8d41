//! Shared helpers for Lychgate end-to-end tests.

//! Deterministic data generators for Lychgate benchmarks.

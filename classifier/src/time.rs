//! Local time and time windows (placeholder, written next).

//! The SQLite backend: one instance on one file.

pub mod events;

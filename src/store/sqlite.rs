//! The SQLite backend: one instance on one file.

pub mod bulk;
pub mod codes;
pub mod events;
mod group_commit;
pub mod keys;
pub mod limits;
pub mod log;
pub mod projections;
mod turns;

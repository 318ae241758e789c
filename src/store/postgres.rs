//! The PostgreSQL backend: many instances on one database.

pub mod codes;
pub mod events;
pub mod keys;
pub mod limits;
pub mod log;
pub mod projections;

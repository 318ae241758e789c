//! The PostgreSQL backend: many instances on one database.

pub mod events;

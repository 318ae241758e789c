//! The event store: loading aggregates, appending their events, and the
//! per-event metadata, on either backend behind one seam (`database`, with
//! each backend's SQL in `postgres/` and `sqlite/`).
//!
//! We keep postgres-es's table layout but write through our own repository
//! (see `repository`), because we need three things postgres-es 0.5 does not
//! give: snapshots without its double-apply bug, uniqueness claims in the
//! same transaction as the events, and the log position of what was
//! committed (for read-your-writes).

mod append;
pub mod claims;
pub mod clients;
pub mod codes;
mod database;
mod dialect;
pub mod directory;
pub mod earnings;
pub mod hot;
pub mod import;
pub mod keys;
pub mod limits;
mod lookups;
mod metadata;
mod postgres;
mod read_models;
mod repository;
mod roles;
mod sqlite;
mod writers;

pub use claims::{Claim, ClaimKind, Hold};
pub(crate) use database::on_either;
pub use database::Database;
pub use dialect::Dialect;
pub use roles::Roles;
/// The PostgreSQL log tail on one connection, for the relay's leader
/// (which holds an advisory lock on that connection).
pub(crate) async fn pg_read_after(
    conn: &mut sqlx::PgConnection,
    after: projections::Cursor,
    limit: i64,
) -> Result<Vec<projections::StoredEvent>, sqlx::Error> {
    postgres::log::read_matching(conn, after, limit, None).await
}
pub use metadata::{Actor, Metadata};
pub use repository::{CommandError, Committed, Repository, Start, StoreError, StoredAggregate};

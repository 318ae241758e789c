//! The storage seam: one [`Database`] for everything the service keeps,
//! over either backend.
//!
//! It is an enum over the two pools rather than a trait object, for three
//! reasons. The event store's operations are generic over the aggregate
//! (`load::<User>`), which a `dyn` trait cannot carry. Every operation is
//! one `match` with an arm per backend, so a backend that lacks an
//! operation does not compile, and the reader sees in one place that there
//! are exactly two. And the backends' SQL stays in their own modules
//! (`postgres/`, `sqlite/`), where each can use its dialect fully: the
//! PostgreSQL log tail reads by transaction id under the snapshot horizon;
//! SQLite has one writer, so its position is the commit order.
//!
//! Use cases, handlers and projections take a `Database` (or a
//! `Repository` built on one) and never look inside it.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use projections::{Cursor, Failure, ProjectionStore, StoredEvent};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use uuid::Uuid;

use super::append::{Append, CommitError};
use super::{postgres, sqlite, StoreError, StoredAggregate};

/// Runs one sqlx expression on whichever pool `db` holds: for statements
/// both dialects read alike (`$N` parameters, standard SQL), so they are
/// written once. Each arm is type-checked against its own driver.
macro_rules! on_either {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Database::Postgres($pool) => $body,
            $crate::store::Database::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use on_either;

/// How long a SQLite writer waits for another connection's write lock
/// (an operator command beside the server) before it gives up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Loads aggregates and commits to them. On PostgreSQL it holds one
/// connection for a command's load and commit: sqlx pings a connection as
/// it goes back to the pool, so each acquire costs a round trip of its own.
/// SQLite's commits go through its group commit (`sqlite::group_commit`),
/// on the pool.
pub(super) enum Writer {
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    Sqlite(SqlitePool),
}

impl Writer {
    /// The current state of one aggregate and its last sequence number.
    pub(super) async fn load<A: StoredAggregate>(
        &mut self,
        id: &str,
    ) -> Result<(A, i64), StoreError> {
        match self {
            Self::Postgres(conn) => postgres::events::load(conn, id).await,
            Self::Sqlite(pool) => sqlite::events::load(pool, id).await,
        }
    }

    /// Appends events, snapshot and claims atomically.
    pub(super) async fn commit<A: StoredAggregate>(
        &mut self,
        append: Append<'_, A>,
    ) -> Result<Cursor, CommitError> {
        match self {
            Self::Postgres(conn) => postgres::events::commit(conn, append).await,
            Self::Sqlite(pool) => sqlite::events::commit(pool, append).await,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Database {
    /// Many instances on one database.
    Postgres(PgPool),
    /// One instance on one file.
    Sqlite(SqlitePool),
}

impl From<PgPool> for Database {
    fn from(pool: PgPool) -> Self {
        Self::Postgres(pool)
    }
}

impl Database {
    /// Opens (creating if missing) the SQLite file at `path`: WAL, so
    /// readers never wait for the writer; `synchronous = FULL`, so a
    /// committed command survives a power cut, not only a crash.
    pub async fn open_sqlite(
        path: &std::path::Path,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("IDENTITY_DATABASE_URL: cannot create {}", dir.display())
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await
            .with_context(|| format!("IDENTITY_DATABASE_URL: cannot open {}", path.display()))?;
        Ok(Self::Sqlite(pool))
    }

    /// Applies the backend's migrations (`migrations/postgres/` or
    /// `migrations/sqlite/`, embedded at build time). On PostgreSQL the
    /// migrator holds an advisory lock, so instances starting together are
    /// safe; a SQLite file has one server.
    ///
    /// On SQLite, first builds any index a rebuild set aside and did not
    /// get to build again (it died half-way, see `sqlite::bulk`), so that
    /// no migration finds an index missing.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let result = match self {
            Self::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await,
            Self::Sqlite(pool) => {
                sqlite::bulk::restore(pool)
                    .await
                    .context("cannot rebuild the indexes a rebuild set aside")?;
                sqlx::migrate!("./migrations/sqlite").run(pool).await
            }
        };
        match result {
            // A migration this build does not know was applied: the data
            // was written by a newer version, which an older one must not
            // serve (or migrate) from.
            Err(sqlx::migrate::MigrateError::VersionMissing(version)) => anyhow::bail!(
                "IDENTITY_DATABASE_URL: the database has schema version {version}, newer than this \
                 build knows; run a newer identity"
            ),
            other => other.context("migrations failed"),
        }
    }

    /// `postgres` or `sqlite`, for readiness and logs.
    /// Connections open and, of them, idle.
    pub fn pool_use(&self) -> (u32, usize) {
        match self {
            Self::Postgres(pool) => (pool.size(), pool.num_idle()),
            Self::Sqlite(pool) => (pool.size(), pool.num_idle()),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// The PostgreSQL pool, for the one part that needs PostgreSQL itself:
    /// the NATS relay (leader election by advisory lock, see `relay`).
    pub fn postgres(&self) -> Option<&PgPool> {
        match self {
            Self::Postgres(pool) => Some(pool),
            Self::Sqlite(_) => None,
        }
    }

    /// The current state of one aggregate and its last sequence number.
    pub(super) async fn load<A: StoredAggregate>(&self, id: &str) -> Result<(A, i64), StoreError> {
        self.writer().await?.load(id).await
    }

    /// What loads an aggregate and commits a command's events to it.
    pub(super) async fn writer(&self) -> Result<Writer, StoreError> {
        Ok(match self {
            Self::Postgres(pool) => Writer::Postgres(pool.acquire().await?),
            Self::Sqlite(pool) => Writer::Sqlite(pool.clone()),
        })
    }

    /// Up to `limit` events after `after` in log order, never skipping one
    /// that commits later; only types starting with `type_prefix` if given.
    pub async fn read_after(
        &self,
        after: Cursor,
        limit: i64,
        type_prefix: Option<&str>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            Self::Postgres(pool) => {
                postgres::log::read_matching(pool, after, limit, type_prefix).await
            }
            Self::Sqlite(pool) => sqlite::log::read_matching(pool, after, limit, type_prefix).await,
        }
        .map_err(Into::into)
    }

    /// The cursor of the event at `position` (0: the start of the log);
    /// `None` when no event has that position.
    pub async fn cursor_at(&self, position: i64) -> Result<Option<Cursor>, StoreError> {
        match self {
            Self::Postgres(pool) => postgres::log::cursor_at(pool, position).await,
            Self::Sqlite(pool) => sqlite::log::cursor_at(pool, position).await,
        }
        .map_err(Into::into)
    }

    /// Events of `types` recorded since `since`, up to and including
    /// `upto`, in log order.
    pub async fn events_of_types(
        &self,
        types: &[&str],
        since: DateTime<Utc>,
        upto: Cursor,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            Self::Postgres(pool) => postgres::log::events_of_types(pool, types, since, upto).await,
            Self::Sqlite(pool) => sqlite::log::events_of_types(pool, types, since, upto).await,
        }
        .map_err(Into::into)
    }

    /// Up to `limit` events of one user's streams (the account and its
    /// sessions) after position `after`, recorded at or before `as_of` if
    /// given, in position order.
    pub async fn user_events(
        &self,
        user_id: Uuid,
        after: i64,
        as_of: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let id = user_id.to_string();
        match self {
            Self::Postgres(pool) => {
                postgres::log::user_events(pool, &id, after, as_of, limit).await
            }
            Self::Sqlite(pool) => sqlite::log::user_events(pool, &id, after, as_of, limit).await,
        }
        .map_err(Into::into)
    }

    /// Whether the account `user_id` has a stream.
    pub async fn user_exists(&self, user_id: Uuid) -> Result<bool, StoreError> {
        let found: Option<i32> = on_either!(self, pool => {
            sqlx::query_scalar(
                "SELECT 1 FROM events WHERE aggregate_type = 'user' AND aggregate_id = $1 LIMIT 1",
            )
            .bind(user_id.to_string())
            .fetch_optional(pool)
            .await
        })?;
        Ok(found.is_some())
    }

    /// The newest event a reader can see now (the start of an empty log).
    pub async fn head(&self) -> Result<Cursor, StoreError> {
        match self {
            Self::Postgres(pool) => postgres::log::head(pool).await,
            Self::Sqlite(pool) => sqlite::log::head(pool).await,
        }
        .map_err(Into::into)
    }

    /// Checkpoints, failure records and batch transactions for a
    /// `Projector` on this backend.
    pub fn projection_store(&self) -> Arc<dyn ProjectionStore> {
        match self {
            Self::Postgres(pool) => Arc::new(postgres::projections::PgProjections(pool.clone())),
            Self::Sqlite(pool) => Arc::new(sqlite::projections::SqliteProjections(pool.clone())),
        }
    }

    /// Stalled projections, for readiness and the CLI status.
    pub async fn stalled(&self) -> Result<Vec<Failure>, StoreError> {
        Ok(self.projection_store().failures().await?)
    }
}

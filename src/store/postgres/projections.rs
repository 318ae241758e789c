//! Projection checkpoints, failure records and batch transactions on
//! PostgreSQL. Several instances share the checkpoints: a batch locks its
//! projections' rows `FOR UPDATE`, so they take turns per projection.

use std::collections::HashMap;

use async_trait::async_trait;
use projections::FAILURE_COLUMNS;
use projections::{Change, Cursor, Failure, ProjectionStore, ProjectionTx, StoredEvent};
use sqlx::{PgPool, Postgres, Transaction};

use super::log;
use crate::store::read_models::{self, Writer};

pub struct PgProjections(pub PgPool);

#[async_trait]
impl ProjectionStore for PgProjections {
    async fn register(&self, name: &str) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(name)
            .execute(&self.0)
            .await
            .map(|_| ())
    }

    async fn checkpoints(&self, names: &[&str]) -> Result<HashMap<String, Cursor>, sqlx::Error> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT name, tx_id::text::bigint, position FROM projection_checkpoints
              WHERE name = ANY($1)",
        )
        .bind(names)
        .fetch_all(&self.0)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name, tx_id, position)| (name, Cursor { tx_id, position }))
            .collect())
    }

    async fn read_after(&self, after: Cursor, limit: i64) -> Result<Vec<StoredEvent>, sqlx::Error> {
        log::read_matching(&self.0, after, limit, None).await
    }

    /// A batch commits without waiting for its WAL to reach the disk
    /// (`synchronous_commit = off`, for this transaction only): a read
    /// model is derived from the log, and its rows commit with their
    /// checkpoint, so a crash that loses the last batches loses both, and
    /// the projection applies those events again. The events themselves
    /// are committed durably by the write path.
    async fn begin(&self) -> Result<Box<dyn ProjectionTx>, sqlx::Error> {
        Ok(Box::new(PgBatch(
            self.0
                .begin_with("BEGIN; SET LOCAL synchronous_commit = off")
                .await?,
        )))
    }

    async fn failure(&self, name: &str) -> Result<Option<Failure>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {FAILURE_COLUMNS} FROM projection_failures WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.0)
        .await
    }

    async fn failures(&self) -> Result<Vec<Failure>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {FAILURE_COLUMNS} FROM projection_failures ORDER BY name"
        ))
        .fetch_all(&self.0)
        .await
    }
}

struct PgBatch(Transaction<'static, Postgres>);

/// The checkpoint update, `$1` the names, `$2`/`$3` the cursor.
macro_rules! set_checkpoints {
    () => {
        "UPDATE projection_checkpoints
            SET tx_id = $2::text::xid8, position = $3, updated_at = now()
          WHERE name = ANY($1)"
    };
}
const SET_CHECKPOINTS: &str = set_checkpoints!();
/// One round trip: the delete of a table with at most one row per
/// projection rides along with the checkpoint update.
const ADVANCE: &str = concat!(
    "WITH cleared AS (DELETE FROM projection_failures WHERE name = ANY($1)) ",
    set_checkpoints!()
);
/// A live batch's claim in one round trip: lock the rows in name order
/// (as `lock_checkpoints`, so two claims never wait for each other's),
/// move those still at the batch's start (`$2`/`$3`) to `$4`/`$5`, clear
/// their failures. Under a concurrent claim the lock waits for it to
/// commit, and the update then sees the moved row and leaves it alone.
const CLAIM: &str = "
    WITH moved AS (
        UPDATE projection_checkpoints
           SET tx_id = $4::text::xid8, position = $5, updated_at = now()
         WHERE name IN (SELECT name FROM projection_checkpoints
                         WHERE name = ANY($1) ORDER BY name FOR UPDATE)
           AND tx_id = $2::text::xid8 AND position = $3
        RETURNING name
    ), cleared AS (
        DELETE FROM projection_failures WHERE name IN (SELECT name FROM moved)
    )
    SELECT name FROM moved";

impl PgBatch {
    async fn move_checkpoints(
        &mut self,
        sql: &'static str,
        names: &[&str],
        to: Cursor,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(sql)
            .bind(names)
            .bind(to.tx_id.to_string())
            .bind(to.position)
            .execute(&mut *self.0)
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl ProjectionTx for PgBatch {
    async fn lock_checkpoints(
        &mut self,
        names: &[&str],
    ) -> Result<HashMap<String, Cursor>, sqlx::Error> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT name, tx_id::text::bigint, position FROM projection_checkpoints
              WHERE name = ANY($1) ORDER BY name FOR UPDATE",
        )
        .bind(names)
        .fetch_all(&mut *self.0)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name, tx_id, position)| (name, Cursor { tx_id, position }))
            .collect())
    }

    async fn set_checkpoints(&mut self, names: &[&str], to: Cursor) -> Result<(), sqlx::Error> {
        self.move_checkpoints(SET_CHECKPOINTS, names, to).await
    }

    async fn apply(&mut self, change: &Change) -> Result<(), sqlx::Error> {
        read_models::apply(&mut Writer::Postgres(&mut self.0), change).await
    }

    async fn apply_all(&mut self, changes: &[&Change]) -> Result<(), sqlx::Error> {
        read_models::apply_all(&mut Writer::Postgres(&mut self.0), changes).await
    }

    async fn empty(&mut self, table: &str) -> Result<(), sqlx::Error> {
        sqlx::query(&format!("TRUNCATE {table}"))
            .execute(&mut *self.0)
            .await
            .map(|_| ())
    }

    async fn record_failure(
        &mut self,
        name: &str,
        event: &StoredEvent,
        error: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO projection_failures
                    (name, tx_id, position, aggregate_type, aggregate_id, sequence, event_type, error)
             VALUES ($1, $2::text::xid8, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (name) DO UPDATE SET
                    attempts = CASE WHEN projection_failures.position = EXCLUDED.position
                                    THEN projection_failures.attempts + 1 ELSE 1 END,
                    first_failed_at = CASE WHEN projection_failures.position = EXCLUDED.position
                                    THEN projection_failures.first_failed_at ELSE now() END,
                    tx_id = EXCLUDED.tx_id, position = EXCLUDED.position,
                    aggregate_type = EXCLUDED.aggregate_type, aggregate_id = EXCLUDED.aggregate_id,
                    sequence = EXCLUDED.sequence, event_type = EXCLUDED.event_type,
                    error = EXCLUDED.error, last_failed_at = now()",
        )
        .bind(name)
        .bind(event.tx_id.to_string())
        .bind(event.position)
        .bind(&event.aggregate_type)
        .bind(&event.aggregate_id)
        .bind(event.sequence)
        .bind(&event.event_type)
        .bind(error)
        .execute(&mut *self.0)
        .await
        .map(|_| ())
    }

    async fn advance(&mut self, names: &[&str], to: Cursor) -> Result<(), sqlx::Error> {
        self.move_checkpoints(ADVANCE, names, to).await
    }

    async fn claim(
        &mut self,
        names: &[&str],
        from: Cursor,
        to: Cursor,
    ) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(CLAIM)
            .bind(names)
            .bind(from.tx_id.to_string())
            .bind(from.position)
            .bind(to.tx_id.to_string())
            .bind(to.position)
            .fetch_all(&mut *self.0)
            .await
    }

    async fn commit(self: Box<Self>) -> Result<(), sqlx::Error> {
        self.0.commit().await
    }

    async fn rollback(self: Box<Self>) -> Result<(), sqlx::Error> {
        self.0.rollback().await
    }
}

//! Projection checkpoints, failure records and batch transactions on
//! SQLite. A batch starts with `BEGIN IMMEDIATE`, which takes the file's
//! write lock: an operator's rebuild beside the server waits its turn, and
//! the checkpoint read under that lock cannot move before commit.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use projections::FAILURE_COLUMNS;
use projections::{Change, Cursor, Failure, ProjectionStore, ProjectionTx, StoredEvent};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::log;
use super::turns::turn;
use crate::store::read_models::{self, Writer};

pub struct SqliteProjections(pub SqlitePool);

#[async_trait]
impl ProjectionStore for SqliteProjections {
    async fn register(&self, name: &str) -> Result<(), sqlx::Error> {
        let _turn = turn(&self.0).await;
        sqlx::query("INSERT INTO projection_checkpoints (name) VALUES (?1) ON CONFLICT DO NOTHING")
            .bind(name)
            .execute(&self.0)
            .await
            .map(|_| ())
    }

    async fn checkpoints(&self, names: &[&str]) -> Result<HashMap<String, Cursor>, sqlx::Error> {
        // One row per projection: reading them all is cheaper than
        // building an IN list.
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT name, position FROM projection_checkpoints")
                .fetch_all(&self.0)
                .await?;
        Ok(rows
            .into_iter()
            .filter(|(name, _)| names.contains(&name.as_str()))
            .map(|(name, position)| (name, log::cursor(position)))
            .collect())
    }

    async fn read_after(&self, after: Cursor, limit: i64) -> Result<Vec<StoredEvent>, sqlx::Error> {
        log::read_matching(&self.0, after, limit, None).await
    }

    async fn begin(&self) -> Result<Box<dyn ProjectionTx>, sqlx::Error> {
        let turn = turn(&self.0).await;
        Ok(Box::new(SqliteBatch {
            tx: self.0.begin_with("BEGIN IMMEDIATE").await?,
            _turn: turn,
        }))
    }

    async fn failure(&self, name: &str) -> Result<Option<Failure>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {FAILURE_COLUMNS} FROM projection_failures WHERE name = ?1"
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

    /// Builds the secondary indexes after the rows (see `bulk`).
    async fn begin_bulk(&self, tables: &[&str]) -> Result<(), sqlx::Error> {
        super::bulk::defer(&self.0, tables).await
    }

    async fn end_bulk(&self) -> Result<(), sqlx::Error> {
        super::bulk::restore(&self.0).await
    }
}

/// A batch transaction and this process's write turn, released after it
/// (fields drop in order: the transaction ends first).
struct SqliteBatch {
    tx: Transaction<'static, Sqlite>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

#[async_trait]
impl ProjectionTx for SqliteBatch {
    /// The file's write lock, taken by `BEGIN IMMEDIATE`, already keeps
    /// every other writer out.
    async fn lock_checkpoints(
        &mut self,
        names: &[&str],
    ) -> Result<HashMap<String, Cursor>, sqlx::Error> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT name, position FROM projection_checkpoints
              WHERE name IN (SELECT value FROM json_each(?1))",
        )
        .bind(names_json(names))
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name, position)| (name, log::cursor(position)))
            .collect())
    }

    async fn set_checkpoints(&mut self, names: &[&str], to: Cursor) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE projection_checkpoints SET tx_id = ?2, position = ?2, updated_at = ?3
              WHERE name IN (SELECT value FROM json_each(?1))",
        )
        .bind(names_json(names))
        .bind(to.position)
        .bind(Utc::now())
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
    }

    async fn apply(&mut self, change: &Change) -> Result<(), sqlx::Error> {
        read_models::apply(&mut Writer::Sqlite(&mut self.tx), change).await
    }

    async fn apply_all(&mut self, changes: &[&Change]) -> Result<(), sqlx::Error> {
        read_models::apply_all(&mut Writer::Sqlite(&mut self.tx), changes).await
    }

    async fn empty(&mut self, table: &str) -> Result<(), sqlx::Error> {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *self.tx)
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
                    (name, tx_id, position, aggregate_type, aggregate_id, sequence, event_type, error,
                     first_failed_at, last_failed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
             ON CONFLICT (name) DO UPDATE SET
                    attempts = CASE WHEN projection_failures.position = EXCLUDED.position
                                    THEN projection_failures.attempts + 1 ELSE 1 END,
                    first_failed_at = CASE WHEN projection_failures.position = EXCLUDED.position
                                    THEN projection_failures.first_failed_at ELSE EXCLUDED.first_failed_at END,
                    tx_id = EXCLUDED.tx_id, position = EXCLUDED.position,
                    aggregate_type = EXCLUDED.aggregate_type, aggregate_id = EXCLUDED.aggregate_id,
                    sequence = EXCLUDED.sequence, event_type = EXCLUDED.event_type,
                    error = EXCLUDED.error, last_failed_at = EXCLUDED.last_failed_at",
        )
        .bind(name)
        .bind(event.position)
        .bind(event.position)
        .bind(&event.aggregate_type)
        .bind(&event.aggregate_id)
        .bind(event.sequence)
        .bind(&event.event_type)
        .bind(error)
        .bind(Utc::now())
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
    }

    async fn advance(&mut self, names: &[&str], to: Cursor) -> Result<(), sqlx::Error> {
        self.set_checkpoints(names, to).await?;
        sqlx::query(
            "DELETE FROM projection_failures WHERE name IN (SELECT value FROM json_each(?1))",
        )
        .bind(names_json(names))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
    }

    async fn commit(self: Box<Self>) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    async fn rollback(self: Box<Self>) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

/// A list of names as the JSON array `json_each` reads: SQLite has no
/// array parameters.
fn names_json(names: &[&str]) -> String {
    // Serializing a slice of strings cannot fail.
    serde_json::to_string(names).unwrap_or_else(|_| "[]".to_owned())
}

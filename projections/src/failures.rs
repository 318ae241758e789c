//! `projection_failures`: the event each stalled projection could not apply.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgExecutor, PgPool};

use crate::StoredEvent;

/// A stalled projection: where it stopped and why.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Failure {
    pub name: String,
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub error: String,
    pub attempts: i32,
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
}

const COLUMNS: &str = "name, position, aggregate_type, aggregate_id, sequence, event_type, \
                       error, attempts, first_failed_at, last_failed_at";

/// Records that `name` failed on `event`; a repeat on the same event counts
/// another attempt.
pub(crate) async fn record<'e>(
    executor: impl PgExecutor<'e>,
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
    .execute(executor)
    .await
    .map(|_| ())
}

/// `name` applied past its failure (or was reset): no longer stalled.
pub(crate) async fn clear<'e>(
    executor: impl PgExecutor<'e>,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM projection_failures WHERE name = $1")
        .bind(name)
        .execute(executor)
        .await
        .map(|_| ())
}

pub(crate) async fn of(pool: &PgPool, name: &str) -> Result<Option<Failure>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM projection_failures WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await
}

pub(crate) async fn all(pool: &PgPool) -> Result<Vec<Failure>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM projection_failures ORDER BY name"
    ))
    .fetch_all(pool)
    .await
}

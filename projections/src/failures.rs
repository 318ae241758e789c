//! `projection_failures`: the event each stalled projection could not apply.

use chrono::{DateTime, Utc};
use serde::Serialize;

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

/// Columns of [`Failure`], for the stores' queries.
pub const FAILURE_COLUMNS: &str = "name, position, aggregate_type, aggregate_id, sequence, \
                                   event_type, error, attempts, first_failed_at, last_failed_at";

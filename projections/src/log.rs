//! Reading the event log in commit-safe order.
//!
//! `position` comes from an identity column, so it is handed out at insert
//! time, not at commit: transaction A can take position 5, B position 6, and
//! B commit first. A reader that pages by position alone would read 6, move
//! its cursor past 5 and never see A's event.
//!
//! We page by `(tx_id, position)` instead and read only rows written by
//! transactions older than the oldest transaction still in flight
//! (`pg_snapshot_xmin`). Every such transaction has finished, so all of its
//! rows are visible; every transaction that commits later has a `tx_id` at or
//! above that horizon, so its rows sort after anything already read.
//! Within one stream the order is the sequence order, because a writer gets
//! its transaction id when it inserts, after the previous event of the stream
//! committed.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

/// A place in the log: the last event a reader has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    pub tx_id: i64,
    pub position: i64,
}

/// An event as stored, with its place in the log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    pub position: i64,
    pub tx_id: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
}

impl StoredEvent {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            tx_id: self.tx_id,
            position: self.position,
        }
    }

    /// Decodes the payload as the event enum of one aggregate.
    pub fn decode<E: serde::de::DeserializeOwned>(&self) -> Result<E, serde_json::Error> {
        serde_json::from_value(self.payload.clone())
    }
}

/// Columns of [`StoredEvent`], for queries that select whole events.
pub const EVENT_COLUMNS: &str =
    "position, tx_id::text::bigint AS tx_id, aggregate_type, aggregate_id, \
     sequence, event_type, event_version, payload, metadata, recorded_at";

/// Up to `limit` events after `after`, oldest first, never past an event
/// whose transaction might still be in flight.
pub async fn read_after(
    conn: &mut PgConnection,
    after: Cursor,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    read_matching(conn, after, limit, None).await
}

/// [`read_after`], keeping only events whose type starts with
/// `type_prefix` (all of them when `None`).
pub async fn read_matching(
    conn: &mut PgConnection,
    after: Cursor,
    limit: i64,
    type_prefix: Option<&str>,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events
          WHERE (tx_id, position) > ($1::text::xid8, $2)
            AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
            AND ($4::text IS NULL OR starts_with(event_type, $4))
          ORDER BY tx_id, position
          LIMIT $3"
    );
    sqlx::query_as::<_, StoredEvent>(&sql)
        .bind(after.tx_id.to_string())
        .bind(after.position)
        .bind(limit)
        .bind(type_prefix)
        .fetch_all(conn)
        .await
}

/// The cursor of the event at `position`, so that a reader who names only
/// the last position it saw resumes exactly after it; `None` when no event
/// has that position. Position 0 is the start of the log.
pub async fn cursor_at(
    conn: &mut PgConnection,
    position: i64,
) -> Result<Option<Cursor>, sqlx::Error> {
    if position == 0 {
        return Ok(Some(Cursor::default()));
    }
    let tx_id: Option<i64> =
        sqlx::query_scalar("SELECT tx_id::text::bigint FROM events WHERE position = $1")
            .bind(position)
            .fetch_optional(conn)
            .await?;
    Ok(tx_id.map(|tx_id| Cursor { tx_id, position }))
}

/// The cursor of the newest event that is safe to read now (the head a
/// caught-up reader will reach), or the default cursor for an empty log.
pub async fn head(conn: &mut PgConnection) -> Result<Cursor, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT tx_id::text::bigint, position FROM events
          WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY tx_id DESC, position DESC LIMIT 1",
    )
    .fetch_optional(conn)
    .await?;
    Ok(row
        .map(|(tx_id, position)| Cursor { tx_id, position })
        .unwrap_or_default())
}

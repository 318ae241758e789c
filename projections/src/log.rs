//! Places in the event log and the events read from it.
//!
//! On SQLite one writer commits at a time, so the position is the commit
//! order and a cursor's `tx_id` is its position. On PostgreSQL `position` comes from an identity column, so it is handed out at insert
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
        // From a reference: each projection decodes every event, and a
        // clone of the payload per decode was a copy of the log per rebuild.
        E::deserialize(&self.payload)
    }
}

/// Columns of [`StoredEvent`] on PostgreSQL, for queries that select whole
/// events.
pub const EVENT_COLUMNS: &str =
    "events.position, events.tx_id::text::bigint AS tx_id, events.aggregate_type, \
     events.aggregate_id, events.sequence, events.event_type, events.event_version, \
     events.payload, events.metadata, events.recorded_at";

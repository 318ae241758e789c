//! Publishes every committed event to NATS JetStream, in log order.
//!
//! The relay tails the event log exactly as the projections do (so it only
//! ever sees committed events and never skips a late commit), publishes each
//! event with `Nats-Msg-Id = <aggregate_type>:<aggregate_id>:<sequence>`,
//! waits for JetStream's acknowledgements and only then moves its
//! checkpoint. A crash after publishing and before the checkpoint re-sends
//! that batch on restart; JetStream drops the copies as duplicates (within
//! the stream's duplicate window, longer than any restart).
//!
//! One relay is active at a time across all instances: the one holding a
//! session-level advisory lock on its own connection. If that instance dies,
//! its connection closes, the lock is released and another instance takes
//! over from the checkpoint. A single publisher keeps per-aggregate order.
//!
//! While NATS is down, commands keep succeeding: events simply wait in
//! Postgres, and the relay publishes them in order once NATS is back.

mod envelope;
mod publisher;

pub use envelope::Envelope;
pub use publisher::{Relay, RelayConfig};

use projections::Cursor;
use sqlx::PgPool;

pub use crate::monitor::Lag;

/// The relay's lag behind `head`, with reads that do not grow with the
/// log: its checkpoint row, and the first event after it through the tail
/// index (for the age of the oldest unpublished event).
pub async fn lag(pool: &PgPool, head: Cursor) -> Result<Lag, sqlx::Error> {
    let cursor = checkpoint(pool).await?;
    let oldest: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - recorded_at)::float8 FROM events
          WHERE (events.tx_id, events.position) > ($1::text::xid8, $2)
          ORDER BY events.tx_id, events.position LIMIT 1",
    )
    .bind(cursor.tx_id.to_string())
    .bind(cursor.position)
    .fetch_optional(pool)
    .await?;
    Ok(Lag {
        events: (head.position - cursor.position).max(0),
        seconds: oldest.unwrap_or(0.0).max(0.0),
    })
}

const NAME: &str = "nats";

async fn checkpoint<'e, E: sqlx::PgExecutor<'e>>(executor: E) -> Result<Cursor, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT tx_id::text::bigint, position FROM relay_checkpoints WHERE name = $1",
    )
    .bind(NAME)
    .fetch_optional(executor)
    .await?;
    Ok(row
        .map(|(tx_id, position)| Cursor { tx_id, position })
        .unwrap_or_default())
}

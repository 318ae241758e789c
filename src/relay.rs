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

/// Events not yet published and the age of the oldest, for readiness.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Lag {
    pub events: i64,
    pub seconds: f64,
}

/// The relay's lag behind the log.
pub async fn lag(pool: &PgPool) -> Result<Lag, sqlx::Error> {
    let cursor = checkpoint(pool).await?;
    let (events, seconds): (i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*), extract(epoch FROM now() - min(recorded_at))::float8 FROM events
          WHERE (tx_id, position) > ($1::text::xid8, $2)",
    )
    .bind(cursor.tx_id.to_string())
    .bind(cursor.position)
    .fetch_one(pool)
    .await?;
    Ok(Lag {
        events,
        seconds: seconds.unwrap_or(0.0),
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

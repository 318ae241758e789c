//! Reading the log on SQLite. Commit order is position order here (one
//! writer at a time, see `events`), so a reader pages by position alone
//! and a cursor's `tx_id` is its position.

use chrono::{DateTime, Utc};
use projections::{Cursor, StoredEvent};
use sqlx::SqlitePool;

/// Columns of [`StoredEvent`] on SQLite.
pub const EVENT_COLUMNS: &str =
    "events.position, events.position AS tx_id, events.aggregate_type, events.aggregate_id, \
     events.sequence, events.event_type, events.event_version, events.payload, \
     events.metadata, events.recorded_at";

/// The cursor of a position: it is its own `tx_id`.
pub fn cursor(position: i64) -> Cursor {
    Cursor {
        tx_id: position,
        position,
    }
}

/// Up to `limit` events after `after`, in position order, keeping only
/// those whose type starts with `type_prefix` (all when `None`).
pub async fn read_matching(
    pool: &SqlitePool,
    after: Cursor,
    limit: i64,
    type_prefix: Option<&str>,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    sqlx::query_as::<_, StoredEvent>(&read_sql())
        .bind(after.position)
        .bind(type_prefix)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// The statement of [`read_matching`] (parameters: the position after
/// which to read, the type prefix or null, the limit).
pub fn read_sql() -> String {
    format!(
        "SELECT {EVENT_COLUMNS} FROM events
          WHERE position > ?1 AND (?2 IS NULL OR substr(event_type, 1, length(?2)) = ?2)
          ORDER BY position
          LIMIT ?3"
    )
}

/// The cursor of the event at `position` (0: the start); `None` when no
/// event has it.
pub async fn cursor_at(pool: &SqlitePool, position: i64) -> Result<Option<Cursor>, sqlx::Error> {
    if position == 0 {
        return Ok(Some(Cursor::default()));
    }
    let found: Option<i64> = sqlx::query_scalar("SELECT position FROM events WHERE position = ?")
        .bind(position)
        .fetch_optional(pool)
        .await?;
    Ok(found.map(cursor))
}

/// The newest event, or the start of an empty log.
pub async fn head(pool: &SqlitePool) -> Result<Cursor, sqlx::Error> {
    let position: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(position.map(cursor).unwrap_or_default())
}

/// Events of `types` recorded since `since`, up to and including `upto`,
/// in log order.
pub async fn events_of_types(
    pool: &SqlitePool,
    types: &[&str],
    since: DateTime<Utc>,
    upto: Cursor,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    // json_each over a bound array stands in for PostgreSQL's `= ANY($1)`.
    sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS} FROM events
          WHERE recorded_at >= ?1 AND position <= ?2
            AND event_type IN (SELECT value FROM json_each(?3))
          ORDER BY position"
    ))
    .bind(since)
    .bind(upto.position)
    // A list of strings always serializes.
    .bind(serde_json::to_string(types).unwrap_or_default())
    .fetch_all(pool)
    .await
}

/// Up to `limit` events of one user's streams (`?1`: the user id as text)
/// after position `after`, recorded at or before `as_of` if given, in
/// position order: the user stream by its unique key and the session
/// streams it started, found through `events_session_user_idx` (the
/// json_extract and the conditions match the partial index), each cut at
/// `limit` before they are merged. See the PostgreSQL module for why not
/// one `OR`.
pub async fn user_events(
    pool: &SqlitePool,
    user_id: &str,
    after: i64,
    as_of: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    sqlx::query_as(&user_events_sql())
        .bind(user_id)
        .bind(after)
        .bind(as_of)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// The statement of [`user_events`] (parameters: user id, after, as of,
/// limit).
pub fn user_events_sql() -> String {
    format!(
        "SELECT {EVENT_COLUMNS} FROM ({USER_EVENTS}) AS events ORDER BY events.position LIMIT ?4"
    )
}

/// The two branches of [`user_events`].
const USER_EVENTS: &str = "
    SELECT * FROM (SELECT * FROM events
      WHERE aggregate_type = 'user' AND aggregate_id = ?1
        AND position > ?2 AND (?3 IS NULL OR recorded_at <= ?3)
      ORDER BY sequence LIMIT ?4)
    UNION ALL
    SELECT * FROM (SELECT * FROM events
      WHERE aggregate_type = 'session' AND aggregate_id IN (
            SELECT aggregate_id FROM events
             WHERE aggregate_type = 'session' AND event_type = 'identity.session.SessionStarted'
               AND json_extract(payload, '$.SessionStarted.user_id') = ?1)
        AND position > ?2 AND (?3 IS NULL OR recorded_at <= ?3)
      ORDER BY position LIMIT ?4)";

//! Reading the log on PostgreSQL in commit-safe order.
//!
//! `position` comes from an identity column, so it is handed out at insert
//! time, not at commit: a reader that pages by position alone could read 6,
//! move past 5 and never see 5 commit. We page by `(tx_id, position)` and
//! read only rows of transactions older than the oldest one in flight
//! (`pg_snapshot_xmin`); see `projections::log` for why nothing is skipped.
//!
//! The ORDER BY names `events.tx_id`, the indexed column: the select list
//! has its own `tx_id` (the text cast), and an unqualified ORDER BY would
//! sort by that expression, a full scan and sort of the log per batch.

use chrono::{DateTime, Utc};
use projections::log::EVENT_COLUMNS;
use projections::{Cursor, StoredEvent};
use sqlx::{PgExecutor, PgPool};

/// Up to `limit` events after `after`, oldest first, never past an event
/// whose transaction might still be in flight; only types starting with
/// `type_prefix` if given.
pub async fn read_matching(
    pool: impl PgExecutor<'_>,
    after: Cursor,
    limit: i64,
    type_prefix: Option<&str>,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    sqlx::query_as::<_, StoredEvent>(&read_sql())
        .bind(after.tx_id.to_string())
        .bind(after.position)
        .bind(limit)
        .bind(type_prefix)
        .fetch_all(pool)
        .await
}

/// The statement of [`read_matching`] (parameters: the cursor's
/// transaction as text and position, the limit, the type prefix or null).
pub fn read_sql() -> String {
    format!(
        "SELECT {EVENT_COLUMNS} FROM events
          WHERE (events.tx_id, events.position) > ($1::text::xid8, $2)
            AND events.tx_id < pg_snapshot_xmin(pg_current_snapshot())
            AND ($4::text IS NULL OR starts_with(events.event_type, $4))
          ORDER BY events.tx_id, events.position
          LIMIT $3"
    )
}

/// The cursor of the event at `position` (0: the start of the log);
/// `None` when no event has that position.
pub async fn cursor_at(pool: &PgPool, position: i64) -> Result<Option<Cursor>, sqlx::Error> {
    if position == 0 {
        return Ok(Some(Cursor::default()));
    }
    let tx_id: Option<i64> =
        sqlx::query_scalar("SELECT tx_id::text::bigint FROM events WHERE position = $1")
            .bind(position)
            .fetch_optional(pool)
            .await?;
    Ok(tx_id.map(|tx_id| Cursor { tx_id, position }))
}

/// The newest event that is safe to read now (the head a caught-up reader
/// reaches), or the start of an empty log.
pub async fn head(pool: &PgPool) -> Result<Cursor, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT tx_id::text::bigint, position FROM events
          WHERE events.tx_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY events.tx_id DESC, events.position DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    Ok(row
        .map(|(tx_id, position)| Cursor { tx_id, position })
        .unwrap_or_default())
}

/// Events of `types` recorded since `since`, up to and including `upto`,
/// in log order.
pub async fn events_of_types(
    pool: &PgPool,
    types: &[&str],
    since: DateTime<Utc>,
    upto: Cursor,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS} FROM events
          WHERE events.recorded_at >= $1
            AND events.event_type = ANY($4)
            AND (events.tx_id, events.position) <= ($2::text::xid8, $3)
          ORDER BY events.tx_id, events.position"
    ))
    .bind(since)
    .bind(upto.tx_id.to_string())
    .bind(upto.position)
    .bind(types)
    .fetch_all(pool)
    .await
}

/// Up to `limit` events of one user's streams (`$1`: the user id as text)
/// after position `after`, recorded at or before `as_of` if given, in
/// position order.
///
/// Two branches, each read through an index and cut at `limit` before
/// they are merged: the user stream by its primary key, and the session
/// streams it started, found through `events_session_user_idx` and each
/// read by its primary key (a `LATERAL` join, so that no plan can instead
/// walk the log in position order and filter). One `WHERE user OR sessions
/// ... ORDER BY position` walked the whole log that way, filtering out
/// every other account's events (1.2 s at 4M events for 4 rows); so did
/// the sessions branch as `aggregate_id IN (...) ORDER BY position` in
/// PostgreSQL's generic plan (2.6 s at 6M events).
pub async fn user_events(
    pool: &PgPool,
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
        "SELECT {EVENT_COLUMNS} FROM ({USER_EVENTS}) AS events ORDER BY events.position LIMIT $4"
    )
}

/// The two branches of [`user_events`].
const USER_EVENTS: &str = "
    (SELECT * FROM events
      WHERE aggregate_type = 'user' AND aggregate_id = $1
        AND position > $2 AND ($3::timestamptz IS NULL OR recorded_at <= $3)
      ORDER BY sequence LIMIT $4)
    UNION ALL
    (SELECT e.* FROM events s
       CROSS JOIN LATERAL (
           SELECT * FROM events
            WHERE aggregate_type = 'session' AND aggregate_id = s.aggregate_id
              AND position > $2 AND ($3::timestamptz IS NULL OR recorded_at <= $3)
            ORDER BY sequence LIMIT $4) AS e
      WHERE s.aggregate_type = 'session' AND s.event_type = 'identity.session.SessionStarted'
        AND s.payload->'SessionStarted'->>'user_id' = $1)";

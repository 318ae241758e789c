//! The event store on PostgreSQL. Loading is one round trip (snapshot plus
//! newer events); committing is one statement when the events claim
//! nothing unique, and a short transaction when they do. Readers tail the
//! log with `projections::log` (by transaction and position, see there).

use cqrs_es::DomainEvent;
use projections::Cursor;
use sqlx::{PgConnection, PgPool};

use crate::store::append::{Append, CommitError};
use crate::store::{Claim, StoreError, StoredAggregate};

/// The current state of one aggregate and its last sequence number.
pub async fn load<A: StoredAggregate>(pool: &PgPool, id: &str) -> Result<(A, i64), StoreError> {
    // kind 0: the snapshot (if of the current schema); kind 1: events after it.
    let rows: Vec<(i32, i64, serde_json::Value)> = sqlx::query_as(
        "WITH s AS (SELECT last_sequence, payload FROM snapshots
                     WHERE aggregate_type = $1 AND aggregate_id = $2 AND schema_version = $3)
         SELECT 0, last_sequence, payload::jsonb FROM s
         UNION ALL
         SELECT 1, sequence, payload FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2
            AND sequence > COALESCE((SELECT last_sequence FROM s), 0)
         ORDER BY 1, 2",
    )
    .bind(A::TYPE)
    .bind(id)
    .bind(A::SCHEMA_VERSION)
    .fetch_all(pool)
    .await?;
    let mut rows = rows.into_iter().peekable();
    let (mut state, mut sequence) = match rows.next_if(|(kind, _, _)| *kind == 0) {
        Some((_, sequence, payload)) => match serde_json::from_value::<A>(payload) {
            Ok(state) => (state, sequence),
            Err(error) => {
                tracing::warn!(aggregate = A::TYPE, %error, "unreadable snapshot; replaying the stream");
                return replay(pool, id).await;
            }
        },
        None => (A::default(), 0),
    };
    for (_, seq, payload) in rows {
        state.apply(serde_json::from_value(payload)?);
        sequence = seq;
    }
    Ok((state, sequence))
}

/// Rebuilds the state from the whole stream.
async fn replay<A: StoredAggregate>(pool: &PgPool, id: &str) -> Result<(A, i64), StoreError> {
    let rows: Vec<(i64, serde_json::Value)> = sqlx::query_as(
        "SELECT sequence, payload FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(A::TYPE)
    .bind(id)
    .fetch_all(pool)
    .await?;
    let mut state = A::default();
    let mut sequence = 0;
    for (seq, payload) in rows {
        state.apply(serde_json::from_value(payload)?);
        sequence = seq;
    }
    Ok((state, sequence))
}

/// A duplicate `(aggregate, sequence)` is a lost race; the rest is the
/// store's.
fn commit_error(error: sqlx::Error) -> CommitError {
    if is_unique_violation(&error, "events_pkey") {
        CommitError::Conflict
    } else {
        CommitError::Store(error.into())
    }
}

/// Appends the events and stores the snapshot (and claims), atomically.
pub async fn commit<A: StoredAggregate>(
    pool: &PgPool,
    append: Append<'_, A>,
) -> Result<Cursor, CommitError> {
    let mut claims: Vec<Claim> = append.events.iter().flat_map(A::claims).collect();
    if claims.is_empty() {
        let mut conn = pool
            .acquire()
            .await
            .map_err(StoreError::from)
            .map_err(CommitError::Store)?;
        return write(&mut conn, &append).await;
    }
    let mut tx = pool.begin().await.map_err(commit_error)?;
    let cursor = write(&mut tx, &append).await?;
    // A fixed order keeps two writers from waiting on each other's claims.
    claims.sort();
    for claim in claims {
        // `xmax = 0` only for a freshly inserted row: tells a new claim
        // from one that already existed.
        let (owner, inserted): (String, bool) = sqlx::query_as(
            "INSERT INTO unique_claims (kind, value, owner_id) VALUES ($1, $2, $3)
             ON CONFLICT (kind, value) DO UPDATE SET kind = unique_claims.kind
             RETURNING owner_id, (xmax = 0)",
        )
        .bind(claim.kind.as_str())
        .bind(&claim.value)
        .bind(append.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(commit_error)?;
        if owner != append.id || (claim.kind.once_per_owner() && !inserted) {
            tx.rollback().await.map_err(commit_error)?;
            return Err(CommitError::Claimed(claim.kind));
        }
    }
    tx.commit().await.map_err(commit_error)?;
    Ok(cursor)
}

/// Events and snapshot in one statement (atomic on its own).
async fn write<A: StoredAggregate>(
    conn: &mut PgConnection,
    append: &Append<'_, A>,
) -> Result<Cursor, CommitError> {
    let count = append.events.len() as i64;
    let first = append.last_sequence + 1;
    let sequences: Vec<i64> = (first..first + count).collect();
    let types: Vec<String> = append.events.iter().map(DomainEvent::event_type).collect();
    let versions: Vec<String> = append
        .events
        .iter()
        .map(DomainEvent::event_version)
        .collect();
    let payloads = append
        .events
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "WITH appended AS (
            INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
            SELECT $1, $2, e.sequence, e.event_type, e.event_version, e.payload::jsonb, $7::jsonb
              FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[])
                   AS e(sequence, event_type, event_version, payload)
            RETURNING tx_id::text::bigint AS tx_id, position
         ), snapshot AS (
            INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, schema_version, payload)
            VALUES ($1, $2, $8, $9, $10::json)
            ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
               SET last_sequence = EXCLUDED.last_sequence, schema_version = EXCLUDED.schema_version,
                   payload = EXCLUDED.payload, updated_at = now()
             WHERE snapshots.last_sequence < EXCLUDED.last_sequence
         )
         SELECT tx_id, position FROM appended",
    )
    .bind(A::TYPE)
    .bind(append.id)
    .bind(&sequences)
    .bind(&types)
    .bind(&versions)
    .bind(&payloads)
    .bind(serde_json::to_string(append.metadata)?)
    .bind(append.last_sequence + count)
    .bind(A::SCHEMA_VERSION)
    .bind(serde_json::to_string(append.state)?)
    .fetch_all(&mut *conn)
    .await.map_err(commit_error)?;
    let (tx_id, position) = rows.into_iter().max_by_key(|(_, p)| *p).unwrap_or_default();
    Ok(Cursor { tx_id, position })
}

fn is_unique_violation(error: &sqlx::Error, constraint: &str) -> bool {
    matches!(error, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint))
}

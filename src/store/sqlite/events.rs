//! The event store on SQLite.
//!
//! SQLite has one writer at a time, and every write transaction here starts
//! with `BEGIN IMMEDIATE` (it takes the write lock first, so it never fails
//! half-way because another connection wrote since it read). A position is
//! handed out inside that lock and committed before the next writer gets
//! it, so **commit order is position order**: a reader tails by position
//! alone and never skips a late commit, and a cursor's `tx_id` is simply its
//! position.

use chrono::Utc;
use cqrs_es::DomainEvent;
use projections::Cursor;

use super::log::cursor;
use super::turns::turn;
use sqlx::{SqliteConnection, SqlitePool};

use crate::store::append::{Append, CommitError};
use crate::store::{Claim, StoreError, StoredAggregate};

/// The current state of one aggregate and its last sequence number.
pub async fn load<A: StoredAggregate>(pool: &SqlitePool, id: &str) -> Result<(A, i64), StoreError> {
    let mut conn = pool.acquire().await?;
    let snapshot: Option<(i64, String)> = sqlx::query_as(
        "SELECT last_sequence, payload FROM snapshots
          WHERE aggregate_type = ? AND aggregate_id = ? AND schema_version = ?",
    )
    .bind(A::TYPE)
    .bind(id)
    .bind(A::SCHEMA_VERSION)
    .fetch_optional(&mut *conn)
    .await?;
    // Events are only ever appended and a snapshot always matches its
    // `last_sequence`, so reading the newer events in a second statement
    // gives a consistent state even if a writer commits in between.
    let (mut state, mut sequence) = match snapshot {
        Some((sequence, payload)) => match serde_json::from_str::<A>(&payload) {
            Ok(state) => (state, sequence),
            Err(error) => {
                tracing::warn!(aggregate = A::TYPE, %error, "unreadable snapshot; replaying the stream");
                (A::default(), 0)
            }
        },
        None => (A::default(), 0),
    };
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT sequence, payload FROM events
          WHERE aggregate_type = ? AND aggregate_id = ? AND sequence > ?
          ORDER BY sequence",
    )
    .bind(A::TYPE)
    .bind(id)
    .bind(sequence)
    .fetch_all(&mut *conn)
    .await?;
    for (seq, payload) in rows {
        state.apply(serde_json::from_str(&payload)?);
        sequence = seq;
    }
    Ok((state, sequence))
}

/// Appends the events, stores the snapshot and takes the claims, in one
/// transaction.
pub async fn commit<A: StoredAggregate>(
    pool: &SqlitePool,
    append: Append<'_, A>,
) -> Result<Cursor, CommitError> {
    let _turn = turn(pool).await;
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(commit_error)?;
    let cursor = match write(&mut tx, &append).await {
        Ok(cursor) => cursor,
        Err(error) => {
            tx.rollback().await.map_err(commit_error)?;
            return Err(error);
        }
    };
    let mut claims: Vec<Claim> = append.events.iter().flat_map(A::claims).collect();
    claims.sort();
    for claim in claims {
        let inserted = sqlx::query(
            "INSERT INTO unique_claims (kind, value, owner_id) VALUES (?, ?, ?)
             ON CONFLICT (kind, value) DO NOTHING",
        )
        .bind(claim.kind.as_str())
        .bind(&claim.value)
        .bind(append.id)
        .execute(&mut *tx)
        .await
        .map_err(commit_error)?
        .rows_affected()
            == 1;
        let owner: String =
            sqlx::query_scalar("SELECT owner_id FROM unique_claims WHERE kind = ? AND value = ?")
                .bind(claim.kind.as_str())
                .bind(&claim.value)
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

/// The events, then the snapshot.
async fn write<A: StoredAggregate>(
    conn: &mut SqliteConnection,
    append: &Append<'_, A>,
) -> Result<Cursor, CommitError> {
    let metadata = serde_json::to_string(append.metadata)?;
    let recorded_at = Utc::now();
    let mut position = 0;
    for (offset, event) in (1..).zip(append.events) {
        position = sqlx::query_scalar(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING position",
        )
        .bind(A::TYPE)
        .bind(append.id)
        .bind(append.last_sequence + offset)
        .bind(event.event_type())
        .bind(event.event_version())
        .bind(serde_json::to_string(event)?)
        .bind(&metadata)
        .bind(recorded_at)
        .fetch_one(&mut *conn)
        .await
        .map_err(commit_error)?;
    }
    let count = i64::try_from(append.events.len()).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, schema_version, payload, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
            SET last_sequence = excluded.last_sequence, schema_version = excluded.schema_version,
                payload = excluded.payload, updated_at = excluded.updated_at
          WHERE snapshots.last_sequence < excluded.last_sequence",
    )
    .bind(A::TYPE)
    .bind(append.id)
    .bind(append.last_sequence + count)
    .bind(A::SCHEMA_VERSION)
    .bind(serde_json::to_string(append.state)?)
    .bind(recorded_at)
    .execute(&mut *conn)
    .await
    .map_err(commit_error)?;
    Ok(cursor(position))
}

/// A duplicate `(aggregate, sequence)` is a lost race; the rest is the
/// store's.
fn commit_error(error: sqlx::Error) -> CommitError {
    let lost_race = matches!(&error, sqlx::Error::Database(db)
        if db.is_unique_violation() && db.message().contains("events."));
    if lost_race {
        CommitError::Conflict
    } else {
        CommitError::Store(error.into())
    }
}

//! The event store on SQLite.
//!
//! SQLite has one writer at a time, and every write transaction here starts
//! with `BEGIN IMMEDIATE` (it takes the write lock first, so it never fails
//! half-way because another connection wrote since it read). A position is
//! handed out inside that lock and committed before the next writer gets
//! it, so **commit order is position order**: a reader tails by position
//! alone and never skips a late commit, and a cursor's `tx_id` is simply its
//! position. Commands that commit at the same moment share one such
//! transaction (`group_commit`).

use chrono::Utc;
use cqrs_es::DomainEvent;
use projections::Cursor;

use super::group_commit;
use super::log::cursor;
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::oneshot;

use crate::store::append::{Append, CommitError};
use crate::store::{claims, Claim, Hold, StoreError, StoredAggregate};
use crate::telemetry::Chain;

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
                tracing::warn!(aggregate = A::TYPE, error = %Chain(&error), "unreadable snapshot; replaying the stream");
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

/// One aggregate's commit, serialized before it waits for the write turn,
/// so that commits of any aggregates can share a transaction.
pub struct Write {
    aggregate_type: &'static str,
    id: String,
    last_sequence: i64,
    /// Type, version and payload of each event, in order.
    events: Vec<(String, String, String)>,
    metadata: String,
    schema_version: i32,
    snapshot: String,
    /// Sorted, so concurrent writers take them in the same order.
    claims: Vec<Claim>,
    /// Claims given up, deleted before the new ones are taken.
    releases: Vec<Claim>,
    /// Claims kept for a while, set before the new ones are taken.
    holds: Vec<Hold>,
}

impl Write {
    fn of<A: StoredAggregate>(append: &Append<'_, A>) -> Result<Self, CommitError> {
        let events = append
            .events
            .iter()
            .map(|event| {
                Ok((
                    event.event_type(),
                    event.event_version(),
                    serde_json::to_string(event)?,
                ))
            })
            .collect::<Result<_, serde_json::Error>>()?;
        let mut claims: Vec<Claim> = append.events.iter().flat_map(A::claims).collect();
        claims.sort();
        let releases = append.events.iter().flat_map(A::releases).collect();
        let holds = append.events.iter().flat_map(A::holds).collect();
        Ok(Self {
            aggregate_type: A::TYPE,
            id: append.id.to_owned(),
            last_sequence: append.last_sequence,
            events,
            metadata: serde_json::to_string(append.metadata)?,
            schema_version: A::SCHEMA_VERSION,
            snapshot: serde_json::to_string(append.state)?,
            claims,
            releases,
            holds,
        })
    }
}

/// Appends the events, stores the snapshot and takes the claims, all or
/// nothing, in a transaction shared with the commits waiting beside it
/// (`group_commit`).
pub async fn commit<A: StoredAggregate>(
    pool: &SqlitePool,
    append: Append<'_, A>,
) -> Result<Cursor, CommitError> {
    group_commit::commit(pool, Write::of(&append)?).await
}

/// Writes every append in one transaction, each as `commit` would, all or
/// nothing (`store::import`).
pub async fn import<A: StoredAggregate>(
    pool: &SqlitePool,
    appends: &[Append<'_, A>],
) -> Result<(), CommitError> {
    let writes = appends
        .iter()
        .map(Write::of)
        .collect::<Result<Vec<_>, _>>()?;
    let store = |error: sqlx::Error| CommitError::Store(error.into());
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(store)?;
    for write in &writes {
        write_one(&mut tx, write).await?;
    }
    tx.commit().await.map_err(store)
}

/// Writes `batch` in one transaction, each write in a savepoint of its
/// own, and answers each once the transaction committed. Call it holding
/// the write turn.
pub(super) async fn write_batch(
    pool: &SqlitePool,
    batch: Vec<(Write, oneshot::Sender<Result<Cursor, CommitError>>)>,
) {
    let (writes, answers): (Vec<Write>, Vec<_>) = batch.into_iter().unzip();
    let results = match write_all(pool, &writes).await {
        Ok(results) => results,
        Err(error) => {
            // Nothing of the batch committed; each waiting command hears why
            // (an I/O error, which callers treat as the database's state).
            let shared = error.to_string();
            answers.iter().map(|_| Err(batch_failed(&shared))).collect()
        }
    };
    for (answer, result) in answers.into_iter().zip(results) {
        // A command whose caller went away no longer listens.
        let _ = answer.send(result);
    }
}

fn batch_failed(error: &str) -> CommitError {
    CommitError::Store(StoreError::Database(sqlx::Error::Io(
        std::io::Error::other(format!(
            "the transaction this commit shared failed: {error}"
        )),
    )))
}

/// The batch's transaction: each write's own result, or the error that
/// stopped the whole transaction.
async fn write_all(
    pool: &SqlitePool,
    writes: &[Write],
) -> Result<Vec<Result<Cursor, CommitError>>, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut results = Vec::with_capacity(writes.len());
    for write in writes {
        sqlx::query("SAVEPOINT one_commit")
            .execute(&mut *tx)
            .await?;
        let result = write_one(&mut tx, write).await;
        if result.is_err() {
            sqlx::query("ROLLBACK TO one_commit")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("RELEASE one_commit").execute(&mut *tx).await?;
        results.push(result);
    }
    tx.commit().await?;
    Ok(results)
}

/// One write: the events, the snapshot, then the claims.
async fn write_one(conn: &mut SqliteConnection, write: &Write) -> Result<Cursor, CommitError> {
    let recorded_at = Utc::now();
    let mut position = 0;
    for (offset, (event_type, event_version, payload)) in (1..).zip(&write.events) {
        position = sqlx::query_scalar(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING position",
        )
        .bind(write.aggregate_type)
        .bind(&write.id)
        .bind(write.last_sequence + offset)
        .bind(event_type)
        .bind(event_version)
        .bind(payload)
        .bind(&write.metadata)
        .bind(recorded_at)
        .fetch_one(&mut *conn)
        .await
        .map_err(commit_error)?;
    }
    let count = i64::try_from(write.events.len()).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, schema_version, payload, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
            SET last_sequence = excluded.last_sequence, schema_version = excluded.schema_version,
                payload = excluded.payload, updated_at = excluded.updated_at
          WHERE snapshots.last_sequence < excluded.last_sequence",
    )
    .bind(write.aggregate_type)
    .bind(&write.id)
    .bind(write.last_sequence + count)
    .bind(write.schema_version)
    .bind(&write.snapshot)
    .bind(recorded_at)
    .execute(&mut *conn)
    .await
    .map_err(commit_error)?;
    claim_all(conn, write).await?;
    Ok(cursor(position))
}

/// The write's claims: each value owned by this stream (a claim that is
/// once per owner must be new).
async fn claim_all(conn: &mut SqliteConnection, write: &Write) -> Result<(), CommitError> {
    for release in &write.releases {
        sqlx::query(claims::RELEASE)
            .bind(release.kind.as_str())
            .bind(&release.value)
            .bind(&write.id)
            .execute(&mut *conn)
            .await
            .map_err(commit_error)?;
    }
    for Hold { claim, until } in &write.holds {
        sqlx::query(claims::HOLD)
            .bind(claim.kind.as_str())
            .bind(&claim.value)
            .bind(&write.id)
            .bind(until)
            .execute(&mut *conn)
            .await
            .map_err(commit_error)?;
    }
    for claim in &write.claims {
        if claim.kind.can_be_held() {
            sqlx::query(claims::FREE_HOLD)
                .bind(claim.kind.as_str())
                .bind(&claim.value)
                .bind(Utc::now())
                .bind(&write.id)
                .execute(&mut *conn)
                .await
                .map_err(commit_error)?;
        }
        let inserted = sqlx::query(
            "INSERT INTO unique_claims (kind, value, owner_id) VALUES (?, ?, ?)
             ON CONFLICT (kind, value) DO NOTHING",
        )
        .bind(claim.kind.as_str())
        .bind(&claim.value)
        .bind(&write.id)
        .execute(&mut *conn)
        .await
        .map_err(commit_error)?
        .rows_affected()
            == 1;
        let owner: String =
            sqlx::query_scalar("SELECT owner_id FROM unique_claims WHERE kind = ? AND value = ?")
                .bind(claim.kind.as_str())
                .bind(&claim.value)
                .fetch_one(&mut *conn)
                .await
                .map_err(commit_error)?;
        if owner != write.id || (claim.kind.once_per_owner() && !inserted) {
            return Err(CommitError::Claimed(claim.kind));
        }
    }
    Ok(())
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

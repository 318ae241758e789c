//! Loads aggregates (snapshot plus any newer events) and commits commands.
//!
//! Every commit writes the events, the claims they make and a fresh snapshot
//! in one transaction. The snapshot is taken from the aggregate that the
//! `EventSink` already changed while handling the command; it is never
//! re-applied (the cqrs-es 0.5 `PersistedEventStore` bug). Loading therefore
//! reads one snapshot row and, normally, no events: a command costs the same
//! on the 5,000th event of a stream as on the first.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use projections::Cursor;
use rand::Rng;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::watch;

use super::{Claim, ClaimKind, Metadata};

/// How often a command is retried after losing an optimistic-concurrency
/// race before the caller is told to retry.
const MAX_ATTEMPTS: u32 = 25;

/// What the store needs to know about an aggregate beyond cqrs-es.
pub trait StoredAggregate: Aggregate {
    /// Bumped whenever the aggregate's serialized shape changes; snapshots of
    /// another version are ignored and the stream is replayed.
    const SCHEMA_VERSION: i32;

    /// Unique values the event takes (see `claims`).
    fn claims(_event: &Self::Event) -> Vec<Claim> {
        Vec::new()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("stored data could not be (de)serialized")]
    Serialization(#[from] serde_json::Error),
}

/// Why a command did not commit. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    #[error(transparent)]
    Domain(E),
    #[error("{} is already taken", .0.as_str())]
    Claimed(ClaimKind),
    #[error("too much contention on one aggregate; retry")]
    Contention,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<E: std::error::Error> From<sqlx::Error> for CommandError<E> {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(error))
    }
}

/// The outcome of a committed command.
#[derive(Debug)]
pub struct Committed<A: Aggregate> {
    /// The aggregate after the command.
    pub state: A,
    pub events: Vec<A::Event>,
    /// Where the last event landed in the log; `None` when the command
    /// produced no events.
    pub cursor: Option<Cursor>,
}

pub struct Repository<A> {
    pool: PgPool,
    /// Bumped after each commit so local projectors wake at once.
    appended: Arc<watch::Sender<u64>>,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A> Clone for Repository<A> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            appended: self.appended.clone(),
            _aggregate: PhantomData,
        }
    }
}

enum Attempt<A: Aggregate> {
    Done(Committed<A>),
    Conflict,
}

impl<A> Repository<A>
where
    A: StoredAggregate<Services = ()>,
    A::Command: Clone,
{
    pub fn new(pool: PgPool, appended: Arc<watch::Sender<u64>>) -> Self {
        Self {
            pool,
            appended,
            _aggregate: PhantomData,
        }
    }

    /// The current state of one aggregate and its last sequence number
    /// (0 when the stream is empty).
    pub async fn load(&self, id: &str) -> Result<(A, i64), StoreError> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id).await
    }

    /// Handles `command` against the current state and commits its events,
    /// retrying against fresh state when another writer got there first.
    pub async fn execute(
        &self,
        id: &str,
        command: A::Command,
        metadata: &Metadata,
    ) -> Result<Committed<A>, CommandError<A::Error>> {
        for attempt in 1..=MAX_ATTEMPTS {
            match self.try_execute(id, command.clone(), metadata).await? {
                Attempt::Done(committed) => return Ok(committed),
                Attempt::Conflict => {
                    tracing::debug!(
                        aggregate = A::TYPE,
                        attempt,
                        "concurrency conflict; retrying"
                    );
                    let jitter = rand::thread_rng().gen_range(0..=attempt.min(10));
                    tokio::time::sleep(Duration::from_millis(u64::from(jitter))).await;
                }
            }
        }
        Err(CommandError::Contention)
    }

    async fn try_execute(
        &self,
        id: &str,
        command: A::Command,
        metadata: &Metadata,
    ) -> Result<Attempt<A>, CommandError<A::Error>> {
        let (mut state, last_sequence) = self.load(id).await?;
        let sink = EventSink::default();
        state
            .handle(command, &(), &sink)
            .await
            .map_err(CommandError::Domain)?;
        let events = sink.collect().await;
        if events.is_empty() {
            return Ok(Attempt::Done(Committed {
                state,
                events,
                cursor: None,
            }));
        }
        let mut tx = self.pool.begin().await?;
        let cursor = match append::<A>(&mut tx, id, last_sequence, &events, metadata).await {
            Ok(cursor) => cursor,
            Err(error) if is_unique_violation(&error, "events_pkey") => {
                return Ok(Attempt::Conflict)
            }
            Err(error) => return Err(error.into()),
        };
        if let Some(kind) = claim::<A>(&mut tx, id, &events).await? {
            tx.rollback().await?;
            return Err(CommandError::Claimed(kind));
        }
        save_snapshot(&mut tx, id, last_sequence + events.len() as i64, &state).await?;
        tx.commit().await?;
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
        Ok(Attempt::Done(Committed {
            state,
            events,
            cursor: Some(cursor),
        }))
    }
}

async fn load<A: StoredAggregate>(
    conn: &mut PgConnection,
    id: &str,
) -> Result<(A, i64), StoreError> {
    let snapshot: Option<(i64, i32, serde_json::Value)> = sqlx::query_as(
        "SELECT last_sequence, schema_version, payload FROM snapshots
          WHERE aggregate_type = $1 AND aggregate_id = $2",
    )
    .bind(A::TYPE)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let (mut state, mut sequence) = match snapshot {
        Some((sequence, version, payload)) if version == A::SCHEMA_VERSION => {
            match serde_json::from_value::<A>(payload) {
                Ok(state) => (state, sequence),
                Err(error) => {
                    tracing::warn!(aggregate = A::TYPE, %error, "unreadable snapshot; replaying the stream");
                    (A::default(), 0)
                }
            }
        }
        _ => (A::default(), 0),
    };
    let newer: Vec<(i64, serde_json::Value)> = sqlx::query_as(
        "SELECT sequence, payload FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3
          ORDER BY sequence",
    )
    .bind(A::TYPE)
    .bind(id)
    .bind(sequence)
    .fetch_all(&mut *conn)
    .await?;
    for (seq, payload) in newer {
        state.apply(serde_json::from_value(payload)?);
        sequence = seq;
    }
    Ok((state, sequence))
}

async fn append<A: Aggregate>(
    tx: &mut Transaction<'_, Postgres>,
    id: &str,
    last_sequence: i64,
    events: &[A::Event],
    metadata: &Metadata,
) -> Result<Cursor, sqlx::Error> {
    let count = events.len() as i64;
    let sequences: Vec<i64> = (last_sequence + 1..=last_sequence + count).collect();
    let types: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    let versions: Vec<String> = events.iter().map(DomainEvent::event_version).collect();
    let payloads = events
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let metadata = serde_json::to_string(metadata).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT $1, $2, e.sequence, e.event_type, e.event_version, e.payload::jsonb, $7::jsonb
           FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[])
                AS e(sequence, event_type, event_version, payload)
         RETURNING tx_id::text::bigint, position",
    )
    .bind(A::TYPE)
    .bind(id)
    .bind(&sequences)
    .bind(&types)
    .bind(&versions)
    .bind(&payloads)
    .bind(metadata)
    .fetch_all(&mut **tx)
    .await?;
    let (tx_id, position) = rows.into_iter().max_by_key(|(_, p)| *p).unwrap_or_default();
    Ok(Cursor { tx_id, position })
}

/// Inserts the claims the events make; returns the first one already held
/// by another aggregate.
async fn claim<A: StoredAggregate>(
    tx: &mut Transaction<'_, Postgres>,
    id: &str,
    events: &[A::Event],
) -> Result<Option<ClaimKind>, sqlx::Error> {
    // A fixed order keeps two writers from waiting on each other's claims.
    let mut claims: Vec<Claim> = events.iter().flat_map(A::claims).collect();
    claims.sort();
    for claim in claims {
        let owner: String = sqlx::query_scalar(
            "INSERT INTO unique_claims (kind, value, owner_id) VALUES ($1, $2, $3)
             ON CONFLICT (kind, value) DO UPDATE SET kind = unique_claims.kind
             RETURNING owner_id",
        )
        .bind(claim.kind.as_str())
        .bind(&claim.value)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        if owner != id {
            return Ok(Some(claim.kind));
        }
    }
    Ok(None)
}

async fn save_snapshot<A: StoredAggregate>(
    tx: &mut Transaction<'_, Postgres>,
    id: &str,
    last_sequence: i64,
    state: &A,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, schema_version, payload)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
            SET last_sequence = EXCLUDED.last_sequence, schema_version = EXCLUDED.schema_version,
                payload = EXCLUDED.payload, updated_at = now()
          WHERE snapshots.last_sequence < EXCLUDED.last_sequence",
    )
    .bind(A::TYPE)
    .bind(id)
    .bind(last_sequence)
    .bind(A::SCHEMA_VERSION)
    .bind(serde_json::to_value(state)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn is_unique_violation(error: &sqlx::Error, constraint: &str) -> bool {
    matches!(error, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint))
}

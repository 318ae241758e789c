//! The event store on PostgreSQL. Loading is one round trip (snapshot plus
//! newer events); committing is one statement when the events claim
//! nothing unique, and a short transaction when they do. Both run on a
//! connection the caller holds, so that a command's load and commit share
//! one (see `Writer`). Readers tail the log with `projections::log` (by
//! transaction and position, see there).

use chrono::Utc;
use cqrs_es::DomainEvent;
use projections::Cursor;
use sqlx::{PgConnection, PgPool};

use crate::store::append::{Append, CommitError};
use crate::store::import::ImportError;
use crate::store::{claims, Claim, Hold, StoreError, StoredAggregate};
use crate::telemetry::Chain;

/// The current state of one aggregate and its last sequence number.
pub async fn load<A: StoredAggregate>(
    conn: &mut PgConnection,
    id: &str,
) -> Result<(A, i64), StoreError> {
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
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = rows.into_iter().peekable();
    let (mut state, mut sequence) = match rows.next_if(|(kind, _, _)| *kind == 0) {
        Some((_, sequence, payload)) => match serde_json::from_value::<A>(payload) {
            Ok(state) => (state, sequence),
            Err(error) => {
                tracing::warn!(aggregate = A::TYPE, error = %Chain(&error), "unreadable snapshot; replaying the stream");
                return replay(conn, id).await;
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
async fn replay<A: StoredAggregate>(
    conn: &mut PgConnection,
    id: &str,
) -> Result<(A, i64), StoreError> {
    let rows: Vec<(i64, serde_json::Value)> = sqlx::query_as(
        "SELECT sequence, payload FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(A::TYPE)
    .bind(id)
    .fetch_all(&mut *conn)
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
    conn: &mut PgConnection,
    append: Append<'_, A>,
) -> Result<Cursor, CommitError> {
    let mut claims: Vec<Claim> = append.events.iter().flat_map(A::claims).collect();
    let releases: Vec<Claim> = append.events.iter().flat_map(A::releases).collect();
    let holds: Vec<Hold> = append.events.iter().flat_map(A::holds).collect();
    if claims.is_empty() && releases.is_empty() && holds.is_empty() {
        return write(conn, &append).await;
    }
    let mut tx = sqlx::Connection::begin(conn).await.map_err(commit_error)?;
    let cursor = write(&mut tx, &append).await?;
    for release in releases {
        sqlx::query(claims::RELEASE)
            .bind(release.kind.as_str())
            .bind(&release.value)
            .bind(append.id)
            .execute(&mut *tx)
            .await
            .map_err(commit_error)?;
    }
    for Hold { claim, until } in holds {
        sqlx::query(claims::HOLD)
            .bind(claim.kind.as_str())
            .bind(&claim.value)
            .bind(append.id)
            .bind(until)
            .execute(&mut *tx)
            .await
            .map_err(commit_error)?;
    }
    // A fixed order keeps two writers from waiting on each other's claims.
    claims.sort();
    for claim in claims {
        if claim.kind.can_be_held() {
            sqlx::query(claims::FREE_HOLD)
                .bind(claim.kind.as_str())
                .bind(&claim.value)
                .bind(Utc::now())
                .bind(append.id)
                .execute(&mut *tx)
                .await
                .map_err(commit_error)?;
        }
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

/// Writes every append (each a new stream) in one statement, as `commit`
/// would write each: the events in order, the snapshots, the claims; all or
/// nothing (`store::import`).
pub async fn import<A: StoredAggregate>(
    pool: &PgPool,
    appends: &[Append<'_, A>],
) -> Result<(), ImportError> {
    let Rows {
        events,
        ids,
        sequences,
        snapshots,
        claims,
    } = Rows::of(appends)?;
    sqlx::query(
        "WITH appended AS (
            INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
            SELECT $1, e.id, e.sequence, e.event_type, e.event_version, e.payload::jsonb, e.metadata::jsonb
              FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])
                   WITH ORDINALITY AS e(id, sequence, event_type, event_version, payload, metadata, n)
             ORDER BY e.n
            RETURNING 1
         ), snapshot AS (
            INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, schema_version, payload)
            SELECT $1, s.id, s.last_sequence, $8, s.payload::json
              FROM UNNEST($9::text[], $10::bigint[], $11::text[]) AS s(id, last_sequence, payload)
            RETURNING 1
         ), claimed AS (
            INSERT INTO unique_claims (kind, value, owner_id)
            SELECT * FROM UNNEST($12::text[], $13::text[], $14::text[])
            RETURNING 1
         )
         SELECT (SELECT count(*) FROM appended) + (SELECT count(*) FROM snapshot)
              + (SELECT count(*) FROM claimed)",
    )
    .bind(A::TYPE)
    .bind(&events.ids)
    .bind(&events.sequences)
    .bind(&events.types)
    .bind(&events.versions)
    .bind(&events.payloads)
    .bind(&events.metadata)
    .bind(A::SCHEMA_VERSION)
    .bind(&ids)
    .bind(&sequences)
    .bind(&snapshots)
    .bind(&claims.0)
    .bind(&claims.1)
    .bind(&claims.2)
    .execute(pool)
    .await
    .map_err(import_error)?;
    Ok(())
}

/// A unique violation is a stream that exists or a value already claimed
/// (named in PostgreSQL's detail); anything else is the store's failure.
fn import_error(error: sqlx::Error) -> ImportError {
    match &error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
            let what = db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .and_then(|pg| pg.detail())
                .unwrap_or(db.message())
                .to_owned();
            match db.constraint() {
                Some("events_pkey") => ImportError::Exists,
                _ => ImportError::Taken(what),
            }
        }
        _ => ImportError::Store(error.into()),
    }
}

/// An import as columns for `UNNEST`: the events, each stream's id, last
/// sequence and snapshot, and the claims `(kind, value, owner)`.
struct Rows<'a> {
    events: Columns<'a>,
    ids: Vec<&'a str>,
    sequences: Vec<i64>,
    snapshots: Vec<String>,
    claims: (Vec<&'static str>, Vec<String>, Vec<&'a str>),
}

impl<'a> Rows<'a> {
    fn of<A: StoredAggregate>(appends: &'a [Append<'a, A>]) -> Result<Self, ImportError> {
        let mut events = Columns::default();
        let json = |error: serde_json::Error| ImportError::Store(error.into());
        let (mut ids, mut sequences, mut snapshots) = (Vec::new(), Vec::new(), Vec::new());
        let mut claims: (Vec<&str>, Vec<String>, Vec<&str>) = Default::default();
        for append in appends {
            let metadata = serde_json::to_string(append.metadata).map_err(json)?;
            for (sequence, event) in (append.last_sequence + 1..).zip(append.events) {
                events
                    .push(append.id, sequence, event, &metadata)
                    .map_err(json)?;
                for claim in A::claims(event) {
                    claims.0.push(claim.kind.as_str());
                    claims.1.push(claim.value);
                    claims.2.push(append.id);
                }
            }
            ids.push(append.id);
            sequences.push(append.last_sequence + append.events.len() as i64);
            snapshots.push(serde_json::to_string(append.state).map_err(json)?);
        }
        Ok(Self {
            events,
            ids,
            sequences,
            snapshots,
            claims,
        })
    }
}

/// The events of an import, column by column (for `UNNEST`).
#[derive(Default)]
struct Columns<'a> {
    ids: Vec<&'a str>,
    sequences: Vec<i64>,
    types: Vec<String>,
    versions: Vec<String>,
    payloads: Vec<String>,
    metadata: Vec<String>,
}

impl<'a> Columns<'a> {
    fn push<E: DomainEvent>(
        &mut self,
        id: &'a str,
        sequence: i64,
        event: &E,
        metadata: &str,
    ) -> Result<(), serde_json::Error> {
        self.ids.push(id);
        self.sequences.push(sequence);
        self.types.push(event.event_type());
        self.versions.push(event.event_version());
        self.payloads.push(serde_json::to_string(event)?);
        self.metadata.push(metadata.to_owned());
        Ok(())
    }
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

//! Runs projections: reads the log after their checkpoints, applies a batch
//! and moves each projection's checkpoint, all in one transaction.
//!
//! One runner serves every projection, so a batch of events is read once and
//! costs one transaction however many read models it feeds; each projection
//! still keeps its own checkpoint, so one can be rebuilt from zero while the
//! others stay where they are.
//!
//! Several service instances run projections at once; a transaction-level
//! advisory lock makes them take turns, and each turn starts from the
//! checkpoints the previous turn committed, so nothing is applied twice or
//! skipped. The lock is taken before the log is read and the transaction
//! writes nothing before that read, so it holds no transaction id while
//! reading and does not hold back its own horizon.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use crate::log::{self, Cursor, StoredEvent};

/// Events applied per transaction.
const BATCH: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("event {position} could not be decoded")]
    Decode {
        position: i64,
        #[source]
        source: serde_json::Error,
    },
    #[error("event {position} has an invalid aggregate id")]
    BadAggregateId { position: i64 },
    #[error("unknown projection {0}")]
    Unknown(String),
}

/// A read model built from the log.
#[async_trait]
pub trait Projection: Send + Sync {
    /// Stable name: the checkpoint key and the CLI argument.
    fn name(&self) -> &'static str;
    /// Tables this projection owns; emptied when it is rebuilt.
    fn tables(&self) -> &'static [&'static str];
    /// Applies one event inside the batch transaction. Events of no interest
    /// are ignored.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError>;
}

/// Runs a set of projections and publishes how far all of them got.
pub struct Projector {
    pool: PgPool,
    projections: Vec<Arc<dyn Projection>>,
    progress: watch::Sender<Cursor>,
}

impl Projector {
    pub async fn new(
        pool: PgPool,
        projections: Vec<Arc<dyn Projection>>,
    ) -> Result<Self, ProjectionError> {
        for projection in &projections {
            sqlx::query(
                "INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING",
            )
            .bind(projection.name())
            .execute(&pool)
            .await?;
        }
        let (progress, _) = watch::channel(Cursor::default());
        Ok(Self {
            pool,
            projections,
            progress,
        })
    }

    fn names(&self) -> Vec<&'static str> {
        self.projections.iter().map(|p| p.name()).collect()
    }

    /// Follows the checkpoint of the slowest projection as it moves.
    pub fn progress(&self) -> watch::Receiver<Cursor> {
        self.progress.subscribe()
    }

    /// Applies one batch; returns how many events it read.
    pub async fn step(&self) -> Result<usize, ProjectionError> {
        let mut tx = self.pool.begin().await?;
        lock(&mut tx).await?;
        let checkpoints = checkpoints(&mut tx, &self.names()).await?;
        let from = checkpoints.iter().copied().min().unwrap_or_default();
        let events = log::read_after(&mut tx, from, BATCH).await?;
        let Some(last) = events.last().map(StoredEvent::cursor) else {
            tx.rollback().await?;
            self.progress.send_if_modified(|seen| advance(seen, from));
            return Ok(0);
        };
        for (projection, checkpoint) in self.projections.iter().zip(&checkpoints) {
            for event in events.iter().filter(|e| e.cursor() > *checkpoint) {
                projection.apply(&mut tx, event).await?;
            }
        }
        sqlx::query(
            "UPDATE projection_checkpoints SET tx_id = $2::text::xid8, position = $3, updated_at = now()
              WHERE name = ANY($1)",
        )
        .bind(self.names())
        .bind(last.tx_id.to_string())
        .bind(last.position)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.progress.send_if_modified(|seen| advance(seen, last));
        Ok(events.len())
    }

    /// Applies batches until every projection reaches the head of the log.
    pub async fn catch_up(&self) -> Result<usize, ProjectionError> {
        let mut total = 0;
        loop {
            let applied = self.step().await?;
            total += applied;
            if applied == 0 {
                return Ok(total);
            }
        }
    }

    /// Empties these projections' read models and applies the whole log
    /// again from position zero.
    pub async fn rebuild(&self) -> Result<usize, ProjectionError> {
        let mut tx = self.pool.begin().await?;
        lock(&mut tx).await?;
        for table in self.projections.iter().flat_map(|p| p.tables()) {
            sqlx::query(&format!("TRUNCATE {table}"))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE projection_checkpoints SET tx_id = '0', position = 0, updated_at = now() WHERE name = ANY($1)",
        )
        .bind(self.names())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.progress.send_replace(Cursor::default());
        self.catch_up().await
    }

    /// Follows the log until `shutdown` changes: catches up whenever `wake`
    /// changes (a local append) or `poll` passes (appends by other instances).
    /// Errors are logged and retried: skipping an event is never an option.
    pub async fn run(
        self,
        mut wake: watch::Receiver<u64>,
        poll: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            if let Err(error) = self.catch_up().await {
                tracing::error!(error = %error, cause = ?std::error::Error::source(&error), "projection failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            tokio::select! {
                _ = wake.changed() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

fn advance(seen: &mut Cursor, to: Cursor) -> bool {
    if to > *seen {
        *seen = to;
        true
    } else {
        false
    }
}

async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('identity:projections'))")
        .execute(conn)
        .await
        .map(|_| ())
}

/// The checkpoints of `names`, in that order.
async fn checkpoints(
    conn: &mut PgConnection,
    names: &[&'static str],
) -> Result<Vec<Cursor>, sqlx::Error> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT name, tx_id::text::bigint, position FROM projection_checkpoints WHERE name = ANY($1)",
    )
    .bind(names)
    .fetch_all(conn)
    .await?;
    Ok(names
        .iter()
        .map(|name| {
            rows.iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, tx_id, position)| Cursor {
                    tx_id: *tx_id,
                    position: *position,
                })
                .unwrap_or_default()
        })
        .collect())
}

/// Parses the aggregate id of an event about a user or session (a UUID).
pub fn aggregate_uuid(event: &StoredEvent) -> Result<uuid::Uuid, ProjectionError> {
    uuid::Uuid::parse_str(&event.aggregate_id).map_err(|_| ProjectionError::BadAggregateId {
        position: event.position,
    })
}

/// Decodes an event's payload, attaching its position to any error.
pub fn decode<E: serde::de::DeserializeOwned>(event: &StoredEvent) -> Result<E, ProjectionError> {
    event.decode().map_err(|source| ProjectionError::Decode {
        position: event.position,
        source,
    })
}

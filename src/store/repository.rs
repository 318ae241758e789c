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
use cqrs_es::Aggregate;
use projections::Cursor;
use rand::Rng;
use tokio::sync::watch;
use tracing::Instrument;

use super::append::{Append, CommitError};
use super::writers::Writers;
use super::Database;
use super::{Claim, ClaimKind, Hold, Metadata};

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

    /// Unique values of this aggregate the event gives up: deleted in the
    /// same transaction, before the event's own claims are taken.
    fn releases(_event: &Self::Event) -> Vec<Claim> {
        Vec::new()
    }

    /// Unique values of this aggregate the event stops using but keeps
    /// until a time (see `claims::Hold`): set in the same transaction,
    /// before the event's own claims are taken.
    fn holds(_event: &Self::Event) -> Vec<Hold> {
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
    /// The aggregate's last sequence number after the command.
    pub sequence: i64,
}

impl<A: Aggregate + Clone> Committed<A> {
    /// Where the caller's next command on the same aggregate can start.
    pub fn start(&self) -> Start<A> {
        Start::Known {
            state: self.state.clone(),
            sequence: self.sequence,
        }
    }
}

/// Where a command starts.
#[derive(Debug)]
pub enum Start<A> {
    /// From the stored aggregate, loaded.
    Load,
    /// From what the caller knows of the aggregate: as its previous command
    /// left it ([`Committed::start`]), or a stream nobody wrote yet
    /// ([`Start::new_stream`]). The load is skipped. If anything was
    /// committed to the aggregate since, the commit conflicts and the
    /// command runs again on the loaded aggregate; so does a command the
    /// known state refuses, since the stored one might not.
    Known { state: A, sequence: i64 },
}

impl<A: Default> Start<A> {
    /// A stream under an id just made (a UUID v7): nothing to load.
    pub fn new_stream() -> Self {
        Self::Known {
            state: A::default(),
            sequence: 0,
        }
    }
}

pub struct Repository<A> {
    db: Database,
    /// Sent the furthest cursor committed after each commit, so local
    /// projectors and log readers wake at once.
    appended: Arc<watch::Sender<Cursor>>,
    /// This instance's writers take turns per aggregate (see `writers`).
    writers: Arc<Writers>,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A> Clone for Repository<A> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            appended: self.appended.clone(),
            writers: self.writers.clone(),
            _aggregate: PhantomData,
        }
    }
}

enum Attempt<A: Aggregate> {
    Done(Committed<A>),
    Conflict,
    /// The known state was not the stored one, or refused the command.
    Stale,
}

impl<A> Repository<A>
where
    A: StoredAggregate<Services = ()>,
    A::Command: Clone,
{
    pub fn new(db: impl Into<Database>, appended: Arc<watch::Sender<Cursor>>) -> Self {
        Self {
            db: db.into(),
            appended,
            writers: Arc::default(),
            _aggregate: PhantomData,
        }
    }

    /// The current state of one aggregate and its last sequence number
    /// (0 when the stream is empty).
    pub async fn load(&self, id: &str) -> Result<(A, i64), StoreError> {
        self.db.load(id).await
    }

    /// Handles `command` against the current state and commits its events,
    /// retrying against fresh state when a writer on another instance got
    /// there first (this instance's writers of one aggregate take turns).
    pub async fn execute(
        &self,
        id: &str,
        command: A::Command,
        metadata: &Metadata,
    ) -> Result<Committed<A>, CommandError<A::Error>> {
        self.execute_from(id, Start::Load, command, metadata).await
    }

    /// [`Self::execute`] from what the caller knows of the aggregate
    /// (see [`Start`]): a command that follows another on the same
    /// aggregate, or starts a new one, saves the load.
    pub async fn execute_from(
        &self,
        id: &str,
        start: Start<A>,
        command: A::Command,
        metadata: &Metadata,
    ) -> Result<Committed<A>, CommandError<A::Error>> {
        let span = tracing::info_span!(
            target: crate::telemetry::SPANS,
            "command",
            otel.name = %format_args!("command {}", A::TYPE),
            aggregate.type = A::TYPE,
            aggregate.id = id,
        );
        self.execute_in_turn(id, start, command, metadata)
            .instrument(span)
            .await
    }

    async fn execute_in_turn(
        &self,
        id: &str,
        start: Start<A>,
        command: A::Command,
        metadata: &Metadata,
    ) -> Result<Committed<A>, CommandError<A::Error>> {
        let metadata = &metadata.traced();
        let _turn = self.writers.turn(id).await;
        let mut known = match start {
            Start::Load => None,
            Start::Known { state, sequence } => Some((state, sequence)),
        };
        for attempt in 1..=MAX_ATTEMPTS {
            match self
                .try_execute(id, known.take(), command.clone(), metadata)
                .await?
            {
                Attempt::Done(committed) => {
                    crate::instruments::committed(A::TYPE, committed.events.len());
                    return Ok(committed);
                }
                Attempt::Conflict => {
                    tracing::debug!(
                        aggregate = A::TYPE,
                        attempt,
                        "concurrency conflict; retrying"
                    );
                    let jitter = rand::thread_rng().gen_range(0..=attempt.min(10));
                    tokio::time::sleep(Duration::from_millis(u64::from(jitter))).await;
                }
                Attempt::Stale => {}
            }
        }
        Err(CommandError::Contention)
    }

    /// One try of `command`, from `known` (see [`Start`]) or the loaded
    /// aggregate.
    async fn try_execute(
        &self,
        id: &str,
        known: Option<(A, i64)>,
        command: A::Command,
        metadata: &Metadata,
    ) -> Result<Attempt<A>, CommandError<A::Error>> {
        let mut writer = self.db.writer().await?;
        let from_known = known.is_some();
        let (mut state, last_sequence) = match known {
            Some(known) => known,
            None => writer.load::<A>(id).await?,
        };
        let sink = EventSink::default();
        if let Err(refused) = state.handle(command, &(), &sink).await {
            if from_known {
                return Ok(Attempt::Stale);
            }
            return Err(CommandError::Domain(refused));
        }
        let events = sink.collect().await;
        if events.is_empty() {
            if from_known {
                // Nothing to commit, so nothing would tell a stale state.
                return Ok(Attempt::Stale);
            }
            return Ok(Attempt::Done(Committed {
                state,
                events,
                cursor: None,
                sequence: last_sequence,
            }));
        }
        let append = Append {
            id,
            last_sequence,
            events: &events,
            state: &state,
            metadata,
        };
        let commit = tracing::info_span!(
            target: crate::telemetry::SPANS,
            "store.commit",
            aggregate.type = A::TYPE,
            events = events.len(),
        );
        let cursor = match writer.commit(append).instrument(commit).await {
            Ok(cursor) => cursor,
            Err(CommitError::Conflict) if from_known => return Ok(Attempt::Stale),
            Err(CommitError::Conflict) => return Ok(Attempt::Conflict),
            Err(CommitError::Claimed(kind)) => return Err(CommandError::Claimed(kind)),
            Err(CommitError::Store(error)) => return Err(CommandError::Store(error)),
        };
        self.appended
            .send_modify(|reached| *reached = (*reached).max(cursor));
        Ok(Attempt::Done(Committed {
            state,
            sequence: last_sequence + events.len() as i64,
            events,
            cursor: Some(cursor),
        }))
    }
}

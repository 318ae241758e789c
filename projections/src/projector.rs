//! Runs projections: each one reads the log after its own checkpoint,
//! applies a batch and moves that checkpoint, in one transaction of its own.
//!
//! Each projection is independent of the others. Its checkpoint moves only
//! forward and only past events it applied: a rebuild of one (even from
//! another process, beside a running server) never moves another's, and a
//! projection that cannot apply an event (a read-model constraint, a value
//! out of range, a payload it cannot decode) stops *alone*, just before that
//! event: the event and its error are recorded in `projection_failures`,
//! the projection is reported as stalled, and it retries with a growing
//! pause. The other projections, the write path and start-up go on.
//!
//! A projection is pure: it turns an event into [`Change`]s to its read
//! model and knows no SQL. The storage layer ([`ProjectionStore`], one
//! implementation per backend) reads the log, writes the changes and moves
//! checkpoints, so the same projections run on every backend.
//!
//! Batches are read once per distinct checkpoint (normally all projections
//! share one) outside any transaction, so a reader never holds back the
//! log's horizon. Applying locks the projection's checkpoint for the
//! transaction and checks it did not move since the read: several instances
//! (or a CLI rebuild) take turns per projection, and nothing is applied
//! twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

pub use crate::change::Change;
use crate::log::{Cursor, StoredEvent};
use crate::store::ProjectionStore;

/// Events applied per transaction.
const BATCH: i64 = 500;
/// First pause before a stalled projection tries its event again; doubled
/// on every further failure, up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);

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
    #[error("projection {name} stalled at event {position}: {error}")]
    Stalled {
        name: &'static str,
        position: i64,
        error: String,
    },
}

impl ProjectionError {
    /// Whether trying the same event again later may succeed without any
    /// change to the code or the data: the database was unreachable or the
    /// transaction lost a race. Anything else is this event's fault and
    /// stalls the projection.
    fn is_transient(&self) -> bool {
        matches!(self, Self::Database(error) if crate::db_errors::is_transient(error))
    }
}

/// A read model built from the log.
pub trait Projection: Send + Sync {
    /// Stable name: the checkpoint key and the CLI argument.
    fn name(&self) -> &'static str;
    /// Tables this projection owns; emptied when it is rebuilt.
    fn tables(&self) -> &'static [&'static str];
    /// What one event changes in the read model (nothing for events of no
    /// interest). Pure: the store writes the changes in the batch's
    /// transaction.
    fn changes(&self, event: &StoredEvent) -> Result<Vec<Change>, ProjectionError>;
}

/// How far one projection got, as published to waiting requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The last event applied.
    pub cursor: Cursor,
    /// Stopped on an event it cannot apply: waiting for it is pointless.
    pub stalled: bool,
}

/// One projection with its progress and its retry state.
struct Runner {
    projection: Arc<dyn Projection>,
    progress: watch::Sender<Progress>,
    /// When a stalled projection tries again, and the pause after that.
    retry: Mutex<Option<(Instant, Duration)>>,
}

impl Runner {
    fn name(&self) -> &'static str {
        self.projection.name()
    }

    fn due(&self) -> bool {
        self.lock_retry().is_none_or(|(at, _)| Instant::now() >= at)
    }

    fn lock_retry(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Duration)>> {
        // A poisoned lock only means a panic elsewhere; the value is a plain
        // pair and still meaningful.
        self.retry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, cursor: Cursor, stalled: bool) {
        let next = Progress { cursor, stalled };
        self.progress.send_if_modified(|seen| {
            let changed = *seen != next;
            *seen = next;
            changed
        });
    }

    fn healthy(&self, cursor: Cursor) {
        *self.lock_retry() = None;
        self.publish(cursor, false);
    }

    fn stalled(&self, cursor: Cursor) {
        let mut retry = self.lock_retry();
        let pause = retry.map_or(FIRST_RETRY, |(_, pause)| (pause * 2).min(MAX_RETRY));
        *retry = Some((Instant::now() + pause, pause));
        drop(retry);
        self.publish(cursor, true);
    }

    fn is_stalled(&self) -> bool {
        self.progress.borrow().stalled
    }
}

/// What one attempt at a batch did.
enum Outcome {
    Applied(usize),
    /// Another runner moved the checkpoint first; read again.
    Moved,
    Stalled,
}

/// Runs a set of projections and publishes how far each one got.
pub struct Projector {
    store: Arc<dyn ProjectionStore>,
    runners: Vec<Runner>,
}

impl Projector {
    pub async fn new(
        store: Arc<dyn ProjectionStore>,
        projections: Vec<Arc<dyn Projection>>,
    ) -> Result<Self, ProjectionError> {
        let mut runners = Vec::with_capacity(projections.len());
        for projection in projections {
            store.register(projection.name()).await?;
            runners.push(Runner {
                projection,
                progress: watch::channel(Progress::default()).0,
                retry: Mutex::new(None),
            });
        }
        Ok(Self { store, runners })
    }

    /// Follows each projection's progress as it moves.
    pub fn progress(&self) -> Vec<watch::Receiver<Progress>> {
        self.runners
            .iter()
            .map(|r| r.progress.subscribe())
            .collect()
    }

    /// Gives every projection that is due one batch; returns how many
    /// events were applied in all.
    pub async fn step(&self) -> Result<usize, ProjectionError> {
        let due: Vec<&Runner> = self.runners.iter().filter(|r| r.due()).collect();
        if due.is_empty() {
            return Ok(0);
        }
        let names: Vec<&str> = due.iter().map(|r| r.name()).collect();
        let checkpoints = self.store.checkpoints(&names).await?;
        let mut batches: HashMap<Cursor, Arc<Vec<StoredEvent>>> = HashMap::new();
        let mut applied = 0;
        for runner in due {
            let from = checkpoints.get(runner.name()).copied().unwrap_or_default();
            let events = match batches.get(&from) {
                Some(events) => events.clone(),
                None => {
                    let events = Arc::new(self.store.read_after(from, BATCH).await?);
                    batches.insert(from, events.clone());
                    events
                }
            };
            if events.is_empty() {
                if !runner.is_stalled() {
                    runner.healthy(from);
                }
                continue;
            }
            match self.apply(runner, from, &events).await? {
                Outcome::Applied(n) => applied += n,
                Outcome::Moved | Outcome::Stalled => {}
            }
        }
        Ok(applied)
    }

    /// Applies `events` (read after `from`) to one projection. On an event
    /// it cannot apply, the events before it are applied, the checkpoint
    /// stops just before it and the failure is recorded, all in one
    /// transaction.
    async fn apply(
        &self,
        runner: &Runner,
        from: Cursor,
        events: &[StoredEvent],
    ) -> Result<Outcome, ProjectionError> {
        let name = runner.name();
        let mut tx = self.store.begin().await?;
        if tx.lock_checkpoint(name).await? != from {
            return Ok(Outcome::Moved);
        }
        let mut failed = None;
        for (index, event) in events.iter().enumerate() {
            if let Err(error) = apply(&mut *tx, runner, event).await {
                failed = Some((index, error));
                break;
            }
        }
        let Some((index, error)) = failed else {
            let last = events.last().map(StoredEvent::cursor).unwrap_or(from);
            tx.set_checkpoint(name, last).await?;
            // Another instance may have recorded a failure of this
            // projection: applying past it ends the stall (a cheap delete
            // on a table of at most one row per projection).
            tx.clear_failure(name).await?;
            tx.commit().await?;
            runner.healthy(last);
            return Ok(Outcome::Applied(events.len()));
        };
        // A failed statement may have aborted the transaction: start again,
        // apply what came before the bad event and record it.
        tx.rollback().await?;
        if error.is_transient() {
            return Err(error);
        }
        let mut tx = self.store.begin().await?;
        if tx.lock_checkpoint(name).await? != from {
            return Ok(Outcome::Moved);
        }
        let before = &events[..index];
        for event in before {
            apply(&mut *tx, runner, event).await?;
        }
        let reached = before.last().map(StoredEvent::cursor).unwrap_or(from);
        tx.set_checkpoint(name, reached).await?;
        let bad = &events[index];
        let message = format!("{:#}", anyhow_chain(&error));
        tx.record_failure(name, bad, &message).await?;
        tx.commit().await?;
        tracing::error!(
            projection = name,
            position = bad.position,
            event_type = %bad.event_type,
            error = %message,
            "projection stalled on an event it cannot apply; the others go on"
        );
        runner.stalled(reached);
        Ok(Outcome::Stalled)
    }

    /// Applies batches until every projection that is not stalled reaches
    /// the head of the log.
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
    /// again from position zero. Fails if one of them stalls on the way.
    pub async fn rebuild(&self) -> Result<usize, ProjectionError> {
        let mut tx = self.store.begin().await?;
        for runner in &self.runners {
            tx.lock_checkpoint(runner.name()).await?;
            for table in runner.projection.tables() {
                tx.empty(table).await?;
            }
            tx.set_checkpoint(runner.name(), Cursor::default()).await?;
            tx.clear_failure(runner.name()).await?;
        }
        tx.commit().await?;
        for runner in &self.runners {
            runner.healthy(Cursor::default());
        }
        let applied = self.catch_up().await?;
        for runner in self.runners.iter().filter(|r| r.is_stalled()) {
            if let Some(failure) = self.store.failure(runner.name()).await? {
                return Err(ProjectionError::Stalled {
                    name: runner.name(),
                    position: failure.position,
                    error: failure.error,
                });
            }
        }
        Ok(applied)
    }

    /// Follows the log until `shutdown` changes: catches up whenever `wake`
    /// changes (a local append) or `poll` passes (appends by other instances,
    /// retries of stalled projections). Errors are logged and retried:
    /// skipping an event is never an option. Shutdown is watched at every
    /// wait, also while the database is unreachable.
    pub async fn run(
        self,
        mut wake: watch::Receiver<u64>,
        poll: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            let pause = tokio::select! {
                result = self.catch_up() => match result {
                    Ok(_) => poll,
                    Err(error) => {
                        tracing::error!(error = %anyhow_chain(&error), "projections failed; retrying");
                        Duration::from_secs(1)
                    }
                },
                _ = shutdown.changed() => return,
            };
            tokio::select! {
                _ = wake.changed() => {}
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// The error with its causes, for logs and the failure record.
fn anyhow_chain(error: &ProjectionError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Applies one event's changes inside the batch transaction.
async fn apply(
    tx: &mut dyn crate::store::ProjectionTx,
    runner: &Runner,
    event: &StoredEvent,
) -> Result<(), ProjectionError> {
    for change in runner.projection.changes(event)? {
        tx.apply(&change).await?;
    }
    Ok(())
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

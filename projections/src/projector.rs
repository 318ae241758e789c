//! Runs projections: each one reads the log after its own checkpoint,
//! applies a batch and moves that checkpoint in one transaction, which
//! projections at the same checkpoint share.
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
//! twice. Because that lock is the guard, a projection this runner just
//! moved reads on from where it put it, without reading its checkpoint
//! first; it reads the checkpoint again when the lock finds it moved, and
//! when a poll finds nothing new in the log (a rebuild elsewhere may have
//! set it back).
//!
//! A round starts at once when a request waits for the read models
//! ([`Wakes::wanted`]: read-your-writes). A commit nobody waits for yet
//! ([`Wakes::appended`]) starts one after [`GATHER`], so that the commits
//! of the moment share a batch: a login commits three times (reserve the
//! password check, complete it, start the session) and waits only after
//! the last, so its three commits cost one batch, not three. [`GATHER`]
//! is longer than a password check (about 20 ms per core at the default
//! argon2 cost): at 10 ms, a quarter of the batches under a login load held
//! only reservations, which change no read model, and cost a transaction
//! each. Wakes carry the cursor they are for, so a wake for a commit the
//! last round already read starts no round of its own. A fixed pause
//! for every round was tried first: it cut PostgreSQL's statements per
//! login by a third, but every waiting command waited for it too, which on
//! SQLite cost a third of the login rate and made a known account's
//! password reset measurably slower than an unknown one's. Waiters never
//! wait for [`GATHER`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

pub use crate::change::Change;
use crate::log::{Cursor, StoredEvent};
use crate::recent::RecentLog;
use crate::store::ProjectionStore;

/// Events applied per transaction, at most: a live batch holds what
/// committed since the last one; a rebuild or catch-up reads full batches,
/// written a few statements per kind of change (`ProjectionTx::apply_all`).
const BATCH: i64 = 2_000;
/// First pause before a stalled projection tries its event again; doubled
/// on every further failure, up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);
/// How long a commit nobody waits for may wait for others to share its
/// batch (see the module doc).
pub const GATHER: Duration = Duration::from_millis(50);
/// First pause before a round tries again to reach a local commit that
/// the last one could not read yet (see [`Projector::run`]).
const FIRST_HORIZON_RETRY: Duration = Duration::from_millis(5);

/// What starts a projector's round besides its poll.
pub struct Wakes {
    /// The furthest place in the log a commit of this instance reached,
    /// sent after every commit.
    pub appended: watch::Receiver<Cursor>,
    /// The furthest commit a request of this instance waits for the read
    /// models to reach, sent when one starts waiting.
    pub wanted: watch::Receiver<Cursor>,
}

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
    /// The published cursor is the stored checkpoint as this runner left
    /// it, so the next step may read on from it (see the module doc).
    known: AtomicBool,
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
        self.known.store(true, Ordering::Relaxed);
    }

    /// The checkpoint as this runner left it, if nothing since says it
    /// may have moved.
    fn known_checkpoint(&self) -> Option<Cursor> {
        let progress = *self.progress.borrow();
        (self.known.load(Ordering::Relaxed) && !progress.stalled).then_some(progress.cursor)
    }

    /// Another runner (or a rebuild) may have moved the checkpoint: read it
    /// before the next batch.
    fn forget_checkpoint(&self) {
        self.known.store(false, Ordering::Relaxed);
    }

    fn stalled(&self, cursor: Cursor) {
        let mut retry = self.lock_retry();
        let pause = retry.map_or(FIRST_RETRY, |(_, pause)| (pause * 2).min(MAX_RETRY));
        *retry = Some((Instant::now() + pause, pause));
        drop(retry);
        self.forget_checkpoint();
        self.publish(cursor, true);
    }

    fn is_stalled(&self) -> bool {
        self.progress.borrow().stalled
    }
}

/// What one [`Projector::step`] did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Step {
    /// Events applied, counted once per projection.
    pub applied: usize,
    /// Whether more may be waiting: a batch was full, or a checkpoint
    /// moved under it.
    pub more: bool,
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
    /// Every batch read, for the other followers of the log.
    recent: Arc<RecentLog>,
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
                known: AtomicBool::new(false),
            });
        }
        Ok(Self {
            store,
            runners,
            recent: Arc::default(),
        })
    }

    /// The stretch of the log this projector read last, for the other
    /// followers of the log in this process.
    pub fn recent(&self) -> Arc<RecentLog> {
        Arc::clone(&self.recent)
    }

    /// Follows each projection's progress as it moves, by name.
    pub fn progress(&self) -> Vec<(&'static str, watch::Receiver<Progress>)> {
        self.runners
            .iter()
            .map(|r| (r.name(), r.progress.subscribe()))
            .collect()
    }

    /// Gives every projection that is due one batch.
    ///
    /// Projections at the same checkpoint (normally all of them) share one
    /// read of the log and one transaction: on SQLite every write
    /// transaction waits for the file's one writer and syncs the disk, on
    /// PostgreSQL it flushes the WAL, and a batch of session refreshes
    /// changes one read model and only moves the others' checkpoints. A
    /// projection that cannot apply the batch is taken out of the shared
    /// transaction and applied alone ([`Self::apply_alone`]), so it stalls
    /// without holding the others back.
    pub async fn step(&self) -> Result<Step, ProjectionError> {
        self.step_in(Round::Confirming).await
    }

    async fn step_in(&self, round: Round) -> Result<Step, ProjectionError> {
        let due: Vec<&Runner> = self.runners.iter().filter(|r| r.due()).collect();
        let mut step = Step::default();
        if due.is_empty() {
            return Ok(step);
        }
        let unknown: Vec<&str> = due
            .iter()
            .filter(|r| r.known_checkpoint().is_none())
            .map(|r| r.name())
            .collect();
        let checkpoints = if unknown.is_empty() {
            Default::default()
        } else {
            self.store.checkpoints(&unknown).await?
        };
        let mut groups: Vec<(Cursor, Vec<&Runner>)> = Vec::new();
        for runner in due {
            let from = runner
                .known_checkpoint()
                .unwrap_or_else(|| checkpoints.get(runner.name()).copied().unwrap_or_default());
            match groups.iter_mut().find(|(at, _)| *at == from) {
                Some((_, runners)) => runners.push(runner),
                None => groups.push((from, vec![runner])),
            }
        }
        for (from, runners) in groups {
            let events: Arc<[StoredEvent]> = self.store.read_after(from, BATCH).await?.into();
            self.recent.extend(from, Arc::clone(&events));
            if events.len() >= BATCH as usize {
                step.more = true;
            }
            if events.is_empty() {
                for runner in runners.iter().filter(|r| !r.is_stalled()) {
                    if runner.known_checkpoint().is_some() {
                        // Nothing after where this runner left it: confirm
                        // the stored checkpoint is still there.
                        if round == Round::Confirming {
                            runner.forget_checkpoint();
                            step.more = true;
                        }
                    } else {
                        runner.healthy(from);
                    }
                }
                continue;
            }
            let span = tracing::info_span!(
                target: crate::SPANS,
                "projection.batch",
                projections = runners.len(),
                events = events.len(),
                from = from.position,
            );
            self.apply_group(runners, from, &events, &mut step)
                .instrument(span)
                .await?;
        }
        Ok(step)
    }

    /// Applies one batch of `events` to the `runners` that read from
    /// `from`: together where they can, alone where they must.
    async fn apply_group(
        &self,
        runners: Vec<&Runner>,
        from: Cursor,
        events: &[StoredEvent],
        step: &mut Step,
    ) -> Result<(), ProjectionError> {
        // A stalled projection retries alone: it records its failure
        // again if the event still cannot be applied.
        let (mut alone, shared): (Vec<&Runner>, Vec<&Runner>) =
            runners.into_iter().partition(|r| r.is_stalled());
        alone.extend(self.apply_shared(&shared, from, events, step).await?);
        for runner in alone {
            match self.apply_alone(runner, from, events).await? {
                Outcome::Applied(n) => step.applied += n,
                Outcome::Moved => step.more = true,
                Outcome::Stalled => {}
            }
        }
        Ok(())
    }

    /// Applies `events` (read after `from`) to `runners` in one
    /// transaction. Returns the runners that must be applied alone: those
    /// whose changes cannot be computed, or all of them if writing the
    /// changes failed.
    async fn apply_shared<'r>(
        &self,
        runners: &[&'r Runner],
        from: Cursor,
        events: &[StoredEvent],
        step: &mut Step,
    ) -> Result<Vec<&'r Runner>, ProjectionError> {
        let mut alone = Vec::new();
        let mut planned = Vec::with_capacity(runners.len());
        for &runner in runners {
            let changes: Result<Vec<Vec<Change>>, _> = events
                .iter()
                .map(|event| runner.projection.changes(event))
                .collect();
            match changes {
                Ok(changes) => planned.push((runner, changes)),
                Err(_) => alone.push(runner),
            }
        }
        if planned.is_empty() {
            return Ok(alone);
        }
        let last = events.last().map(StoredEvent::cursor).unwrap_or(from);
        let mut tx = self.store.begin().await?;
        let names: Vec<&str> = planned.iter().map(|(r, _)| r.name()).collect();
        // The checkpoints move first, and only those still where the batch
        // was read from: one round trip locks, checks and advances them.
        let claimed = tx.claim(&names, from, last).await?;
        // Another instance (or a rebuild) moved these since the read: their
        // batch is stale, and the next step reads again.
        let (ready, moved): (Vec<_>, Vec<_>) = planned
            .into_iter()
            .partition(|(r, _)| claimed.iter().any(|name| name == r.name()));
        if !moved.is_empty() {
            step.more = true;
            moved.iter().for_each(|(r, _)| r.forget_checkpoint());
        }
        if ready.is_empty() {
            tx.rollback().await?;
            return Ok(alone);
        }
        let changes: Vec<&Change> = ready
            .iter()
            .flat_map(|(_, changes)| changes.iter().flatten())
            .collect();
        if let Err(error) = tx.apply_all(&changes).await {
            tx.rollback().await?;
            let error = ProjectionError::from(error);
            if error.is_transient() {
                return Err(error);
            }
            alone.extend(ready.into_iter().map(|(r, _)| r));
            return Ok(alone);
        }
        tx.commit().await?;
        for (runner, _) in &ready {
            runner.healthy(last);
        }
        step.applied += events.len() * ready.len();
        Ok(alone)
    }

    /// Applies `events` (read after `from`) to one projection in a
    /// transaction of its own. On an event it cannot apply, the events
    /// before it are applied, the checkpoint stops just before it and the
    /// failure is recorded, all in one transaction.
    async fn apply_alone(
        &self,
        runner: &Runner,
        from: Cursor,
        events: &[StoredEvent],
    ) -> Result<Outcome, ProjectionError> {
        let name = runner.name();
        let mut tx = self.store.begin().await?;
        if tx.lock_checkpoints(&[name]).await?.get(name) != Some(&from) {
            runner.forget_checkpoint();
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
            tx.advance(&[name], last).await?;
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
        if tx.lock_checkpoints(&[name]).await?.get(name) != Some(&from) {
            runner.forget_checkpoint();
            return Ok(Outcome::Moved);
        }
        let before = &events[..index];
        for event in before {
            apply(&mut *tx, runner, event).await?;
        }
        let reached = before.last().map(StoredEvent::cursor).unwrap_or(from);
        tx.set_checkpoints(&[name], reached).await?;
        let bad = &events[index];
        let message = crate::error_chain::Chain(&error).to_string();
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
    /// the head of the log; returns how many events were applied, counted
    /// once per projection.
    pub async fn catch_up(&self) -> Result<usize, ProjectionError> {
        self.catch_up_in(Round::Confirming).await
    }

    async fn catch_up_in(&self, round: Round) -> Result<usize, ProjectionError> {
        let mut total = 0;
        loop {
            let step = self.step_in(round).await?;
            total += step.applied;
            // A batch shorter than the limit reached the head as it was
            // read: reading again at once would find nothing, or what
            // committed since, which the wake-up that commit sent brings.
            if !step.more {
                return Ok(total);
            }
        }
    }

    /// Empties these projections' read models and applies the whole log
    /// again from position zero. Fails if one of them stalls on the way.
    pub async fn rebuild(&self) -> Result<usize, ProjectionError> {
        let names: Vec<&str> = self.runners.iter().map(Runner::name).collect();
        let mut tx = self.store.begin().await?;
        tx.lock_checkpoints(&names).await?;
        for runner in &self.runners {
            for table in runner.projection.tables() {
                tx.empty(table).await?;
            }
        }
        tx.advance(&names, Cursor::default()).await?;
        tx.commit().await?;
        for runner in &self.runners {
            runner.healthy(Cursor::default());
        }
        let tables: Vec<&str> = self
            .runners
            .iter()
            .flat_map(|r| r.projection.tables().iter().copied())
            .collect();
        self.store.begin_bulk(&tables).await?;
        let applied = self.catch_up().await;
        // Whether or not the catch-up got through: the indexes come back.
        self.store.end_bulk().await?;
        let applied = applied?;
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

    /// Follows the log until `shutdown` changes: catches up whenever a
    /// request waits for it, [`GATHER`] after a local commit, or when `poll`
    /// passes (appends by other instances, retries of stalled projections).
    /// A wake for a cursor the projections already passed starts nothing:
    /// the round that passed it read that commit. A local commit still
    /// unread after a round (it sits after a PostgreSQL transaction still
    /// in flight, which the reader never passes) is tried again after
    /// [`FIRST_HORIZON_RETRY`], doubling while it stays unread, up to the
    /// poll.
    /// Errors are logged and retried: skipping an event is never an option.
    /// Shutdown is watched at every wait, also while the database is
    /// unreachable.
    pub async fn run(self, wakes: Wakes, poll: Duration, mut shutdown: watch::Receiver<bool>) {
        let Wakes {
            mut appended,
            mut wanted,
        } = wakes;
        let mut round = Round::Confirming;
        let mut horizon_retry = FIRST_HORIZON_RETRY;
        loop {
            // The round reads after this: every commit and wait so far is
            // its to bring, and only a later one wakes the next.
            appended.borrow_and_update();
            wanted.borrow_and_update();
            let mut pause = tokio::select! {
                result = self.catch_up_in(round) => match result {
                    Ok(_) => poll,
                    Err(error) => {
                        tracing::error!(error = %crate::error_chain::Chain(&error), "projections failed; retrying");
                        Duration::from_secs(1)
                    }
                },
                _ = shutdown.changed() => return,
            };
            let horizon = self.behind((*wanted.borrow()).max(*appended.borrow()));
            if horizon {
                pause = pause.min(horizon_retry);
                horizon_retry = (horizon_retry * 2).min(poll);
            } else {
                horizon_retry = FIRST_HORIZON_RETRY;
            }
            let until = Instant::now() + pause;
            // A closed channel (its sender gone) disables its branch
            // instead of waking the loop again and again.
            round = loop {
                tokio::select! {
                    Ok(()) = wanted.changed() => {
                        if self.behind(*wanted.borrow_and_update()) {
                            break Round::Local;
                        }
                    }
                    Ok(()) = appended.changed() => {
                        if self.behind(*appended.borrow_and_update()) {
                            tokio::select! {
                                Ok(()) = wanted.changed() => {}
                                _ = tokio::time::sleep(GATHER) => {}
                                _ = shutdown.changed() => return,
                            }
                            break Round::Local;
                        }
                    }
                    _ = tokio::time::sleep_until(until) => {
                        break if horizon { Round::Local } else { Round::Confirming };
                    }
                    _ = shutdown.changed() => return,
                }
            };
        }
    }

    /// Whether some projection that is not stalled has yet to reach
    /// `cursor`.
    fn behind(&self, cursor: Cursor) -> bool {
        self.runners.iter().any(|r| {
            let progress = *r.progress.borrow();
            !progress.stalled && progress.cursor < cursor
        })
    }
}

/// Why a round runs, which decides whether a runner that finds nothing new
/// reads its stored checkpoint again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// A local append woke the projector: what the runners remember is as
    /// good as the stored checkpoints until they have something to apply
    /// (the checkpoint lock then tells a move).
    Local,
    /// Start-up, a poll, a retry: anything may have moved the checkpoints
    /// (a rebuild beside the server sets them back), so a runner that finds
    /// nothing new reads its stored one.
    Confirming,
}

/// The error with its causes, for logs and the failure record.
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

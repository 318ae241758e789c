//! Group commit: the commands that wait for the file's write turn at the
//! same moment share one transaction, so one disk sync acknowledges all of
//! them.
//!
//! With `synchronous = FULL` every SQLite commit syncs the write-ahead log
//! before it returns, which is what makes an acknowledged command survive
//! a power cut, and SQLite lets one writer in at a time: one sync per
//! command would bound the service at one command per sync. Instead each
//! command queues its write and waits for the turn; whoever gets it first
//! takes the whole queue and writes it in one `BEGIN IMMEDIATE … COMMIT`,
//! each command inside a savepoint of its own, so one that lost a race or
//! a claim is rolled back alone and the others commit. Nobody is answered
//! before the one sync that makes their write durable, so the guarantee is
//! the same as one transaction per command.
//!
//! The batch runs in a task of its own, which holds the turn: a request
//! whose client went away cannot cut a batch short that others wait on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use projections::Cursor;
use sqlx::SqlitePool;
use tokio::sync::oneshot;

use super::events::{write_batch, Write};
use super::turns::turn;
use crate::store::append::CommitError;
use crate::store::StoreError;

/// Writes waiting for a batch, per database file open in this process.
static QUEUES: LazyLock<Mutex<HashMap<PathBuf, Arc<Queue>>>> = LazyLock::new(Mutex::default);

type Answer = oneshot::Sender<Result<Cursor, CommitError>>;

#[derive(Default)]
struct Queue(Mutex<Vec<(Write, Answer)>>);

impl Queue {
    fn of(pool: &SqlitePool) -> Arc<Self> {
        let options = pool.connect_options();
        let file = options.get_filename();
        // A poisoned map only means a panic elsewhere while inserting; the
        // map itself is still whole.
        let mut queues = QUEUES.lock().unwrap_or_else(|p| p.into_inner());
        match queues.get(file) {
            Some(queue) => queue.clone(),
            None => queues.entry(file.to_path_buf()).or_default().clone(),
        }
    }

    fn push(&self, write: Write, answer: Answer) {
        self.lock().push((write, answer));
    }

    fn take(&self) -> Vec<(Write, Answer)> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Write, Answer)>> {
        // A poisoned queue only means a panic while pushing or taking; the
        // vector is whole either way.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Commits `write`, in a batch with whatever else is waiting.
pub async fn commit(pool: &SqlitePool, write: Write) -> Result<Cursor, CommitError> {
    let queue = Queue::of(pool);
    let (answer, mut answered) = oneshot::channel();
    queue.push(write, answer);
    let turn = tokio::select! {
        // Committed by a batch that took this write while it waited.
        result = &mut answered => return result.unwrap_or_else(|_| Err(abandoned())),
        turn = turn(pool) => turn,
    };
    // A batch may have answered between the two branches being polled.
    if let Ok(result) = answered.try_recv() {
        return result;
    }
    // The queue holds this write: a batch answers every write it takes
    // before it gives the turn back.
    let batch = queue.take();
    let pool = pool.clone();
    tokio::spawn(async move {
        let _turn = turn;
        write_batch(&pool, batch).await;
    });
    answered.await.unwrap_or_else(|_| Err(abandoned()))
}

/// A batch ended without answering: its task panicked. Whether the write
/// committed is unknown, as after a lost connection.
fn abandoned() -> CommitError {
    CommitError::Store(StoreError::Database(sqlx::Error::WorkerCrashed))
}

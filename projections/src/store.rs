//! The port the projector needs from storage: the log, the checkpoints, the
//! failure records and a transaction that writes [`Change`]s. Each backend
//! implements it in the service's storage layer, with its own SQL.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::{Change, Cursor, Failure, StoredEvent};

/// Storage for projections, shared by every runner of one projector.
#[async_trait]
pub trait ProjectionStore: Send + Sync {
    /// Creates the checkpoint of `name` at the start of the log if missing.
    async fn register(&self, name: &str) -> Result<(), sqlx::Error>;
    /// The checkpoints of `names`, in one query.
    async fn checkpoints(&self, names: &[&str]) -> Result<HashMap<String, Cursor>, sqlx::Error>;
    /// Up to `limit` events after `after`, in log order, never past one
    /// that might still commit before them.
    async fn read_after(&self, after: Cursor, limit: i64) -> Result<Vec<StoredEvent>, sqlx::Error>;
    /// Starts a write transaction.
    async fn begin(&self) -> Result<Box<dyn ProjectionTx>, sqlx::Error>;
    /// The recorded failure of `name`, if it is stalled.
    async fn failure(&self, name: &str) -> Result<Option<Failure>, sqlx::Error>;
    /// Every stalled projection, by name.
    async fn failures(&self) -> Result<Vec<Failure>, sqlx::Error>;
    /// A rebuild is about to refill `tables`: the store may set their
    /// secondary indexes aside until [`Self::end_bulk`] (nothing by
    /// default).
    async fn begin_bulk(&self, _tables: &[&str]) -> Result<(), sqlx::Error> {
        Ok(())
    }
    /// The rebuild ended (or failed): whatever `begin_bulk` set aside is
    /// back.
    async fn end_bulk(&self) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

/// One write transaction: read-model rows and the checkpoint commit
/// together or not at all.
#[async_trait]
pub trait ProjectionTx: Send {
    /// Locks the checkpoints of `names` until commit (in name order, so
    /// two transactions never wait for each other's) and reads them.
    async fn lock_checkpoints(
        &mut self,
        names: &[&str],
    ) -> Result<HashMap<String, Cursor>, sqlx::Error>;
    /// Moves the checkpoints of `names` to `to`, in one statement, leaving
    /// their failure records (a projection stalling just before `to`).
    async fn set_checkpoints(&mut self, names: &[&str], to: Cursor) -> Result<(), sqlx::Error>;
    /// Writes one change to a read model.
    async fn apply(&mut self, change: &Change) -> Result<(), sqlx::Error>;
    /// Writes `changes` (of a batch, in log order), with as few statements
    /// as their order allows.
    async fn apply_all(&mut self, changes: &[&Change]) -> Result<(), sqlx::Error>;
    /// Removes every row of `table` (one of a projection's own tables).
    async fn empty(&mut self, table: &str) -> Result<(), sqlx::Error>;
    /// Records that `name` failed on `event`; a repeat on the same event
    /// counts another attempt.
    async fn record_failure(
        &mut self,
        name: &str,
        event: &StoredEvent,
        error: &str,
    ) -> Result<(), sqlx::Error>;
    /// Moves the checkpoints of `names` to `to` past the events they
    /// applied (or back to the start, for a rebuild), ending any stall
    /// recorded for them: another instance may have recorded one.
    async fn advance(&mut self, names: &[&str], to: Cursor) -> Result<(), sqlx::Error>;
    /// Locks the checkpoints of `names` (as [`Self::lock_checkpoints`])
    /// and [`advances`](Self::advance) to `to` those still at `from`,
    /// answering their names: the others moved since the batch was read,
    /// and their projections' changes must not be written. The read-model
    /// rows are written after the claim, in the same transaction, so they
    /// commit with it or not at all. A backend may do it in one statement.
    async fn claim(
        &mut self,
        names: &[&str],
        from: Cursor,
        to: Cursor,
    ) -> Result<Vec<String>, sqlx::Error> {
        let locked = self.lock_checkpoints(names).await?;
        let still: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| locked.get(*name) == Some(&from))
            .collect();
        if !still.is_empty() {
            self.advance(&still, to).await?;
        }
        Ok(still.into_iter().map(str::to_owned).collect())
    }
    async fn commit(self: Box<Self>) -> Result<(), sqlx::Error>;
    async fn rollback(self: Box<Self>) -> Result<(), sqlx::Error>;
}

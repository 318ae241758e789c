//! What a commit writes and how it can fail, the same on every backend.

use super::{ClaimKind, Metadata, StoreError, StoredAggregate};

/// What a commit writes.
pub struct Append<'a, A: StoredAggregate> {
    pub id: &'a str,
    pub last_sequence: i64,
    pub events: &'a [A::Event],
    /// The aggregate after the events (the snapshot to store).
    pub state: &'a A,
    pub metadata: &'a Metadata,
}

#[derive(Debug)]
pub enum CommitError {
    /// Another writer appended to the stream first.
    Conflict,
    Claimed(ClaimKind),
    Store(StoreError),
}

impl From<serde_json::Error> for CommitError {
    fn from(error: serde_json::Error) -> Self {
        Self::Store(error.into())
    }
}

impl From<StoreError> for CommitError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

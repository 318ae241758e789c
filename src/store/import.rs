//! Bulk loading: the first commits of many new streams in one transaction,
//! written exactly as [`Database::commit`] writes each (events, snapshot
//! and claims, encoded by the same code), only without a round trip per
//! stream.
//!
//! For tools that fill a store, such as the bench's seeding of a million
//! accounts; the service itself never imports. It does not wake projectors
//! or the relay: run it before the service starts, then rebuild (or let
//! start-up catch up).

use super::append::{Append, CommitError};
use super::{postgres, sqlite, Database, StoreError, StoredAggregate};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A value claimed by an event is taken (by another stream, or twice in
    /// the import); as the database names it.
    #[error("a claimed value is already taken: {0}")]
    Taken(String),
    /// A stream already has events: an import only starts streams.
    #[error("a stream of the import already exists")]
    Exists,
}

impl From<CommitError> for ImportError {
    fn from(error: CommitError) -> Self {
        match error {
            CommitError::Conflict => Self::Exists,
            CommitError::Claimed(kind) => Self::Taken(kind.as_str().to_owned()),
            CommitError::Store(error) => Self::Store(error),
        }
    }
}

/// One new stream: its id, events, the state after them and their metadata.
pub struct NewStream<'a, A: StoredAggregate> {
    pub id: &'a str,
    pub events: &'a [A::Event],
    pub state: &'a A,
    pub metadata: &'a super::Metadata,
}

impl Database {
    /// Writes every stream of `streams` (each new: its first event has
    /// sequence 1), all or nothing.
    pub async fn import<A: StoredAggregate>(
        &self,
        streams: &[NewStream<'_, A>],
    ) -> Result<(), ImportError> {
        let appends: Vec<Append<'_, A>> = streams
            .iter()
            .map(|stream| Append {
                id: stream.id,
                last_sequence: 0,
                events: stream.events,
                state: stream.state,
                metadata: stream.metadata,
            })
            .collect();
        match self {
            Self::Postgres(pool) => postgres::events::import(pool, &appends).await,
            Self::Sqlite(pool) => sqlite::events::import(pool, &appends)
                .await
                .map_err(ImportError::from),
        }
    }
}

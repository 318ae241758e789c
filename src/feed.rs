//! The event feed over HTTP: the log as downstream services read it without
//! a broker, in the envelope they get on NATS (`relay::Envelope`).
//!
//! Readers name the **position of the last event they received** (`after`,
//! or `Last-Event-ID` for Server-Sent Events); 0 is the start. The feed
//! turns that position back into the full log cursor (the event's
//! transaction and position, see `projections::log`), so a reader resumes
//! exactly after what it saw and never skips an event that committed late.
//! That is also why events come in *log order*: where two transactions
//! committed out of position order, a smaller position can follow a larger
//! one, so a reader keeps the last position it received, not the largest.

use std::time::Duration;

use futures_util::Stream;
use projections::Cursor;
use tokio::sync::watch;

use crate::error::AppError;
use crate::relay::Envelope;
use crate::store::{Database, StoreError};
use crate::telemetry::Chain;

/// Events per page when the reader does not say.
pub const DEFAULT_LIMIT: i64 = 100;
/// Most events per page.
pub const MAX_LIMIT: i64 = 1_000;
/// Events read per round trip by a stream.
const STREAM_BATCH: i64 = 1_000;
/// Longest accepted event type prefix.
pub const MAX_PREFIX_LEN: usize = 200;

/// What a reader asks for: events after a position, optionally only those
/// whose type starts with a prefix (`identity.user.`).
#[derive(Debug, Clone)]
pub struct FeedRequest {
    pub after: i64,
    pub limit: i64,
    pub type_prefix: Option<String>,
}

/// One page and where the next one starts.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Page {
    /// In log order; the envelope of `docs/events.md`.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Envelope>,
    /// The `after` of the next page: the last event's position, or the
    /// request's `after` when the page is empty (nothing newer yet).
    pub next_after: i64,
}

/// Events after `request.after`, up to `request.limit`.
pub async fn page(db: &Database, request: &FeedRequest) -> Result<Page, AppError> {
    let cursor = resolve(db, request.after).await?;
    let events = db
        .read_after(cursor, request.limit, request.type_prefix.as_deref())
        .await?;
    let next_after = events.last().map_or(request.after, |e| e.position);
    Ok(Page {
        events: events.iter().map(Envelope::from_stored).collect(),
        next_after,
    })
}

/// The cursor of the event at `after`; 422 naming `after` when there is
/// no such event.
pub async fn resolve(db: &Database, after: i64) -> Result<Cursor, AppError> {
    db.cursor_at(after).await?.ok_or_else(|| {
        AppError::Validation(vec![crate::error::FieldError::new(
            "after",
            "unknown_position",
            "no event has this position; quote the position of an event you received, or 0",
        )])
    })
}

/// How long an idle stream waits before it sends an empty batch (which the
/// HTTP layer turns into a keep-alive comment).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Where a stream is and how it wakes.
struct Tail {
    db: Database,
    cursor: Cursor,
    type_prefix: Option<String>,
    /// Sent after each of this instance's commits.
    wake: watch::Receiver<Cursor>,
    /// Commits of other instances are found by polling this often.
    poll: Duration,
    shutdown: watch::Receiver<bool>,
}

/// Batches read ahead of the client.
const READ_AHEAD: usize = 2;

/// Every event after `cursor`, then each new one as it commits, until the
/// service shuts down, in batches of up to 1,000, each passed through
/// `encode` (one write to the client per batch: sending events one by one
/// capped the stream near 9,000 events/s). An empty batch means nothing
/// happened for a while. A task of its own reads and encodes the next
/// batches while the current one is sent; it ends when the client goes.
/// A database error ends the stream (the reader reconnects with
/// `Last-Event-ID` and loses nothing).
pub fn stream<T: Send + 'static>(
    db: Database,
    cursor: Cursor,
    type_prefix: Option<String>,
    wake: watch::Receiver<Cursor>,
    poll: Duration,
    shutdown: watch::Receiver<bool>,
    encode: impl Fn(&[Envelope]) -> T + Send + 'static,
) -> impl Stream<Item = T> {
    let mut tail = Tail {
        db,
        cursor,
        type_prefix,
        wake,
        poll,
        shutdown,
    };
    let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        while let Some(batch) = tail.next().await {
            if sender.send(encode(&batch)).await.is_err() {
                return;
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        let next = receiver.recv().await?;
        Some((next, receiver))
    })
}

impl Tail {
    async fn next(&mut self) -> Option<Vec<Envelope>> {
        let idle_since = tokio::time::Instant::now();
        loop {
            if *self.shutdown.borrow() {
                return None;
            }
            match self.fill().await {
                Ok(batch) if !batch.is_empty() => return Some(batch),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = %Chain(&error), "event stream ended by a database error");
                    return None;
                }
            }
            if idle_since.elapsed() >= KEEP_ALIVE {
                return Some(Vec::new());
            }
            tokio::select! {
                _ = self.wake.changed() => {}
                () = tokio::time::sleep(self.poll) => {}
                _ = self.shutdown.changed() => return None,
            }
        }
    }

    /// The next batch after the cursor (empty when there is none yet).
    async fn fill(&mut self) -> Result<Vec<Envelope>, StoreError> {
        let events = self
            .db
            .read_after(self.cursor, STREAM_BATCH, self.type_prefix.as_deref())
            .await?;
        if let Some(last) = events.last() {
            self.cursor = last.cursor();
        }
        Ok(events.iter().map(Envelope::from_stored).collect())
    }
}

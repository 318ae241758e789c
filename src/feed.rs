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

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::Stream;
use projections::log::{cursor_at, read_matching};
use projections::Cursor;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::error::AppError;
use crate::relay::Envelope;

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
pub async fn page(pool: &PgPool, request: &FeedRequest) -> Result<Page, AppError> {
    let mut conn = pool.acquire().await?;
    let cursor = resolve(&mut conn, request.after).await?;
    let events = read_matching(
        &mut conn,
        cursor,
        request.limit,
        request.type_prefix.as_deref(),
    )
    .await?;
    let next_after = events.last().map_or(request.after, |e| e.position);
    Ok(Page {
        events: events.iter().map(Envelope::from_stored).collect(),
        next_after,
    })
}

/// The cursor of the event at `after`; 422 naming `after` when there is
/// no such event.
pub async fn resolve(conn: &mut sqlx::PgConnection, after: i64) -> Result<Cursor, AppError> {
    cursor_at(conn, after).await?.ok_or_else(|| {
        AppError::Validation(vec![crate::error::FieldError::new(
            "after",
            "unknown_position",
            "no event has this position; quote the position of an event you received, or 0",
        )])
    })
}

/// Where a stream is: what it has read but not yet sent, and how it wakes.
struct Tail {
    pool: PgPool,
    cursor: Cursor,
    type_prefix: Option<String>,
    pending: VecDeque<Envelope>,
    /// Bumped by this instance's commits.
    wake: watch::Receiver<u64>,
    /// Commits of other instances are found by polling this often.
    poll: Duration,
    shutdown: watch::Receiver<bool>,
}

/// Every event after `cursor`, then each new one as it commits, until the
/// service shuts down. A database error ends the stream (the reader
/// reconnects with `Last-Event-ID` and loses nothing).
pub fn stream(
    pool: PgPool,
    cursor: Cursor,
    type_prefix: Option<String>,
    wake: watch::Receiver<u64>,
    poll: Duration,
    shutdown: watch::Receiver<bool>,
) -> impl Stream<Item = Envelope> {
    let tail = Tail {
        pool,
        cursor,
        type_prefix,
        pending: VecDeque::new(),
        wake,
        poll,
        shutdown,
    };
    futures_util::stream::unfold(tail, |mut tail| async move {
        let next = tail.next().await?;
        Some((next, tail))
    })
}

impl Tail {
    async fn next(&mut self) -> Option<Envelope> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if *self.shutdown.borrow() {
                return None;
            }
            match self.fill().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "event stream ended by a database error");
                    return None;
                }
            }
            tokio::select! {
                _ = self.wake.changed() => {}
                () = tokio::time::sleep(self.poll) => {}
                _ = self.shutdown.changed() => return None,
            }
        }
    }

    /// Reads the next batch; whether it found anything.
    async fn fill(&mut self) -> Result<bool, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let events = read_matching(
            &mut conn,
            self.cursor,
            STREAM_BATCH,
            self.type_prefix.as_deref(),
        )
        .await?;
        let Some(last) = events.last() else {
            return Ok(false);
        };
        self.cursor = last.cursor();
        self.pending
            .extend(events.iter().map(Envelope::from_stored));
        Ok(true)
    }
}

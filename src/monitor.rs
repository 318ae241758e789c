//! How far behind the log the relay and the projections are, kept in
//! memory for readiness (and anything else that reports lag).
//!
//! Readiness used to count the relay's unpublished events on every request
//! (`count(*)` over the log after its checkpoint): 770 ms at 4M events, and
//! from position 0 with the relay off. Now a background task refreshes the
//! figures every poll interval with reads whose cost does not grow with the
//! log: the head (the newest event, one step of the tail index), the
//! relay's checkpoint (one row) and the time of the first event after it
//! (one step of the tail index again). Readiness reads the last figures
//! and never touches the log.
//!
//! Lag in events is the difference of positions, an estimate: positions
//! taken by transactions that rolled back are never used, so it can
//! overstate the lag by those few.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use projections::{Cursor, Progress};
use serde::Serialize;
use tokio::sync::watch;

use crate::store::Database;
use crate::telemetry::Chain;

/// How long one refresh may take before it is abandoned (the database is
/// unreachable); the last figures stay, marked with their age.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(1);

/// The relay's lag: events not yet published and the age of the oldest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Lag {
    pub events: i64,
    pub seconds: f64,
}

/// One projection's distance from the head, in events, and the age of the
/// oldest event it has not applied yet (0 when it is at the head).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionLag {
    pub name: &'static str,
    pub position: i64,
    pub lag_events: i64,
    pub lag_seconds: f64,
}

/// The figures of the last refresh.
#[derive(Debug, Clone, Default)]
struct Figures {
    head: Cursor,
    relay: Option<Lag>,
    /// Per projection cursor behind the head: the age of the next event.
    waiting: Vec<(Cursor, f64)>,
    /// When these were read; `None` before the first refresh.
    at: Option<tokio::time::Instant>,
}

/// Shared handle: the background task writes, readers copy.
#[derive(Clone)]
pub struct LagMonitor {
    figures: Arc<RwLock<Figures>>,
    projections: Vec<(&'static str, watch::Receiver<Progress>)>,
}

impl LagMonitor {
    pub fn new(projections: Vec<(&'static str, watch::Receiver<Progress>)>) -> Self {
        Self {
            figures: Arc::default(),
            projections,
        }
    }

    /// The relay's lag as last read (`None` with the relay off, or before
    /// the first refresh).
    pub fn relay(&self) -> Option<Lag> {
        self.read().relay
    }

    /// Each projection's position (as it runs) against the head (as last
    /// read).
    pub fn projections(&self) -> Vec<ProjectionLag> {
        let figures = self.read();
        self.projections
            .iter()
            .map(|(name, progress)| {
                let cursor = progress.borrow().cursor;
                let lag_events = (figures.head.position - cursor.position).max(0);
                // The age read for this cursor, or for an older one (an
                // upper bound) if the projection moved since.
                let lag_seconds = figures
                    .waiting
                    .iter()
                    .filter(|(at, _)| *at <= cursor)
                    .map(|(_, age)| *age)
                    .reduce(f64::min)
                    .filter(|_| lag_events > 0)
                    .unwrap_or(0.0);
                ProjectionLag {
                    name,
                    position: cursor.position,
                    lag_events,
                    lag_seconds,
                }
            })
            .collect()
    }

    /// How old the figures are; `None` before the first refresh.
    pub fn age(&self) -> Option<Duration> {
        self.read().at.map(|at| at.elapsed())
    }

    fn read(&self) -> Figures {
        // A poisoned lock only means a panic elsewhere mid-write of plain
        // values; they are still meaningful.
        self.figures
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Refreshes the figures every `poll` until `shutdown` changes. With
    /// `relay` set, also the relay's lag (PostgreSQL; the relay runs there
    /// only).
    pub async fn run(
        self,
        db: Database,
        relay: bool,
        poll: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            let cursors: Vec<Cursor> = self
                .projections
                .iter()
                .map(|(_, progress)| progress.borrow().cursor)
                .collect();
            match tokio::time::timeout(REFRESH_TIMEOUT, refresh(&db, relay, cursors)).await {
                Ok(Ok(figures)) => {
                    *self.figures.write().unwrap_or_else(|p| p.into_inner()) = figures;
                }
                Ok(Err(error)) => {
                    tracing::debug!(error = %Chain(&error), "lag figures not refreshed")
                }
                Err(_) => tracing::debug!("lag figures not refreshed: timed out"),
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// The head, the relay's lag, and for each distinct projection cursor
/// behind the head the age of the first event after it (one step of the
/// log's index each; none when every projection is at the head).
async fn refresh(
    db: &Database,
    relay: bool,
    mut cursors: Vec<Cursor>,
) -> Result<Figures, crate::store::StoreError> {
    let head = db.head().await?;
    let relay = match (relay, db.postgres()) {
        (true, Some(pool)) => Some(crate::relay::lag(pool, head).await?),
        _ => None,
    };
    cursors.sort();
    cursors.dedup();
    let mut waiting = Vec::new();
    for cursor in cursors.into_iter().filter(|c| c.position < head.position) {
        if let Some(next) = db.read_after(cursor, 1, None).await?.first() {
            let age = (chrono::Utc::now() - next.recorded_at).as_seconds_f64();
            waiting.push((cursor, age.max(0.0)));
        }
    }
    Ok(Figures {
        head,
        relay,
        waiting,
        at: Some(tokio::time::Instant::now()),
    })
}

//! In-memory copies of read-model rows that are read far more often than
//! they change, keyed by account: the profile behind `GET /me` (following
//! the user directory) and what a refresh needs of the account (following
//! the login lookup).
//!
//! A copy must never be older than the read model it came from once a
//! command that changed it has answered (read-your-writes). So copies are
//! dropped only after the read model applied the change, never before:
//! [`ReadCache::follow`] watches this instance's view of the projection's
//! progress and, for every event of the aggregate the projection applied,
//! drops that aggregate's copy. Commands waiting for the projections wait
//! for this too ([`ReadCache::progress`]).
//!
//! A read racing a change can have fetched the row just before the
//! projection applied it; its copy must not land after the drop. Every
//! drop therefore bumps an epoch, and a read only keeps its copy if no drop
//! happened since it started ([`ReadCache::epoch`], [`ReadCache::insert`]).
//! Bounded: when full, the whole map is dropped and fills again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use projections::{Cursor, Progress, RecentLog};
use tokio::sync::watch;
use uuid::Uuid;

use crate::store::Database;
use crate::telemetry::Chain;

/// Events read per round while following the projection.
const BATCH: i64 = 1000;

pub struct ReadCache<V> {
    entries: RwLock<HashMap<Uuid, Arc<V>>>,
    epoch: AtomicU64,
    capacity: usize,
    /// How far the drops got (in step with the projection followed).
    progress: watch::Sender<Progress>,
}

impl<V> ReadCache<V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::default(),
            epoch: AtomicU64::new(0),
            capacity,
            progress: watch::channel(Progress::default()).0,
        }
    }

    pub fn get(&self, id: &Uuid) -> Option<Arc<V>> {
        self.read().get(id).cloned()
    }

    /// Take before reading the row; hand to [`Self::insert`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps `value`, read after `epoch` was taken, unless a copy was
    /// dropped since (it may predate the change that caused the drop).
    pub fn insert(&self, epoch: u64, id: Uuid, value: Arc<V>) {
        let mut entries = self.write();
        // Under the lock drops also take: no drop can slip in between.
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(id, value);
    }

    /// What commands waiting for read-your-writes also wait for.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.read().len()
    }

    /// Drops the copies of `ids`; none given, nothing changes (and the
    /// epoch stays, so reads in flight keep their copies).
    fn drop_copies(&self, ids: impl IntoIterator<Item = Uuid>) {
        let mut ids = ids.into_iter().peekable();
        if ids.peek().is_none() {
            return;
        }
        let mut entries = self.write();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for id in ids {
            entries.remove(&id);
        }
    }

    fn drop_all(&self) {
        let mut entries = self.write();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Uuid, Arc<V>>> {
        // A poisoned lock only means a panic while changing a plain map.
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Uuid, Arc<V>>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows `projection` (this instance's view of its progress, which
    /// also moves when another instance applied the events) and drops the
    /// copy of every `aggregate_type` aggregate whose events it applied,
    /// until `shutdown` changes. A projection going back (a rebuild) drops
    /// everything.
    pub async fn follow(
        self: Arc<Self>,
        db: Database,
        recent: Arc<RecentLog>,
        event_prefix: &'static str,
        mut projection: watch::Receiver<Progress>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        // A stalled projection is not waited for, nor is this behind it.
        let Progress {
            cursor: mut seen,
            stalled,
        } = *projection.borrow_and_update();
        self.publish(seen, stalled);
        loop {
            tokio::select! {
                changed = projection.changed() => if changed.is_err() { return },
                _ = shutdown.changed() => return,
            }
            let Progress { cursor, stalled } = *projection.borrow_and_update();
            if cursor < seen {
                self.drop_all();
            } else if let Err(error) = self
                .drop_applied(&db, &recent, event_prefix, seen, cursor)
                .await
            {
                // Which copies are stale is unknown: drop them all.
                tracing::warn!(error = %Chain(&error), "read cache: cannot read the log; dropping every copy");
                self.drop_all();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            seen = cursor;
            self.publish(seen, stalled);
        }
    }

    /// Drops the copies of the aggregates with events in `(from, to]`: from
    /// the projector's last reads when they hold them, else from the log.
    async fn drop_applied(
        &self,
        db: &Database,
        recent: &RecentLog,
        event_prefix: &str,
        mut from: Cursor,
        to: Cursor,
    ) -> Result<(), crate::store::StoreError> {
        let mut applied = Vec::new();
        let covered = recent.visit(from, Some(to), |e| {
            if e.event_type.starts_with(event_prefix) {
                applied.extend(Uuid::parse_str(&e.aggregate_id).ok());
            }
        });
        if covered.is_some() {
            self.drop_copies(applied);
            return Ok(());
        }
        while from < to {
            let events = db.read_after(from, BATCH, Some(event_prefix)).await?;
            self.drop_copies(
                events
                    .iter()
                    .take_while(|e| e.cursor() <= to)
                    .filter_map(|e| Uuid::parse_str(&e.aggregate_id).ok()),
            );
            match events.last() {
                Some(last) if events.len() == BATCH as usize && last.cursor() < to => {
                    from = last.cursor();
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn publish(&self, cursor: Cursor, stalled: bool) {
        self.progress.send_replace(Progress { cursor, stalled });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_started_before_a_drop_is_not_kept() {
        let cache = ReadCache::new(10);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let before = cache.epoch();
        cache.drop_copies([b]);
        cache.insert(before, a, Arc::new("stale"));
        assert!(cache.get(&a).is_none());
        let after = cache.epoch();
        cache.insert(after, a, Arc::new("fresh"));
        assert_eq!(cache.get(&a).as_deref(), Some(&"fresh"));
        cache.drop_copies([a]);
        assert!(cache.get(&a).is_none());
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = ReadCache::new(3);
        for _ in 0..3 {
            cache.insert(cache.epoch(), Uuid::now_v7(), Arc::new(1));
        }
        assert_eq!(cache.len(), 3);
        let id = Uuid::now_v7();
        cache.insert(cache.epoch(), id, Arc::new(2));
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&id).is_some());
    }
}

//! The stretch of the log the projector read last, kept in memory for the
//! other followers of the log in the same process (the revocations, the
//! read caches), so that they do not read the same events again.
//!
//! Every committed event is read by the projector anyway, right after the
//! append that wakes it; each follower reading it once more cost a query per
//! follower per batch, as many queries as the commits themselves under
//! load. The window holds whole batches as the projector read them, so what
//! it covers is exactly a contiguous part of the log: every event after
//! [`Window::start`] up to its end, none skipped (the projector's read
//! never passes an event that might still commit before the ones it
//! returns). A follower whose cursor falls outside it (it is further
//! behind, another instance applied the events, the projector is stalled
//! or restarted from an older checkpoint) reads the log itself.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::log::{Cursor, StoredEvent};

/// Events kept, at most (whole batches are dropped from the front).
const CAPACITY: usize = 8_192;

/// The window, shared by the projector (which fills it) and the followers.
#[derive(Debug)]
pub struct RecentLog {
    window: Mutex<Window>,
    /// The window's end, moved by every batch: followers wait on it.
    end: watch::Sender<Cursor>,
}

#[derive(Debug, Default)]
struct Window {
    /// The events after this cursor are all in `batches`, in log order.
    start: Cursor,
    batches: VecDeque<Arc<[StoredEvent]>>,
    len: usize,
}

impl Window {
    fn end(&self) -> Cursor {
        self.batches
            .back()
            .and_then(|b| b.last())
            .map_or(self.start, StoredEvent::cursor)
    }
}

impl Default for RecentLog {
    fn default() -> Self {
        Self {
            window: Mutex::default(),
            end: watch::channel(Cursor::default()).0,
        }
    }
}

impl RecentLog {
    /// The projector read `events`, every event after `from` up to the last
    /// of them.
    pub(crate) fn extend(&self, from: Cursor, events: Arc<[StoredEvent]>) {
        let Some(last) = events.last().map(StoredEvent::cursor) else {
            return;
        };
        let mut window = self.lock();
        if window.end() != from {
            // Not contiguous with what is kept (another checkpoint, a
            // rebuild): start the window over at this batch.
            *window = Window {
                start: from,
                ..Window::default()
            };
        }
        window.len += events.len();
        window.batches.push_back(events);
        while window.len > CAPACITY && window.batches.len() > 1 {
            if let Some(first) = window.batches.pop_front() {
                window.len -= first.len();
                window.start = first.last().map_or(window.start, StoredEvent::cursor);
            }
        }
        drop(window);
        self.end.send_replace(last);
    }

    /// Moves whenever a batch is added.
    pub fn watch(&self) -> watch::Receiver<Cursor> {
        self.end.subscribe()
    }

    /// Visits, in log order, every event after `from` up to `to` (or up to
    /// the window's end), if the window holds all of them; returns how far
    /// that reached. `None`: the window does not cover `from` (or `to`),
    /// and the caller reads the log.
    pub fn visit(
        &self,
        from: Cursor,
        to: Option<Cursor>,
        mut each: impl FnMut(&StoredEvent),
    ) -> Option<Cursor> {
        let window = self.lock();
        let end = window.end();
        let to = to.unwrap_or(end);
        if from < window.start || from > end || to > end {
            return None;
        }
        // Batches wholly at or before `from` are skipped by their last event.
        let first = window
            .batches
            .partition_point(|b| b.last().is_some_and(|e| e.cursor() <= from));
        for event in window.batches.range(first..).flat_map(|b| b.iter()) {
            let at = event.cursor();
            if at > to {
                break;
            }
            if at > from {
                each(event);
            }
        }
        Some(to.max(from))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        // A poisoned lock only means a panic elsewhere; the window is
        // still a valid (if stale) stretch of the log.
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(position: i64) -> StoredEvent {
        StoredEvent {
            position,
            tx_id: position,
            aggregate_type: "user".into(),
            aggregate_id: position.to_string(),
            sequence: 1,
            event_type: "identity.user.Test".into(),
            event_version: "1".into(),
            payload: serde_json::Value::Null,
            metadata: serde_json::Value::Null,
            recorded_at: chrono::Utc::now(),
        }
    }

    fn at(position: i64) -> Cursor {
        Cursor {
            tx_id: position,
            position,
        }
    }

    fn batch(positions: std::ops::RangeInclusive<i64>) -> Arc<[StoredEvent]> {
        positions.map(event).collect()
    }

    fn seen(log: &RecentLog, from: i64, to: Option<i64>) -> Option<Vec<i64>> {
        let mut positions = Vec::new();
        log.visit(at(from), to.map(at), |e| positions.push(e.position))?;
        Some(positions)
    }

    #[test]
    fn contiguous_batches_are_visited_from_any_cursor_they_cover() {
        let log = RecentLog::default();
        log.extend(at(10), batch(11..=13));
        log.extend(at(13), batch(14..=15));
        assert_eq!(seen(&log, 10, None), Some(vec![11, 12, 13, 14, 15]));
        assert_eq!(seen(&log, 12, Some(14)), Some(vec![13, 14]));
        assert_eq!(seen(&log, 15, None), Some(vec![]));
        assert_eq!(*log.watch().borrow(), at(15));
    }

    #[test]
    fn a_cursor_before_the_window_or_beyond_its_end_is_not_covered() {
        let log = RecentLog::default();
        log.extend(at(10), batch(11..=13));
        assert_eq!(seen(&log, 9, None), None);
        assert_eq!(seen(&log, 11, Some(14)), None);
        assert_eq!(seen(&log, 14, None), None);
    }

    #[test]
    fn a_batch_that_does_not_follow_on_starts_the_window_over() {
        let log = RecentLog::default();
        log.extend(at(10), batch(11..=13));
        log.extend(at(20), batch(21..=22));
        assert_eq!(seen(&log, 12, None), None);
        assert_eq!(seen(&log, 20, None), Some(vec![21, 22]));
    }

    #[test]
    fn a_full_window_drops_its_oldest_batches() {
        let log = RecentLog::default();
        let half = CAPACITY as i64 / 2;
        log.extend(at(0), batch(1..=half));
        log.extend(at(half), batch(half + 1..=2 * half));
        log.extend(at(2 * half), batch(2 * half + 1..=2 * half + 1));
        assert_eq!(seen(&log, 0, None), None);
        assert_eq!(seen(&log, half, Some(half + 1)), Some(vec![half + 1]));
    }
}

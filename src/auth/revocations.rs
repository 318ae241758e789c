//! Access tokens that must stop before they expire: sessions that ended and
//! accounts an admin locked or deactivated.
//!
//! Access tokens are verified without a database query, so on their own they
//! would work until they expire (15 minutes plus leeway) after a logout, a
//! refresh-token reuse, a deactivation or an admin lock. Every instance
//! therefore keeps an in-memory set of what ended, fed by the event log
//! exactly as the projections are (committed events only, none skipped),
//! and the Bearer extractor consults it: a hash lookup per request.
//! Commands wait for the set to reach their events before they answer (as
//! they wait for the projections), so once a logout answered, the
//! instance that answered refuses the session's tokens; other instances
//! follow within `IDENTITY_PROJECTION_POLL_MS`.
//!
//! Only the last [`window`](Revocations::window) of the log matters: a token
//! is at most that old, and once a session ended or an account is blocked no
//! new token is issued for it (login and refresh refuse). At start-up the set
//! is loaded from the events recorded within the window, which covers tokens
//! issued before a restart; entries older than the window are dropped, so
//! the set stays as small as one token lifetime's revocations.
//!
//! Locks by the failure limit are deliberately left out: they only stop new
//! password logins. Otherwise anyone who knows a username could log its
//! owner out of every device with five wrong guesses. An admin's lock does
//! stop the account's tokens and refreshes. A role change takes effect at
//! the next refresh (the new token carries the new roles).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use aggregates::session::SessionEvent;
use aggregates::UserEvent;
use chrono::{DateTime, Utc};
use projections::{Cursor, Progress, RecentLog, StoredEvent};
use tokio::sync::watch;
use uuid::Uuid;

use super::AccessClaims;
use crate::store::{Database, StoreError};
use crate::telemetry::Chain;

/// Events read per round when following the log.
const BATCH: i64 = 1000;

/// The only events that change the set; every other event is skipped
/// without decoding its payload.
const RELEVANT: [&str; 5] = [
    "identity.session.SessionRevoked",
    "identity.user.AccountLocked",
    "identity.user.AccountUnlocked",
    "identity.user.UserDeactivated",
    "identity.user.UserReactivated",
];

/// Why a verified access token is refused anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    SessionEnded,
    AccountBlocked,
}

#[derive(Debug, Default)]
struct Ended {
    /// Session id to when it ended.
    sessions: HashMap<Uuid, DateTime<Utc>>,
    /// Account id to when it was blocked and, for a lock, until when.
    accounts: HashMap<Uuid, (DateTime<Utc>, Option<DateTime<Utc>>)>,
}

/// The in-memory set, shared by every request of this instance.
pub struct Revocations {
    ended: RwLock<Ended>,
    window: chrono::Duration,
    /// How far into the log the set is: commands that end sessions wait
    /// for it (read-your-writes), so their answer means "stopped".
    progress: watch::Sender<Progress>,
}

impl Revocations {
    /// A set remembering what ended within `window` (the access token
    /// lifetime plus the verification leeway and a margin for clock skew).
    pub fn new(window: Duration) -> Self {
        Self {
            ended: RwLock::new(Ended::default()),
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX),
            progress: watch::channel(Progress::default()).0,
        }
    }

    /// How far into the log the set is.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    fn reached(&self, cursor: Cursor) {
        self.progress.send_if_modified(|seen| {
            let moved = seen.cursor < cursor;
            seen.cursor = seen.cursor.max(cursor);
            moved
        });
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ended> {
        // A poisoned lock only means a panic while writing plain maps.
        self.ended.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Ended> {
        self.ended.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a verified access token may still be used.
    pub fn check(&self, claims: &AccessClaims) -> Result<(), Refusal> {
        self.check_ids(claims.sub, claims.sid)
    }

    /// Whether `user`'s `session` may still be used (also asked by refresh).
    pub fn check_ids(&self, user: Uuid, session: Uuid) -> Result<(), Refusal> {
        let ended = self.read();
        if ended.sessions.contains_key(&session) {
            return Err(Refusal::SessionEnded);
        }
        match ended.accounts.get(&user) {
            Some((_, None)) => Err(Refusal::AccountBlocked),
            Some((_, Some(until))) if *until > Utc::now() => Err(Refusal::AccountBlocked),
            _ => Ok(()),
        }
    }

    /// Takes one event into account; events of no interest are ignored.
    pub fn apply(&self, event: &StoredEvent) {
        if !RELEVANT.contains(&event.event_type.as_str()) {
            return;
        }
        let Ok(id) = Uuid::parse_str(&event.aggregate_id) else {
            return;
        };
        match event.aggregate_type.as_str() {
            "session" => {
                if let Ok(SessionEvent::SessionRevoked { revoked_at, .. }) = event.decode() {
                    self.write().sessions.insert(id, revoked_at);
                }
            }
            "user" => match event.decode() {
                Ok(UserEvent::AccountLocked {
                    until,
                    by: Some(_),
                    at,
                }) => {
                    self.write().accounts.insert(id, (at, Some(until)));
                }
                Ok(UserEvent::UserDeactivated { at, .. }) => {
                    self.write().accounts.insert(id, (at, None));
                }
                Ok(UserEvent::AccountUnlocked { .. } | UserEvent::UserReactivated { .. }) => {
                    self.write().accounts.remove(&id);
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// Drops what ended longer ago than the window: every token that could
    /// have carried it has expired.
    fn prune(&self, now: DateTime<Utc>) {
        let horizon = now - self.window;
        let mut ended = self.write();
        ended.sessions.retain(|_, at| *at >= horizon);
        ended
            .accounts
            .retain(|_, (at, until)| *at >= horizon && until.is_none_or(|u| u > now));
    }

    /// Loads what ended within the window and returns where to follow the
    /// log from. The head is read first, so every event up to it is
    /// committed and visible to the load that follows.
    pub async fn load(&self, db: &Database) -> Result<Cursor, StoreError> {
        let head = db.head().await?;
        let since = Utc::now() - self.window;
        for event in db.events_of_types(&RELEVANT, since, head).await? {
            self.apply(&event);
        }
        self.reached(head);
        Ok(head)
    }

    /// Follows the log from `cursor` until `shutdown` changes: through the
    /// projector's reads (`recent`, which move at once after a local
    /// append), and by reading the log itself within `poll`, or whenever
    /// `recent` does not hold the events after `cursor`.
    pub async fn follow(
        self: std::sync::Arc<Self>,
        db: Database,
        mut cursor: Cursor,
        recent: std::sync::Arc<RecentLog>,
        poll: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut batches = recent.watch();
        let mut read_log = true;
        loop {
            let round = async {
                if !read_log {
                    if let Some(reached) = recent.visit(cursor, None, |e| self.apply(e)) {
                        cursor = reached;
                        self.reached(cursor);
                        return Ok::<_, StoreError>(());
                    }
                }
                loop {
                    let events = db.read_after(cursor, BATCH, None).await?;
                    for event in &events {
                        self.apply(event);
                    }
                    if let Some(last) = events.last() {
                        cursor = last.cursor();
                        self.reached(cursor);
                    }
                    // A short batch reached the head as it was read; what
                    // commits later reaches the projector, and `recent`.
                    if events.len() < BATCH as usize {
                        return Ok(());
                    }
                }
            };
            let pause = tokio::select! {
                result = round => match result {
                    Ok(()) => poll,
                    Err(error) => {
                        tracing::warn!(error = %Chain(&error), "cannot follow revocations; retrying");
                        Duration::from_secs(1)
                    }
                },
                _ = shutdown.changed() => return,
            };
            self.prune(Utc::now());
            read_log = tokio::select! {
                _ = batches.changed() => false,
                _ = tokio::time::sleep(pause) => true,
                _ = shutdown.changed() => return,
            };
        }
    }
}

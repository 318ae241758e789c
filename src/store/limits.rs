//! Cooldowns and rate-limit counters as stored, on either backend; shared
//! by every instance on PostgreSQL. What they mean: `cooldown`,
//! `ratelimit`.

use std::time::Duration;

use super::{postgres, sqlite, Database, StoreError};

impl Database {
    /// Starts a cooldown of `period` under `key` unless one is running;
    /// the time left of the running one.
    pub async fn start_cooldown(
        &self,
        key: &str,
        period: Duration,
    ) -> Result<Option<Duration>, StoreError> {
        match self {
            Self::Postgres(pool) => postgres::limits::start_cooldown(pool, key, period).await,
            Self::Sqlite(pool) => sqlite::limits::start_cooldown(pool, key, period).await,
        }
    }

    /// Counts one hit under `key` in the current fixed window of `window`;
    /// the hits so far in it and the seconds until it ends.
    pub async fn count_hit(&self, key: &str, window: Duration) -> Result<(i32, f64), StoreError> {
        match self {
            Self::Postgres(pool) => postgres::limits::count_hit(pool, key, window).await,
            Self::Sqlite(pool) => sqlite::limits::count_hit(pool, key, window).await,
        }
    }

    /// Deletes counters of windows that ended over a day ago, and cooldowns
    /// and one-time codes (codes, tokens, sign-in states: one row per
    /// provider sign-in) that ran out; how many rows.
    pub async fn prune_expired(&self) -> Result<u64, StoreError> {
        match self {
            Self::Postgres(pool) => postgres::limits::prune_expired(pool).await,
            Self::Sqlite(pool) => sqlite::limits::prune_expired(pool).await,
        }
    }
}

/// `seconds` left, rounded up to whole seconds and at least 1: what a
/// running cooldown answers.
pub(super) fn left(seconds: f64) -> Duration {
    Duration::from_secs_f64(seconds.ceil().max(1.0))
}

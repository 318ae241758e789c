//! One-time codes as stored (their MAC, expiry and failed attempts), on
//! either backend. What a code is and how it is checked: `auth::codes`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{postgres, sqlite, Database, StoreError};

/// A code's row as it was when taken, to put it back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredCode {
    pub code_mac: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub failed_attempts: i32,
}

/// What trying a code did.
#[derive(Debug)]
pub enum Taken {
    /// It matched and is gone.
    Code(StoredCode),
    /// It did not match; one more failed attempt is counted.
    Wrong,
    /// No code, or an expired one.
    Missing,
    /// As many wrong attempts as allowed were made; nothing is checked.
    Exhausted,
}

impl Database {
    /// Stores a code valid for `ttl`, replacing any earlier one of the same
    /// purpose and subject (and its failed attempts).
    pub async fn put_code(
        &self,
        purpose: &str,
        subject: &str,
        mac: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        match self {
            Self::Postgres(pool) => postgres::codes::put(pool, purpose, subject, mac, ttl).await,
            Self::Sqlite(pool) => sqlite::codes::put(pool, purpose, subject, mac, ttl).await,
        }
    }

    /// Under the code's lock: refuses it after `max_attempts` wrong tries,
    /// treats an expired one as missing, otherwise asks `matches` about its
    /// MAC and deletes it if right, counts a failure if wrong.
    pub async fn take_code(
        &self,
        purpose: &str,
        subject: &str,
        max_attempts: i32,
        matches: impl FnOnce(&[u8]) -> bool + Send,
    ) -> Result<Taken, StoreError> {
        match self {
            Self::Postgres(pool) => {
                postgres::codes::take(pool, purpose, subject, max_attempts, matches).await
            }
            Self::Sqlite(pool) => {
                sqlite::codes::take(pool, purpose, subject, max_attempts, matches).await
            }
        }
    }

    /// Restores a taken code, unless a new one was stored since.
    pub async fn restore_code(
        &self,
        purpose: &str,
        subject: &str,
        code: &StoredCode,
    ) -> Result<(), StoreError> {
        match self {
            Self::Postgres(pool) => postgres::codes::restore(pool, purpose, subject, code).await,
            Self::Sqlite(pool) => sqlite::codes::restore(pool, purpose, subject, code).await,
        }
    }
}

/// The decision both backends make once they hold the row.
pub(super) fn judge(
    row: Option<(StoredCode, bool)>,
    max_attempts: i32,
    matches: impl FnOnce(&[u8]) -> bool,
) -> Taken {
    match row {
        None => Taken::Missing,
        Some((code, _)) if code.failed_attempts >= max_attempts => Taken::Exhausted,
        Some((_, true)) => Taken::Missing,
        Some((code, false)) if matches(&code.code_mac) => Taken::Code(code),
        Some(_) => Taken::Wrong,
    }
}

//! Commands accepted by the `Session` aggregate.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::RevocationReason;
use crate::values::TokenHash;

#[derive(Debug, Clone)]
pub enum SessionCommand {
    StartSession {
        session_id: Uuid,
        user_id: Uuid,
        refresh_token_hash: TokenHash,
        user_agent: Option<String>,
        ip: Option<String>,
        /// How the person signed in (RFC 8176 values and ours); every
        /// access token of the session carries them.
        amr: Vec<String>,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// Exchange the presented refresh token for its successor.
    ///
    /// The successor is derived deterministically from the presented token
    /// (at the edge), so a second presentation of the same token inside the
    /// grace window can be answered with the same successor instead of a
    /// revoked session.
    RefreshSession {
        presented: TokenHash,
        successor: TokenHash,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        grace: Duration,
    },
    /// Log out with the refresh token in hand. A token this session never
    /// issued changes nothing, so a session id alone cannot end a session.
    Logout {
        presented: TokenHash,
        at: DateTime<Utc>,
    },
    /// End the session on its owner's (or an admin's) authority.
    RevokeSession {
        reason: RevocationReason,
        at: DateTime<Utc>,
    },
}

//! Events of the `Session` aggregate (`identity.session.<Event>`). Refresh
//! tokens appear only as SHA-256 hashes.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::TokenHash;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    Logout,
    LogoutAll,
    RefreshTokenReuse,
    AccountDeactivated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SessionEvent {
    SessionStarted {
        session_id: Uuid,
        user_id: Uuid,
        refresh_token_hash: TokenHash,
        user_agent: Option<String>,
        ip: Option<String>,
        started_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    RefreshTokenRotated {
        refresh_token_hash: TokenHash,
        rotated_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// A token that had already been exchanged came back after the grace
    /// window: someone holds a copy. Always followed by `SessionRevoked`.
    RefreshTokenReuseDetected {
        presented_hash: TokenHash,
        detected_at: DateTime<Utc>,
    },
    SessionRevoked {
        reason: RevocationReason,
        revoked_at: DateTime<Utc>,
    },
}

impl SessionEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::SessionStarted { .. } => "SessionStarted",
            Self::RefreshTokenRotated { .. } => "RefreshTokenRotated",
            Self::RefreshTokenReuseDetected { .. } => "RefreshTokenReuseDetected",
            Self::SessionRevoked { .. } => "SessionRevoked",
        }
    }
}

impl DomainEvent for SessionEvent {
    fn event_type(&self) -> String {
        format!("{}.session.{}", crate::EVENT_NAMESPACE, self.name())
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

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
    /// The account's password was reset or changed: the other sessions end.
    PasswordChanged,
    /// The person ended this one session from another (`DELETE /auth/sessions/{id}`).
    EndedByUser,
    /// An account registered without verifying its address was taken over
    /// by the person an OpenID provider verified the address for.
    AccountClaimed,
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
        /// Version 2: how the person signed in (absent in version 1).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        amr: Vec<String>,
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
    /// Every event name, for whoever must know them all without a value of
    /// each (the contract test of docs/events.md). Kept in step with
    /// [`SessionEvent::name`] by the test below.
    pub const NAMES: &'static [&'static str] = &[
        "SessionStarted",
        "RefreshTokenRotated",
        "RefreshTokenReuseDetected",
        "SessionRevoked",
    ];

    /// The bare event name, without namespace.
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
        match self {
            Self::SessionStarted { .. } => "2",
            _ => "1",
        }
        .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use super::{RevocationReason, SessionEvent};
    use crate::values::TokenHash;

    /// One value of every variant. A new variant fails to compile in
    /// `covered` below until it gets a sample here and its name in `NAMES`.
    fn samples() -> Vec<SessionEvent> {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let hash = || TokenHash::from_hex("ab".repeat(32));
        vec![
            SessionEvent::SessionStarted {
                session_id: Uuid::from_u128(1),
                user_id: Uuid::from_u128(2),
                refresh_token_hash: hash(),
                user_agent: None,
                ip: None,
                amr: vec!["pwd".to_owned()],
                started_at: at,
                expires_at: at,
            },
            SessionEvent::RefreshTokenRotated {
                refresh_token_hash: hash(),
                rotated_at: at,
                expires_at: at,
            },
            SessionEvent::RefreshTokenReuseDetected {
                presented_hash: hash(),
                detected_at: at,
            },
            SessionEvent::SessionRevoked {
                reason: RevocationReason::Logout,
                revoked_at: at,
            },
        ]
    }

    /// Exhaustive on purpose: no `_` arm.
    fn covered(event: &SessionEvent) {
        match event {
            SessionEvent::SessionStarted { .. }
            | SessionEvent::RefreshTokenRotated { .. }
            | SessionEvent::RefreshTokenReuseDetected { .. }
            | SessionEvent::SessionRevoked { .. } => {}
        }
    }

    #[test]
    fn names_lists_the_name_of_every_variant_once() {
        let samples = samples();
        samples.iter().for_each(covered);
        let named: BTreeSet<&str> = samples.iter().map(SessionEvent::name).collect();
        let listed: BTreeSet<&str> = SessionEvent::NAMES.iter().copied().collect();
        assert_eq!(named.len(), samples.len(), "one sample per variant");
        assert_eq!(listed.len(), SessionEvent::NAMES.len(), "no name twice");
        assert_eq!(named, listed);
    }
}

//! `user_sessions`: each user's sessions with when they were last used, for
//! `/auth/sessions` and logout-all.

use aggregates::SessionEvent;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::projector::{aggregate_uuid, decode, Change, Projection, ProjectionError};
use crate::StoredEvent;

pub struct UserSessions;

/// One write to `user_sessions`, keyed by `session_id`.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionChange {
    Started {
        session_id: Uuid,
        user_id: Uuid,
        started_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        user_agent: Option<String>,
        ip: Option<String>,
    },
    Used {
        session_id: Uuid,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    Revoked {
        session_id: Uuid,
        at: DateTime<Utc>,
    },
}

impl Projection for UserSessions {
    fn name(&self) -> &'static str {
        "user_sessions"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["user_sessions"]
    }

    fn changes(&self, event: &StoredEvent) -> Result<Vec<Change>, ProjectionError> {
        if event.aggregate_type != "session" {
            return Ok(vec![]);
        }
        let session_id = aggregate_uuid(event)?;
        let change = match decode::<SessionEvent>(event)? {
            SessionEvent::SessionStarted {
                user_id,
                user_agent,
                ip,
                started_at,
                expires_at,
                ..
            } => SessionChange::Started {
                session_id,
                user_id,
                started_at,
                expires_at,
                user_agent,
                ip,
            },
            SessionEvent::RefreshTokenRotated {
                rotated_at,
                expires_at,
                ..
            } => SessionChange::Used {
                session_id,
                at: rotated_at,
                expires_at,
            },
            SessionEvent::SessionRevoked { revoked_at, .. } => SessionChange::Revoked {
                session_id,
                at: revoked_at,
            },
            SessionEvent::RefreshTokenReuseDetected { .. } => return Ok(vec![]),
        };
        Ok(vec![Change::Session(change)])
    }
}

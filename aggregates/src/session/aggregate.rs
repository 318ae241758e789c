//! State and rules of one session.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{RevocationReason, SessionCommand, SessionError, SessionEvent};
use crate::values::TokenHash;

/// How many already-exchanged token hashes a session remembers for reuse
/// detection. Older tokens are refused as unknown without revoking the
/// session; this bound keeps the snapshot small however long the session.
pub const RECENT_TOKENS: usize = 16;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    #[default]
    NotStarted,
    Active,
    Revoked,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub status: SessionStatus,
    pub current_hash: Option<TokenHash>,
    /// Exchanged tokens, newest first, at most [`RECENT_TOKENS`].
    pub previous_hashes: VecDeque<TokenHash>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub generation: u64,
    /// How the person signed in; every access token of the session says so.
    #[serde(default)]
    pub amr: Vec<String>,
}

impl Session {
    fn refresh(
        &self,
        presented: TokenHash,
        successor: TokenHash,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<Vec<SessionEvent>, SessionError> {
        match self.status {
            SessionStatus::NotStarted => return Err(SessionError::NotFound),
            SessionStatus::Revoked => return Err(SessionError::Revoked),
            SessionStatus::Active => {}
        }
        if self.current_hash.as_ref() == Some(&presented) {
            if self.expires_at.is_some_and(|exp| at >= exp) {
                return Err(SessionError::Expired);
            }
            return Ok(vec![SessionEvent::RefreshTokenRotated {
                refresh_token_hash: successor,
                rotated_at: at,
                expires_at,
            }]);
        }
        let Some(position) = self.previous_hashes.iter().position(|h| *h == presented) else {
            return Err(SessionError::UnknownToken);
        };
        let within_grace = self.rotated_at.is_some_and(|rotated| at - rotated <= grace);
        if position == 0 && within_grace && self.current_hash.as_ref() == Some(&successor) {
            // A racing tab: it gets the successor the first one got.
            return Ok(vec![]);
        }
        Ok(vec![
            SessionEvent::RefreshTokenReuseDetected {
                presented_hash: presented,
                detected_at: at,
            },
            SessionEvent::SessionRevoked {
                reason: RevocationReason::RefreshTokenReuse,
                revoked_at: at,
            },
        ])
    }
}

impl Aggregate for Session {
    const TYPE: &'static str = "session";
    type Command = SessionCommand;
    type Event = SessionEvent;
    type Error = SessionError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SessionCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), SessionError> {
        let events = match command {
            SessionCommand::StartSession {
                session_id,
                user_id,
                refresh_token_hash,
                user_agent,
                ip,
                amr,
                at,
                expires_at,
            } => {
                if self.status != SessionStatus::NotStarted {
                    return Err(SessionError::AlreadyStarted);
                }
                vec![SessionEvent::SessionStarted {
                    session_id,
                    user_id,
                    refresh_token_hash,
                    user_agent,
                    ip,
                    started_at: at,
                    expires_at,
                    amr,
                }]
            }
            SessionCommand::RefreshSession {
                presented,
                successor,
                at,
                expires_at,
                grace,
            } => self.refresh(presented, successor, at, expires_at, grace)?,
            SessionCommand::Logout { presented, at } => {
                let known = self.current_hash.as_ref() == Some(&presented)
                    || self.previous_hashes.contains(&presented);
                if self.status == SessionStatus::Active && known {
                    vec![SessionEvent::SessionRevoked {
                        reason: RevocationReason::Logout,
                        revoked_at: at,
                    }]
                } else {
                    vec![]
                }
            }
            SessionCommand::RevokeSession { reason, at } => match self.status {
                SessionStatus::NotStarted => return Err(SessionError::NotFound),
                // Revoking twice is a no-op: logout is idempotent.
                SessionStatus::Revoked => vec![],
                SessionStatus::Active => vec![SessionEvent::SessionRevoked {
                    reason,
                    revoked_at: at,
                }],
            },
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::SessionStarted {
                session_id,
                user_id,
                refresh_token_hash,
                started_at,
                expires_at,
                amr,
                ..
            } => {
                self.amr = amr;
                self.id = Some(session_id);
                self.user_id = Some(user_id);
                self.status = SessionStatus::Active;
                self.current_hash = Some(refresh_token_hash);
                self.started_at = Some(started_at);
                self.expires_at = Some(expires_at);
            }
            SessionEvent::RefreshTokenRotated {
                refresh_token_hash,
                rotated_at,
                expires_at,
            } => {
                if let Some(old) = self.current_hash.replace(refresh_token_hash) {
                    self.previous_hashes.push_front(old);
                    self.previous_hashes.truncate(RECENT_TOKENS);
                }
                self.rotated_at = Some(rotated_at);
                self.expires_at = Some(expires_at);
                self.generation += 1;
            }
            SessionEvent::RefreshTokenReuseDetected { .. } => {}
            SessionEvent::SessionRevoked { .. } => self.status = SessionStatus::Revoked,
        }
    }
}

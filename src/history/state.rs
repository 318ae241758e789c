//! The account as it stood at a given time: the events of the user's streams
//! recorded up to then, applied with the aggregates' own `apply`, so the
//! answer follows the same rules as the service itself.

use std::collections::HashMap;

use aggregates::session::SessionStatus;
use aggregates::user::UserStatus;
use aggregates::{Session, SessionEvent, User, UserEvent};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use projections::log::StoredEvent;
use serde::Serialize;
use uuid::Uuid;

use crate::error::AppError;
use crate::store::Database;

/// The account at `as_of`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AccountState {
    pub as_of: DateTime<Utc>,
    /// `unregistered` (not yet, at `as_of`), `active` or `deactivated`.
    pub status: String,
    pub username: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    /// Sorted by name.
    pub roles: Vec<String>,
    /// Whether a lock was in force at `as_of`.
    pub locked: bool,
    /// The last lock set and not lifted, even if it had run out by `as_of`.
    pub locked_until: Option<DateTime<Utc>>,
    /// Sessions started, not revoked and not expired at `as_of`, oldest first.
    pub sessions_open: Vec<Uuid>,
}

/// Reads the user's events recorded at or before `as_of` and replays them.
pub async fn at(
    db: &Database,
    user_id: Uuid,
    as_of: DateTime<Utc>,
) -> Result<AccountState, AppError> {
    let events = db.user_events(user_id, 0, Some(as_of), i64::MAX).await?;
    replay(as_of, &events).map_err(AppError::internal)
}

/// Applies `events` (log order) to a fresh `User` and one `Session` per
/// session stream.
fn replay(as_of: DateTime<Utc>, events: &[StoredEvent]) -> Result<AccountState, serde_json::Error> {
    let mut user = User::default();
    let mut sessions: Vec<Session> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for event in events {
        match event.aggregate_type.as_str() {
            "user" => user.apply(event.decode::<UserEvent>()?),
            "session" => {
                let slot = *index.entry(&event.aggregate_id).or_insert_with(|| {
                    sessions.push(Session::default());
                    sessions.len() - 1
                });
                if let Some(session) = sessions.get_mut(slot) {
                    session.apply(event.decode::<SessionEvent>()?);
                }
            }
            _ => {}
        }
    }
    let registered = user.status != UserStatus::Unregistered;
    let mut roles: Vec<String> = user.roles.iter().map(|r| r.as_str().to_owned()).collect();
    roles.sort();
    Ok(AccountState {
        as_of,
        status: match user.status {
            UserStatus::Unregistered => "unregistered",
            UserStatus::Active => "active",
            UserStatus::Deactivated => "deactivated",
        }
        .to_owned(),
        username: registered.then(|| user.username.clone()),
        email: registered.then(|| user.email.clone()),
        email_verified: user.email_verified,
        roles,
        locked: user.locked_until(as_of).is_some(),
        locked_until: user.lockout.locked_until,
        sessions_open: sessions
            .iter()
            .filter(|s| s.status == SessionStatus::Active)
            .filter(|s| s.expires_at.is_some_and(|expires| expires > as_of))
            .filter_map(|s| s.id)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use aggregates::session::RevocationReason;
    use aggregates::user::Role;
    use aggregates::values::TokenHash;
    use chrono::{Duration, TimeZone};
    use cqrs_es::DomainEvent;

    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + Duration::seconds(second)
    }

    fn stored<E: DomainEvent>(kind: &str, id: u128, position: i64, event: E) -> StoredEvent {
        StoredEvent {
            position,
            tx_id: position,
            aggregate_type: kind.to_owned(),
            aggregate_id: Uuid::from_u128(id).to_string(),
            sequence: position,
            event_type: event.event_type(),
            event_version: event.event_version(),
            payload: serde_json::to_value(&event).unwrap(),
            metadata: serde_json::json!({}),
            recorded_at: at(position),
        }
    }

    fn started(id: u128, second: i64, expires: i64) -> SessionEvent {
        SessionEvent::SessionStarted {
            session_id: Uuid::from_u128(id),
            user_id: Uuid::from_u128(1),
            refresh_token_hash: TokenHash::from_hex("00".into()),
            user_agent: None,
            ip: None,
            started_at: at(second),
            expires_at: at(expires),
            amr: vec!["pwd".to_owned()],
        }
    }

    fn life() -> Vec<StoredEvent> {
        vec![
            stored(
                "user",
                1,
                1,
                UserEvent::UserRegistered {
                    user_id: Uuid::from_u128(1),
                    username: "Ada".into(),
                    email: "ada@example.com".into(),
                    password_hash: "$argon2id$stub".into(),
                    registered_at: at(1),
                },
            ),
            stored(
                "user",
                1,
                2,
                UserEvent::EmailVerified { verified_at: at(2) },
            ),
            stored("session", 10, 3, started(10, 3, 1000)),
            stored("session", 11, 4, started(11, 4, 5)),
            stored(
                "user",
                1,
                5,
                UserEvent::AccountLocked {
                    until: at(100),
                    by: Some("admin".into()),
                    at: at(5),
                },
            ),
            stored(
                "user",
                1,
                6,
                UserEvent::RoleGranted {
                    role: Role::Auditor,
                    by: "admin".into(),
                    at: at(6),
                },
            ),
            stored(
                "session",
                10,
                7,
                SessionEvent::SessionRevoked {
                    reason: RevocationReason::Logout,
                    revoked_at: at(7),
                },
            ),
        ]
    }

    #[test]
    fn replay_of_nothing_is_an_unregistered_account() {
        let state = replay(at(0), &[]).unwrap();
        assert_eq!(state.status, "unregistered");
        assert_eq!(state.username, None);
        assert!(state.roles.is_empty() && state.sessions_open.is_empty());
    }

    #[test]
    fn replay_follows_locks_roles_and_sessions() {
        let events = life();
        let state = replay(at(4), &events[..4]).unwrap();
        assert_eq!(state.status, "active");
        assert_eq!(state.username.as_deref(), Some("Ada"));
        assert!(state.email_verified && !state.locked);
        assert_eq!(
            state.sessions_open,
            vec![Uuid::from_u128(10), Uuid::from_u128(11)]
        );

        let state = replay(at(7), &events).unwrap();
        assert!(state.locked);
        assert_eq!(state.locked_until, Some(at(100)));
        assert_eq!(state.roles, vec!["auditor", "user"]);
        // 10 was logged out, 11 expired at second 5.
        assert!(state.sessions_open.is_empty());
    }
}

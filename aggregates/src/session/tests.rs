use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::values::TokenHash;

type SessionTest = TestFramework<Session>;

fn at(second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + Duration::seconds(second)
}

fn hash(name: &str) -> TokenHash {
    TokenHash::from_hex(name.to_owned())
}

fn started() -> SessionEvent {
    SessionEvent::SessionStarted {
        session_id: Uuid::from_u128(1),
        user_id: Uuid::from_u128(2),
        refresh_token_hash: hash("t1"),
        user_agent: Some("curl".into()),
        ip: Some("127.0.0.1".into()),
        amr: vec!["pwd".to_owned()],
        started_at: at(0),
        expires_at: at(1000),
    }
}

fn rotated(to: &str, second: i64) -> SessionEvent {
    SessionEvent::RefreshTokenRotated {
        refresh_token_hash: hash(to),
        rotated_at: at(second),
        expires_at: at(second + 1000),
    }
}

fn refresh(presented: &str, successor: &str, second: i64) -> SessionCommand {
    SessionCommand::RefreshSession {
        presented: hash(presented),
        successor: hash(successor),
        at: at(second),
        expires_at: at(second + 1000),
        grace: Duration::seconds(10),
    }
}

fn reuse_detected(presented: &str, second: i64) -> Vec<SessionEvent> {
    vec![
        SessionEvent::RefreshTokenReuseDetected {
            presented_hash: hash(presented),
            detected_at: at(second),
        },
        SessionEvent::SessionRevoked {
            reason: RevocationReason::RefreshTokenReuse,
            revoked_at: at(second),
        },
    ]
}

#[test]
fn start_session_records_session_started_when_new() {
    SessionTest::with(())
        .given_no_previous_events()
        .when(SessionCommand::StartSession {
            session_id: Uuid::from_u128(1),
            user_id: Uuid::from_u128(2),
            refresh_token_hash: hash("t1"),
            user_agent: Some("curl".into()),
            ip: Some("127.0.0.1".into()),
            amr: vec!["pwd".to_owned()],
            at: at(0),
            expires_at: at(1000),
        })
        .then_expect_events(vec![started()]);
}

#[test]
fn start_session_fails_when_already_started() {
    SessionTest::with(())
        .given(vec![started()])
        .when(SessionCommand::StartSession {
            session_id: Uuid::from_u128(1),
            user_id: Uuid::from_u128(2),
            refresh_token_hash: hash("t1"),
            user_agent: None,
            ip: None,
            amr: vec!["pwd".to_owned()],
            at: at(0),
            expires_at: at(1000),
        })
        .then_expect_error(SessionError::AlreadyStarted);
}

#[test]
fn refresh_session_rotates_the_token_when_current_token_presented() {
    SessionTest::with(())
        .given(vec![started()])
        .when(refresh("t1", "t2", 5))
        .then_expect_events(vec![rotated("t2", 5)]);
}

#[test]
fn refresh_session_fails_when_token_expired() {
    SessionTest::with(())
        .given(vec![started()])
        .when(refresh("t1", "t2", 1000))
        .then_expect_error(SessionError::Expired);
}

#[test]
fn refresh_session_changes_nothing_when_previous_token_presented_within_grace() {
    SessionTest::with(())
        .given(vec![started(), rotated("t2", 5)])
        .when(refresh("t1", "t2", 15))
        .then_expect_events(vec![]);
}

#[test]
fn refresh_session_detects_reuse_when_previous_token_presented_after_grace() {
    SessionTest::with(())
        .given(vec![started(), rotated("t2", 5)])
        .when(refresh("t1", "t2", 16))
        .then_expect_events(reuse_detected("t1", 16));
}

#[test]
fn refresh_session_detects_reuse_when_older_token_presented_within_grace() {
    SessionTest::with(())
        .given(vec![started(), rotated("t2", 5), rotated("t3", 6)])
        .when(refresh("t1", "t2", 7))
        .then_expect_events(reuse_detected("t1", 7));
}

#[test]
fn refresh_session_fails_when_token_unknown() {
    SessionTest::with(())
        .given(vec![started()])
        .when(refresh("forged", "x", 5))
        .then_expect_error(SessionError::UnknownToken);
}

#[test]
fn refresh_session_fails_when_session_revoked() {
    SessionTest::with(())
        .given(vec![
            started(),
            SessionEvent::SessionRevoked {
                reason: RevocationReason::Logout,
                revoked_at: at(3),
            },
        ])
        .when(refresh("t1", "t2", 5))
        .then_expect_error(SessionError::Revoked);
}

#[test]
fn refresh_session_fails_when_session_unknown() {
    SessionTest::with(())
        .given_no_previous_events()
        .when(refresh("t1", "t2", 5))
        .then_expect_error(SessionError::NotFound);
}

#[test]
fn revoke_session_records_revocation_when_active() {
    SessionTest::with(())
        .given(vec![started()])
        .when(SessionCommand::RevokeSession {
            reason: RevocationReason::Logout,
            at: at(3),
        })
        .then_expect_events(vec![SessionEvent::SessionRevoked {
            reason: RevocationReason::Logout,
            revoked_at: at(3),
        }]);
}

#[test]
fn revoke_session_is_a_no_op_when_already_revoked() {
    SessionTest::with(())
        .given(vec![
            started(),
            SessionEvent::SessionRevoked {
                reason: RevocationReason::Logout,
                revoked_at: at(3),
            },
        ])
        .when(SessionCommand::RevokeSession {
            reason: RevocationReason::Logout,
            at: at(4),
        })
        .then_expect_events(vec![]);
}

#[test]
fn session_state_stays_bounded_however_many_rotations() {
    let mut session = Session::default();
    cqrs_es::Aggregate::apply(&mut session, started());
    for i in 0..5_000 {
        cqrs_es::Aggregate::apply(&mut session, rotated(&format!("t{i}"), i));
    }
    assert_eq!(session.previous_hashes.len(), RECENT_TOKENS);
    assert_eq!(session.generation, 5_000);
}

#[test]
fn logout_revokes_the_session_when_its_token_is_presented() {
    SessionTest::with(())
        .given(vec![started()])
        .when(SessionCommand::Logout {
            presented: hash("t1"),
            at: at(3),
        })
        .then_expect_events(vec![SessionEvent::SessionRevoked {
            reason: RevocationReason::Logout,
            revoked_at: at(3),
        }]);
}

#[test]
fn logout_changes_nothing_when_the_token_is_not_the_sessions() {
    SessionTest::with(())
        .given(vec![started()])
        .when(SessionCommand::Logout {
            presented: hash("forged"),
            at: at(3),
        })
        .then_expect_events(vec![]);
}

#[test]
fn logout_changes_nothing_when_already_logged_out() {
    SessionTest::with(())
        .given(vec![
            started(),
            SessionEvent::SessionRevoked {
                reason: RevocationReason::Logout,
                revoked_at: at(3),
            },
        ])
        .when(SessionCommand::Logout {
            presented: hash("t1"),
            at: at(4),
        })
        .then_expect_events(vec![]);
}

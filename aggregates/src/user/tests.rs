use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::values::{Email, Username, UsernamePolicy};

type UserTest = TestFramework<User>;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, minute, 0).unwrap()
}

fn user_id() -> Uuid {
    Uuid::from_u128(7)
}

fn registered() -> UserEvent {
    UserEvent::UserRegistered {
        user_id: user_id(),
        username: "Ada".into(),
        email: "ada@example.com".into(),
        password_hash: "$argon2id$stub".into(),
        registered_at: at(0),
    }
}

fn register_command() -> UserCommand {
    UserCommand::RegisterUser {
        user_id: user_id(),
        username: Username::parse("Ada", &UsernamePolicy::default()).unwrap(),
        email: Email::parse("ada@example.com").unwrap(),
        password_hash: "$argon2id$stub".into(),
        at: at(0),
        code_expires_at: at(10),
    }
}

#[test]
fn register_user_records_user_registered_when_new() {
    UserTest::with(())
        .given_no_previous_events()
        .when(register_command())
        .then_expect_events(vec![
            registered(),
            UserEvent::EmailVerificationCodeIssued {
                issued_at: at(0),
                expires_at: at(10),
            },
        ]);
}

#[test]
fn register_user_fails_when_already_registered() {
    UserTest::with(())
        .given(vec![registered()])
        .when(register_command())
        .then_expect_error(UserError::AlreadyRegistered);
}

#[test]
fn record_verification_code_issued_records_event_when_unverified() {
    UserTest::with(())
        .given(vec![registered()])
        .when(UserCommand::RecordVerificationCodeIssued {
            at: at(1),
            expires_at: at(11),
        })
        .then_expect_events(vec![UserEvent::EmailVerificationCodeIssued {
            issued_at: at(1),
            expires_at: at(11),
        }]);
}

#[test]
fn record_verification_code_issued_fails_when_already_verified() {
    UserTest::with(())
        .given(vec![
            registered(),
            UserEvent::EmailVerified { verified_at: at(2) },
        ])
        .when(UserCommand::RecordVerificationCodeIssued {
            at: at(3),
            expires_at: at(13),
        })
        .then_expect_error(UserError::EmailAlreadyVerified);
}

#[test]
fn verify_email_records_email_verified_when_unverified() {
    UserTest::with(())
        .given(vec![registered()])
        .when(UserCommand::VerifyEmail { at: at(2) })
        .then_expect_events(vec![UserEvent::EmailVerified { verified_at: at(2) }]);
}

#[test]
fn verify_email_fails_when_already_verified() {
    UserTest::with(())
        .given(vec![
            registered(),
            UserEvent::EmailVerified { verified_at: at(2) },
        ])
        .when(UserCommand::VerifyEmail { at: at(3) })
        .then_expect_error(UserError::EmailAlreadyVerified);
}

#[test]
fn verify_email_fails_when_user_does_not_exist() {
    UserTest::with(())
        .given_no_previous_events()
        .when(UserCommand::VerifyEmail { at: at(3) })
        .then_expect_error(UserError::NotFound);
}

#[test]
fn registration_grants_the_user_role() {
    let mut user = User::default();
    cqrs_es::Aggregate::apply(&mut user, registered());
    assert_eq!(
        user.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        vec!["user"]
    );
    assert_eq!(user.status, UserStatus::Active);
}

#[test]
fn user_events_have_namespaced_stable_names() {
    use cqrs_es::DomainEvent;
    assert_eq!(registered().event_type(), "identity.user.UserRegistered");
    assert_eq!(registered().event_version(), "1");
}

//! Identities at OpenID providers: sign-up, linking, the takeover of an
//! unverified account, one identity per provider, unlinking.

use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::tests::{at, registered, state_of, verified_account as verified};
use super::*;
use crate::values::{Email, Username, UsernamePolicy};

type UserTest = TestFramework<User>;

fn identity(subject: &str) -> ExternalIdentity {
    ExternalIdentity {
        provider: "google".into(),
        issuer: "https://accounts.google.com".into(),
        subject: subject.into(),
        email: Some("ada@example.com".into()),
        linked_at: at(5),
    }
}

fn linked(subject: &str, claimed_unverified: bool) -> UserEvent {
    UserEvent::ExternalIdentityLinked {
        provider: "google".into(),
        issuer: "https://accounts.google.com".into(),
        subject: subject.into(),
        email: Some("ada@example.com".into()),
        claimed_unverified,
        at: at(5),
    }
}

fn link(subject: &str) -> UserCommand {
    UserCommand::LinkExternalIdentity {
        identity: identity(subject),
        claim_unverified: true,
    }
}

#[test]
fn a_provider_user_signs_up_verified_and_without_a_password() {
    let command = UserCommand::RegisterExternalUser {
        user_id: Uuid::from_u128(7),
        username: Username::parse("ada", &UsernamePolicy::default()).unwrap(),
        email: Email::parse("ada@example.com").unwrap(),
        identity: identity("sub-1"),
    };
    let registered_without_password = UserEvent::UserRegistered {
        user_id: Uuid::from_u128(7),
        username: "ada".into(),
        email: "ada@example.com".into(),
        password_hash: String::new(),
        registered_at: at(5),
    };
    UserTest::with(())
        .given_no_previous_events()
        .when(command)
        .then_expect_events(vec![
            registered_without_password.clone(),
            UserEvent::EmailVerified { verified_at: at(5) },
            linked("sub-1", false),
        ]);
    let user = state_of(vec![
        registered_without_password,
        UserEvent::EmailVerified { verified_at: at(5) },
        linked("sub-1", false),
    ]);
    assert!(!user.has_password());
    assert!(user.email_verified);
    assert_eq!(user.identity("google").unwrap().subject, "sub-1");
}

#[test]
fn a_verified_account_is_linked_and_keeps_its_password() {
    UserTest::with(())
        .given(verified())
        .when(link("sub-1"))
        .then_expect_events(vec![linked("sub-1", false)]);
    let mut events = verified();
    events.push(linked("sub-1", false));
    assert!(state_of(events).has_password());
}

#[test]
fn an_unverified_account_is_taken_over_and_its_password_removed() {
    UserTest::with(())
        .given(vec![registered()])
        .when(link("sub-1"))
        .then_expect_events(vec![
            UserEvent::EmailVerified { verified_at: at(5) },
            linked("sub-1", true),
        ]);
    let user = state_of(vec![
        registered(),
        UserEvent::EmailVerified { verified_at: at(5) },
        linked("sub-1", true),
    ]);
    assert!(!user.has_password());
    assert!(user.email_verified);
}

#[test]
fn one_identity_per_provider_and_linking_it_again_changes_nothing() {
    let mut events = verified();
    events.push(linked("sub-1", false));
    UserTest::with(())
        .given(events.clone())
        .when(link("sub-1"))
        .then_expect_events(vec![]);
    UserTest::with(())
        .given(events)
        .when(link("sub-2"))
        .then_expect_error(UserError::ProviderAlreadyLinked);
}

#[test]
fn unlinking_is_refused_when_it_is_the_only_way_in() {
    let unlink = || UserCommand::UnlinkExternalIdentity {
        provider: "google".into(),
        at: at(9),
    };
    let mut with_password = verified();
    with_password.push(linked("sub-1", false));
    UserTest::with(())
        .given(with_password)
        .when(unlink())
        .then_expect_events(vec![UserEvent::ExternalIdentityUnlinked {
            provider: "google".into(),
            issuer: "https://accounts.google.com".into(),
            subject: "sub-1".into(),
            at: at(9),
        }]);
    UserTest::with(())
        .given(vec![registered(), linked("sub-1", true)])
        .when(unlink())
        .then_expect_error(UserError::LastSignInMethod);
    UserTest::with(())
        .given(verified())
        .when(unlink())
        .then_expect_error(UserError::IdentityNotLinked);
}

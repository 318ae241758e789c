//! Email and username changes: what each command records and refuses.

use cqrs_es::test::TestFramework;

use super::tests::{at, state_of, verified_account as verified};
use super::*;
use crate::values::{Email, Username, UsernamePolicy};

type UserTest = TestFramework<User>;

fn request(email: &str) -> UserCommand {
    UserCommand::RequestEmailChange {
        new_email: Email::parse(email).unwrap(),
        at: at(2),
        expires_at: at(17),
    }
}

fn requested(email: &str) -> UserEvent {
    UserEvent::EmailChangeRequested {
        new_email: email.into(),
        at: at(2),
        expires_at: at(17),
    }
}

fn rename(username: &str) -> UserCommand {
    UserCommand::ChangeUsername {
        username: Username::parse(username, &UsernamePolicy::default()).unwrap(),
        old_reserved_until: at(40),
        at: at(3),
    }
}

#[test]
fn request_email_change_records_the_new_address_and_changes_nothing_yet() {
    let user = state_of([verified(), vec![requested("ada@example.org")]].concat());
    assert_eq!(user.email, "ada@example.com");
    assert_eq!(user.pending_email.unwrap().email, "ada@example.org");
    UserTest::with(())
        .given(verified())
        .when(request("ada@example.org"))
        .then_expect_events(vec![requested("ada@example.org")]);
}

#[test]
fn request_email_change_fails_when_the_address_is_the_current_one() {
    UserTest::with(())
        .given(verified())
        .when(request("ada@example.com"))
        .then_expect_error(UserError::SameEmail);
}

#[test]
fn request_email_change_fails_when_the_account_is_deactivated() {
    let deactivated = UserEvent::UserDeactivated {
        by: "admin".into(),
        at: at(1),
    };
    UserTest::with(())
        .given([verified(), vec![deactivated]].concat())
        .when(request("ada@example.org"))
        .then_expect_error(UserError::Deactivated);
}

#[test]
fn request_email_change_ends_the_reserved_password_check() {
    let reserved = UserEvent::PasswordCheckStarted { at: at(2) };
    let user = state_of([verified(), vec![reserved, requested("ada@example.org")]].concat());
    assert!(user.lockout.pending_checks.is_empty());
}

#[test]
fn confirm_email_change_moves_the_address_when_one_is_pending() {
    let changed = UserEvent::EmailChanged {
        old_email: "ada@example.com".into(),
        new_email: "ada@example.org".into(),
        at: at(5),
    };
    UserTest::with(())
        .given([verified(), vec![requested("ada@example.org")]].concat())
        .when(UserCommand::ConfirmEmailChange { at: at(5) })
        .then_expect_events(vec![changed.clone()]);
    let user = state_of([verified(), vec![requested("ada@example.org"), changed]].concat());
    assert_eq!(user.email, "ada@example.org");
    assert!(user.email_verified);
    assert_eq!(user.pending_email, None);
}

#[test]
fn confirm_email_change_confirms_the_latest_request_only() {
    let given = [
        verified(),
        vec![requested("ada@example.org"), requested("ada@example.net")],
    ]
    .concat();
    UserTest::with(())
        .given(given)
        .when(UserCommand::ConfirmEmailChange { at: at(5) })
        .then_expect_events(vec![UserEvent::EmailChanged {
            old_email: "ada@example.com".into(),
            new_email: "ada@example.net".into(),
            at: at(5),
        }]);
}

#[test]
fn confirm_email_change_fails_when_nothing_is_pending_or_it_expired() {
    UserTest::with(())
        .given(verified())
        .when(UserCommand::ConfirmEmailChange { at: at(5) })
        .then_expect_error(UserError::NoPendingEmailChange);
    UserTest::with(())
        .given([verified(), vec![requested("ada@example.org")]].concat())
        .when(UserCommand::ConfirmEmailChange { at: at(18) })
        .then_expect_error(UserError::NoPendingEmailChange);
}

#[test]
fn confirm_email_change_fails_when_the_change_was_already_confirmed() {
    let changed = UserEvent::EmailChanged {
        old_email: "ada@example.com".into(),
        new_email: "ada@example.org".into(),
        at: at(5),
    };
    UserTest::with(())
        .given([verified(), vec![requested("ada@example.org"), changed]].concat())
        .when(UserCommand::ConfirmEmailChange { at: at(6) })
        .then_expect_error(UserError::NoPendingEmailChange);
}

#[test]
fn change_username_records_the_old_name_and_its_reservation() {
    let changed = UserEvent::UsernameChanged {
        old_username: "Ada".into(),
        username: "lovelace".into(),
        old_reserved_until: at(40),
        at: at(3),
    };
    UserTest::with(())
        .given(verified())
        .when(rename("lovelace"))
        .then_expect_events(vec![changed.clone()]);
    assert_eq!(
        state_of([verified(), vec![changed]].concat()).username,
        "lovelace"
    );
}

#[test]
fn change_username_may_change_only_the_case() {
    UserTest::with(())
        .given(verified())
        .when(rename("ADA"))
        .then_expect_events(vec![UserEvent::UsernameChanged {
            old_username: "Ada".into(),
            username: "ADA".into(),
            old_reserved_until: at(40),
            at: at(3),
        }]);
}

#[test]
fn change_username_fails_when_the_name_is_the_current_one() {
    UserTest::with(())
        .given(verified())
        .when(rename("Ada"))
        .then_expect_error(UserError::SameUsername);
}

#[test]
fn change_username_fails_when_the_user_does_not_exist() {
    UserTest::with(())
        .given_no_previous_events()
        .when(rename("lovelace"))
        .then_expect_error(UserError::NotFound);
}

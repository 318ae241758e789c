use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use uuid::Uuid;

use super::*;
use crate::values::{Email, Username, UsernamePolicy};

type UserTest = TestFramework<User>;

pub(super) fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, minute, 0).unwrap()
}

fn user_id() -> Uuid {
    Uuid::from_u128(7)
}

pub(super) fn registered() -> UserEvent {
    UserEvent::UserRegistered {
        user_id: user_id(),
        username: "Ada".into(),
        email: "ada@example.com".into(),
        password_hash: "$argon2id$stub".into(),
        registered_at: at(0),
    }
}

/// A registered account whose email is verified.
pub(super) fn verified_account() -> Vec<UserEvent> {
    vec![
        registered(),
        UserEvent::EmailVerified { verified_at: at(1) },
    ]
}

/// The state `events` lead to.
pub(super) fn state_of(events: Vec<UserEvent>) -> User {
    let mut user = User::default();
    for event in events {
        user.apply(event);
    }
    user
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

fn policy() -> LockoutPolicy {
    LockoutPolicy::default()
}

fn failed(minute: u32, n: u32) -> Vec<UserEvent> {
    vec![
        UserEvent::PasswordCheckStarted { at: at(minute) },
        UserEvent::LoginFailed {
            at: at(minute),
            consecutive_failures: n,
        },
    ]
}

fn history_with_failures(n: u32) -> Vec<UserEvent> {
    let mut events = vec![
        registered(),
        UserEvent::EmailVerified { verified_at: at(0) },
    ];
    for i in 1..=n {
        events.extend(failed(1, i));
    }
    events
}

#[test]
fn start_password_check_reserves_a_check_when_unlocked() {
    UserTest::with(())
        .given(history_with_failures(2))
        .when(UserCommand::StartPasswordCheck {
            at: at(2),
            policy: policy(),
        })
        .then_expect_events(vec![UserEvent::PasswordCheckStarted { at: at(2) }]);
}

#[test]
fn start_password_check_fails_when_failed_and_pending_checks_reach_the_limit() {
    let mut events = history_with_failures(3);
    events.push(UserEvent::PasswordCheckStarted { at: at(2) });
    events.push(UserEvent::PasswordCheckStarted { at: at(2) });
    let blocked = UserTest::with(())
        .given(events)
        .when(UserCommand::StartPasswordCheck {
            at: at(2),
            policy: policy(),
        });
    assert!(matches!(
        blocked.inspect_result(),
        Err(UserError::ChecksInFlight { .. })
    ));
}

#[test]
fn start_password_check_ignores_reservations_older_than_the_check_timeout() {
    let mut events = history_with_failures(0);
    for _ in 0..5 {
        events.push(UserEvent::PasswordCheckStarted { at: at(1) });
    }
    UserTest::with(())
        .given(events)
        .when(UserCommand::StartPasswordCheck {
            at: at(3),
            policy: policy(),
        })
        .then_expect_events(vec![UserEvent::PasswordCheckStarted { at: at(3) }]);
}

#[test]
fn record_login_failure_locks_the_account_at_the_fifth_failure() {
    let mut events = history_with_failures(4);
    events.push(UserEvent::PasswordCheckStarted { at: at(2) });
    UserTest::with(())
        .given(events)
        .when(UserCommand::RecordLoginFailure {
            at: at(2),
            policy: policy(),
        })
        .then_expect_events(vec![
            UserEvent::LoginFailed {
                at: at(2),
                consecutive_failures: 5,
            },
            UserEvent::AccountLocked {
                until: at(32),
                by: None,
                at: at(2),
            },
        ]);
}

#[test]
fn start_password_check_fails_when_locked() {
    let mut events = history_with_failures(5);
    events.push(UserEvent::AccountLocked {
        until: at(31),
        by: None,
        at: at(1),
    });
    UserTest::with(())
        .given(events)
        .when(UserCommand::StartPasswordCheck {
            at: at(5),
            policy: policy(),
        })
        .then_expect_error(UserError::AccountLocked { until: at(31) });
}

#[test]
fn start_password_check_succeeds_when_the_lock_ran_out() {
    let mut events = history_with_failures(5);
    events.push(UserEvent::AccountLocked {
        until: at(31),
        by: None,
        at: at(1),
    });
    UserTest::with(())
        .given(events)
        .when(UserCommand::StartPasswordCheck {
            at: at(31),
            policy: policy(),
        })
        .then_expect_events(vec![UserEvent::PasswordCheckStarted { at: at(31) }]);
}

#[test]
fn complete_password_check_refuses_without_a_failure_when_the_email_is_unverified() {
    let mut events = history_with_failures(4);
    events.retain(|e| !matches!(e, UserEvent::EmailVerified { .. }));
    events.push(UserEvent::PasswordCheckStarted { at: at(2) });
    UserTest::with(())
        .given(events)
        .when(UserCommand::CompletePasswordCheck {
            at: at(2),
            session_id: Uuid::from_u128(9),
            method: LoginMethod::Password,
        })
        .then_expect_events(vec![UserEvent::LoginRefused {
            at: at(2),
            reason: LoginRefusal::EmailNotVerified,
        }]);
}

#[test]
fn complete_password_check_refuses_when_the_account_is_deactivated() {
    let mut events = history_with_failures(0);
    events.push(UserEvent::UserDeactivated {
        by: "admin".into(),
        at: at(1),
    });
    UserTest::with(())
        .given(events)
        .when(UserCommand::CompletePasswordCheck {
            at: at(2),
            session_id: Uuid::from_u128(9),
            method: LoginMethod::Password,
        })
        .then_expect_events(vec![UserEvent::LoginRefused {
            at: at(2),
            reason: LoginRefusal::AccountDeactivated,
        }]);
}

#[test]
fn ten_refused_logins_with_the_right_password_never_lock_the_account() {
    let mut user = User::default();
    let mut events = history_with_failures(0);
    events.retain(|e| !matches!(e, UserEvent::EmailVerified { .. }));
    for event in events {
        cqrs_es::Aggregate::apply(&mut user, event);
    }
    for _ in 0..10 {
        cqrs_es::Aggregate::apply(&mut user, UserEvent::PasswordCheckStarted { at: at(2) });
        cqrs_es::Aggregate::apply(
            &mut user,
            UserEvent::LoginRefused {
                at: at(2),
                reason: LoginRefusal::EmailNotVerified,
            },
        );
    }
    assert_eq!(user.lockout.blocked_until(at(2), &policy()), None);
}

#[test]
fn record_login_success_resets_the_failure_count() {
    let mut user = User::default();
    for event in history_with_failures(4) {
        cqrs_es::Aggregate::apply(&mut user, event);
    }
    cqrs_es::Aggregate::apply(
        &mut user,
        UserEvent::LoginSucceeded {
            at: at(3),
            session_id: Uuid::from_u128(9),
            method: LoginMethod::Password,
            second_factor: None,
        },
    );
    assert_eq!(user.lockout.consecutive_failures, 0);
}

#[test]
fn unlock_account_records_who_unlocked_when_locked() {
    let mut events = history_with_failures(5);
    events.push(UserEvent::AccountLocked {
        until: at(31),
        by: None,
        at: at(1),
    });
    UserTest::with(())
        .given(events)
        .when(UserCommand::UnlockAccount {
            by: "admin-1".into(),
            at: at(5),
        })
        .then_expect_events(vec![UserEvent::AccountUnlocked {
            by: "admin-1".into(),
            at: at(5),
        }]);
}

#[test]
fn unlock_account_is_a_no_op_when_not_locked() {
    UserTest::with(())
        .given(history_with_failures(0))
        .when(UserCommand::UnlockAccount {
            by: "admin-1".into(),
            at: at(5),
        })
        .then_expect_events(vec![]);
}

#[test]
fn lock_account_records_the_admin_lock() {
    UserTest::with(())
        .given(history_with_failures(0))
        .when(UserCommand::LockAccount {
            until: at(50),
            by: "admin-1".into(),
            at: at(5),
        })
        .then_expect_events(vec![UserEvent::AccountLocked {
            until: at(50),
            by: Some("admin-1".into()),
            at: at(5),
        }]);
}

fn granted(role: Role, minute: u32) -> UserEvent {
    UserEvent::RoleGranted {
        role,
        by: "a".into(),
        at: at(minute),
    }
}

/// A registered user who was granted `role` at minute 1.
fn history_with_role(role: Role) -> Vec<UserEvent> {
    let mut events = history_with_failures(0);
    events.push(granted(role, 1));
    events
}

#[test]
fn set_roles_grants_and_revokes_the_difference() {
    UserTest::with(())
        .given(history_with_role(Role::Auditor))
        .when(UserCommand::SetRoles {
            roles: [Role::User, Role::Admin].into(),
            by: "a".into(),
            at: at(2),
        })
        .then_expect_events(vec![
            granted(Role::Admin, 2),
            UserEvent::RoleRevoked {
                role: Role::Auditor,
                by: "a".into(),
                at: at(2),
            },
        ]);
}

#[test]
fn grant_role_records_role_granted_and_keeps_the_other_roles() {
    UserTest::with(())
        .given(history_with_role(Role::Auditor))
        .when(UserCommand::GrantRole {
            role: Role::Influencer,
            by: "a".into(),
            at: at(2),
        })
        .then_expect_events(vec![granted(Role::Influencer, 2)]);
}

#[test]
fn grant_role_changes_nothing_when_the_role_is_held() {
    UserTest::with(())
        .given(history_with_role(Role::Influencer))
        .when(UserCommand::GrantRole {
            role: Role::Influencer,
            by: "b".into(),
            at: at(2),
        })
        .then_expect_events(vec![]);
}

#[test]
fn set_roles_fails_when_the_user_role_is_dropped() {
    UserTest::with(())
        .given(history_with_failures(0))
        .when(UserCommand::SetRoles {
            roles: [Role::Admin].into(),
            by: "a".into(),
            at: at(2),
        })
        .then_expect_error(UserError::CannotRevokeUserRole);
}

#[test]
fn deactivate_and_reactivate_toggle_the_status_once() {
    UserTest::with(())
        .given(history_with_failures(0))
        .when(UserCommand::DeactivateUser {
            by: "a".into(),
            at: at(2),
        })
        .then_expect_events(vec![UserEvent::UserDeactivated {
            by: "a".into(),
            at: at(2),
        }]);
    let mut deactivated = history_with_failures(0);
    deactivated.push(UserEvent::UserDeactivated {
        by: "a".into(),
        at: at(2),
    });
    UserTest::with(())
        .given(deactivated.clone())
        .when(UserCommand::DeactivateUser {
            by: "a".into(),
            at: at(3),
        })
        .then_expect_events(vec![]);
    UserTest::with(())
        .given(deactivated)
        .when(UserCommand::ReactivateUser {
            by: "a".into(),
            at: at(3),
        })
        .then_expect_events(vec![UserEvent::UserReactivated {
            by: "a".into(),
            at: at(3),
        }]);
}

fn verified() -> UserEvent {
    UserEvent::EmailVerified { verified_at: at(1) }
}

fn change(method: PasswordChangeMethod, reuses_current: bool) -> UserCommand {
    UserCommand::ChangePassword {
        password_hash: "$argon2id$new".into(),
        method,
        reuses_current,
        at: at(30),
    }
}

#[test]
fn a_verified_active_account_may_request_a_password_reset() {
    UserTest::with(())
        .given(vec![registered(), verified()])
        .when(UserCommand::RequestPasswordReset {
            at: at(20),
            expires_at: at(35),
        })
        .then_expect_events(vec![UserEvent::PasswordResetRequested {
            at: at(20),
            expires_at: at(35),
        }]);
}

#[test]
fn an_unverified_or_deactivated_account_may_not_request_a_password_reset() {
    let request = || UserCommand::RequestPasswordReset {
        at: at(20),
        expires_at: at(35),
    };
    UserTest::with(())
        .given(vec![registered()])
        .when(request())
        .then_expect_error(UserError::ResetNotAllowed);
    UserTest::with(())
        .given(vec![
            registered(),
            verified(),
            UserEvent::UserDeactivated {
                by: "admin".into(),
                at: at(5),
            },
        ])
        .when(request())
        .then_expect_error(UserError::ResetNotAllowed);
}

#[test]
fn a_reset_replaces_the_password_and_clears_a_lockout_saying_so() {
    UserTest::with(())
        .given(vec![
            registered(),
            verified(),
            UserEvent::AccountLocked {
                until: at(50),
                by: None,
                at: at(10),
            },
        ])
        .when(change(PasswordChangeMethod::Reset, false))
        .then_expect_events(vec![UserEvent::PasswordChanged {
            password_hash: "$argon2id$new".into(),
            method: PasswordChangeMethod::Reset,
            lockout_cleared: true,
            at: at(30),
        }]);
}

#[test]
fn a_change_keeps_a_lockout_and_the_same_password_is_refused() {
    UserTest::with(())
        .given(vec![registered(), verified()])
        .when(change(PasswordChangeMethod::Change, false))
        .then_expect_events(vec![UserEvent::PasswordChanged {
            password_hash: "$argon2id$new".into(),
            method: PasswordChangeMethod::Change,
            lockout_cleared: false,
            at: at(30),
        }]);
    UserTest::with(())
        .given(vec![registered(), verified()])
        .when(change(PasswordChangeMethod::Change, true))
        .then_expect_error(UserError::PasswordReused);
}

#[test]
fn after_a_reset_the_new_hash_is_the_password_and_the_lock_is_gone() {
    let mut user = User::default();
    for event in [
        registered(),
        verified(),
        UserEvent::AccountLocked {
            until: at(50),
            by: None,
            at: at(10),
        },
        UserEvent::PasswordChanged {
            password_hash: "$argon2id$new".into(),
            method: PasswordChangeMethod::Reset,
            lockout_cleared: true,
            at: at(30),
        },
    ] {
        cqrs_es::Aggregate::apply(&mut user, event);
    }
    assert_eq!(user.password_hash, "$argon2id$new");
    assert_eq!(user.locked_until(at(31)), None);
}

#[test]
fn a_reset_does_not_lift_an_admins_lock() {
    UserTest::with(())
        .given(vec![
            registered(),
            verified(),
            UserEvent::AccountLocked {
                until: at(50),
                by: Some("admin".into()),
                at: at(10),
            },
        ])
        .when(change(PasswordChangeMethod::Reset, false))
        .then_expect_error(UserError::AccountLocked { until: at(50) });
}

#[test]
fn a_sign_in_code_goes_only_to_a_verified_active_account() {
    let issue = || UserCommand::IssueSignInCode {
        channel: CodeChannel::Email,
        at: at(20),
        expires_at: at(30),
    };
    UserTest::with(())
        .given(vec![registered(), verified()])
        .when(issue())
        .then_expect_events(vec![UserEvent::SignInCodeIssued {
            channel: CodeChannel::Email,
            at: at(20),
            expires_at: at(30),
        }]);
    UserTest::with(())
        .given(vec![registered()])
        .when(issue())
        .then_expect_error(UserError::SignInCodeNotAllowed);
    UserTest::with(())
        .given(vec![
            registered(),
            verified(),
            UserEvent::UserDeactivated {
                by: "admin".into(),
                at: at(5),
            },
        ])
        .when(issue())
        .then_expect_error(UserError::SignInCodeNotAllowed);
}

#[test]
fn a_sign_in_by_code_is_recorded_with_its_method() {
    let mut events = history_with_failures(2);
    events.push(UserEvent::PasswordCheckStarted { at: at(2) });
    UserTest::with(())
        .given(events)
        .when(UserCommand::CompletePasswordCheck {
            at: at(2),
            session_id: Uuid::from_u128(9),
            method: LoginMethod::EmailCode,
        })
        .then_expect_events(vec![UserEvent::LoginSucceeded {
            at: at(2),
            session_id: Uuid::from_u128(9),
            method: LoginMethod::EmailCode,
            second_factor: None,
        }]);
}

#[test]
fn a_login_succeeded_of_version_one_reads_as_a_password_login() {
    let v1 = serde_json::json!({"LoginSucceeded": {"at": at(2), "session_id": Uuid::from_u128(9)}});
    let event: UserEvent = serde_json::from_value(v1).unwrap();
    assert!(matches!(
        event,
        UserEvent::LoginSucceeded {
            method: LoginMethod::Password,
            ..
        }
    ));
}

fn phone_added(phone: &str) -> UserEvent {
    UserEvent::PhoneAdded {
        phone: phone.into(),
        at: at(20),
        expires_at: at(30),
    }
}

#[test]
fn an_added_phone_waits_for_its_code_and_replaces_the_verified_one_once_verified() {
    let phone = crate::values::Phone::parse("+4915123456789").unwrap();
    UserTest::with(())
        .given(vec![registered(), verified()])
        .when(UserCommand::AddPhone {
            phone,
            at: at(20),
            expires_at: at(30),
        })
        .then_expect_events(vec![phone_added("+4915123456789")]);
    UserTest::with(())
        .given(vec![
            registered(),
            verified(),
            phone_added("+4915123456789"),
            UserEvent::PhoneVerified {
                phone: "+4915123456789".into(),
                replaced: None,
                at: at(21),
            },
            phone_added("+14155552671"),
        ])
        .when(UserCommand::VerifyPhone { at: at(22) })
        .then_expect_events(vec![UserEvent::PhoneVerified {
            phone: "+14155552671".into(),
            replaced: Some("+4915123456789".into()),
            at: at(22),
        }]);
}

#[test]
fn verifying_without_a_pending_phone_is_refused_and_removing_nothing_records_nothing() {
    UserTest::with(())
        .given(vec![registered(), verified()])
        .when(UserCommand::VerifyPhone { at: at(22) })
        .then_expect_error(UserError::NoPendingPhone);
    UserTest::with(())
        .given(vec![registered(), verified()])
        .when(UserCommand::RemovePhone { at: at(22) })
        .then_expect_events(vec![]);
}

#[test]
fn removing_the_phone_names_the_verified_number_it_gives_up() {
    UserTest::with(())
        .given(vec![
            registered(),
            verified(),
            phone_added("+4915123456789"),
            UserEvent::PhoneVerified {
                phone: "+4915123456789".into(),
                replaced: None,
                at: at(21),
            },
        ])
        .when(UserCommand::RemovePhone { at: at(23) })
        .then_expect_events(vec![UserEvent::PhoneRemoved {
            phone: Some("+4915123456789".into()),
            at: at(23),
        }]);
}

#[test]
fn a_sign_in_code_goes_by_sms_only_to_a_verified_phone() {
    let issue = || UserCommand::IssueSignInCode {
        channel: CodeChannel::Sms,
        at: at(24),
        expires_at: at(34),
    };
    UserTest::with(())
        .given(vec![
            registered(),
            verified(),
            phone_added("+4915123456789"),
        ])
        .when(issue())
        .then_expect_error(UserError::SignInCodeNotAllowed);
    UserTest::with(())
        .given(vec![
            registered(),
            verified(),
            phone_added("+4915123456789"),
            UserEvent::PhoneVerified {
                phone: "+4915123456789".into(),
                replaced: None,
                at: at(21),
            },
        ])
        .when(issue())
        .then_expect_events(vec![UserEvent::SignInCodeIssued {
            channel: CodeChannel::Sms,
            at: at(24),
            expires_at: at(34),
        }]);
}

fn update(display_name: Option<&str>, locale: Option<&str>) -> UserCommand {
    use crate::values::{DisplayName, Locale};
    UserCommand::UpdateProfile {
        display_name: display_name.map(|n| DisplayName::parse(n).unwrap()),
        locale: locale.map(|l| Locale::parse(l).unwrap()),
        at: at(40),
    }
}

#[test]
fn a_profile_update_records_only_what_changed() {
    let mut events = vec![registered(), verified()];
    UserTest::with(())
        .given(events.clone())
        .when(update(Some("Ada"), Some("en-GB")))
        .then_expect_events(vec![UserEvent::ProfileUpdated {
            display_name: Some("Ada".into()),
            locale: Some("en-GB".into()),
            at: at(40),
        }]);
    events.push(UserEvent::ProfileUpdated {
        display_name: Some("Ada".into()),
        locale: Some("en-GB".into()),
        at: at(40),
    });
    UserTest::with(())
        .given(events.clone())
        .when(update(Some("Ada"), Some("de-CH")))
        .then_expect_events(vec![UserEvent::ProfileUpdated {
            display_name: None,
            locale: Some("de-CH".into()),
            at: at(40),
        }]);
    UserTest::with(())
        .given(events.clone())
        .when(update(Some("Ada"), None))
        .then_expect_events(vec![]);
    // A locale change keeps the display name.
    events.push(UserEvent::ProfileUpdated {
        display_name: None,
        locale: Some("de-CH".into()),
        at: at(41),
    });
    let mut user = User::default();
    for event in events {
        cqrs_es::Aggregate::apply(&mut user, event);
    }
    assert_eq!(user.display_name.as_deref(), Some("Ada"));
    assert_eq!(user.locale.as_deref(), Some("de-CH"));
}

#[test]
fn a_deactivated_account_keeps_its_profile_as_it_was() {
    let events = vec![
        registered(),
        UserEvent::UserDeactivated {
            by: "admin".into(),
            at: at(1),
        },
    ];
    UserTest::with(())
        .given(events)
        .when(update(Some("Ada"), None))
        .then_expect_error(UserError::Deactivated);
}

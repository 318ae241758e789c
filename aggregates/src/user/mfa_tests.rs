//! The second factor: enrollment, confirmation, sign-in, replay, recovery
//! codes and removal.

use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::tests::{at, registered, state_of};
use super::*;

type UserTest = TestFramework<User>;

fn verified_account() -> Vec<UserEvent> {
    vec![
        registered(),
        UserEvent::EmailVerified { verified_at: at(0) },
    ]
}

fn enrollment_started() -> UserEvent {
    UserEvent::TotpEnrollmentStarted {
        sealed_secret: "sealed".into(),
        at: at(1),
    }
}

fn codes() -> Vec<String> {
    vec!["h1".into(), "h2".into()]
}

fn enabled_at(step: u64) -> Vec<UserEvent> {
    let mut events = verified_account();
    events.push(enrollment_started());
    events.push(UserEvent::TotpEnabled {
        step,
        recovery_codes: codes(),
        at: at(2),
    });
    events
}

fn second_factor(proof: SecondFactorProof) -> UserCommand {
    UserCommand::VerifySecondFactor {
        proof,
        session_id: Uuid::from_u128(9),
        method: LoginMethod::Password,
        at: at(5),
    }
}

#[test]
fn enrollment_keeps_the_sealed_secret_pending_until_a_code_confirms_it() {
    UserTest::with(())
        .given(verified_account())
        .when(UserCommand::StartTotpEnrollment {
            sealed_secret: "sealed".into(),
            at: at(1),
        })
        .then_expect_events(vec![enrollment_started()]);
    let mut pending = verified_account();
    pending.push(enrollment_started());
    let user = state_of(pending.clone());
    assert!(!user.mfa.enabled());
    assert_eq!(user.mfa.pending_secret.as_deref(), Some("sealed"));
    UserTest::with(())
        .given(pending)
        .when(UserCommand::ConfirmTotp {
            step: 100,
            recovery_codes: codes(),
            at: at(2),
        })
        .then_expect_events(vec![UserEvent::TotpEnabled {
            step: 100,
            recovery_codes: codes(),
            at: at(2),
        }]);
    let user = state_of(enabled_at(100));
    assert!(user.mfa.enabled());
    assert_eq!(user.mfa.pending_secret, None);
    assert_eq!(user.mfa.last_used_step, 100);
}

#[test]
fn confirmation_needs_a_started_enrollment_and_a_second_one_is_refused() {
    UserTest::with(())
        .given(verified_account())
        .when(UserCommand::ConfirmTotp {
            step: 1,
            recovery_codes: codes(),
            at: at(2),
        })
        .then_expect_error(UserError::NoTotpEnrollment);
    UserTest::with(())
        .given(enabled_at(100))
        .when(UserCommand::StartTotpEnrollment {
            sealed_secret: "other".into(),
            at: at(3),
        })
        .then_expect_error(UserError::TotpAlreadyEnabled);
}

#[test]
fn with_totp_on_a_right_password_waits_for_the_second_factor() {
    let mut events = enabled_at(100);
    events.push(UserEvent::PasswordCheckStarted { at: at(4) });
    UserTest::with(())
        .given(events.clone())
        .when(UserCommand::CompletePasswordCheck {
            at: at(4),
            session_id: Uuid::from_u128(9),
            method: LoginMethod::Password,
        })
        .then_expect_events(vec![UserEvent::SecondFactorRequired {
            method: LoginMethod::Password,
            at: at(4),
        }]);
    // The reservation ends; failures before it still count.
    events.push(UserEvent::SecondFactorRequired {
        method: LoginMethod::Password,
        at: at(4),
    });
    assert!(state_of(events).lockout.pending_checks.is_empty());
}

#[test]
fn a_code_of_a_later_step_signs_in_and_uses_its_step_up() {
    UserTest::with(())
        .given(enabled_at(100))
        .when(second_factor(SecondFactorProof::Totp { step: 101 }))
        .then_expect_events(vec![
            UserEvent::SecondFactorVerified {
                proof: SecondFactorProof::Totp { step: 101 },
                remaining_recovery_codes: 2,
                at: at(5),
            },
            UserEvent::LoginSucceeded {
                at: at(5),
                session_id: Uuid::from_u128(9),
                method: LoginMethod::Password,
                second_factor: Some(SecondFactorMethod::Totp),
            },
        ]);
}

#[test]
fn a_code_of_a_step_used_before_is_a_replay() {
    for step in [99, 100] {
        UserTest::with(())
            .given(enabled_at(100))
            .when(second_factor(SecondFactorProof::Totp { step }))
            .then_expect_error(UserError::SecondFactorReplayed);
    }
    let mut events = enabled_at(100);
    events.push(UserEvent::SecondFactorVerified {
        proof: SecondFactorProof::Totp { step: 105 },
        remaining_recovery_codes: 2,
        at: at(5),
    });
    UserTest::with(())
        .given(events)
        .when(second_factor(SecondFactorProof::Totp { step: 105 }))
        .then_expect_error(UserError::SecondFactorReplayed);
}

#[test]
fn a_recovery_code_works_once() {
    let proof = || SecondFactorProof::RecoveryCode { hash: "h1".into() };
    let mut events = enabled_at(100);
    events.push(UserEvent::SecondFactorVerified {
        proof: proof(),
        remaining_recovery_codes: 1,
        at: at(5),
    });
    assert_eq!(state_of(events.clone()).mfa.recovery_codes, vec!["h2"]);
    UserTest::with(())
        .given(events)
        .when(second_factor(proof()))
        .then_expect_error(UserError::SecondFactorReplayed);
    UserTest::with(())
        .given(enabled_at(100))
        .when(second_factor(SecondFactorProof::RecoveryCode {
            hash: "unknown".into(),
        }))
        .then_expect_error(UserError::SecondFactorReplayed);
}

#[test]
fn new_recovery_codes_replace_every_old_one() {
    let mut events = enabled_at(100);
    events.push(UserEvent::RecoveryCodesReplaced {
        recovery_codes: vec!["h3".into()],
        at: at(6),
    });
    assert_eq!(state_of(events).mfa.recovery_codes, vec!["h3"]);
    UserTest::with(())
        .given(verified_account())
        .when(UserCommand::ReplaceRecoveryCodes {
            recovery_codes: codes(),
            at: at(6),
        })
        .then_expect_error(UserError::TotpNotEnabled);
}

#[test]
fn the_person_removes_the_factor_with_an_unused_code_and_an_admin_without() {
    UserTest::with(())
        .given(enabled_at(100))
        .when(UserCommand::DisableTotp {
            by: None,
            step: Some(100),
            at: at(7),
        })
        .then_expect_error(UserError::SecondFactorReplayed);
    UserTest::with(())
        .given(enabled_at(100))
        .when(UserCommand::DisableTotp {
            by: Some("admin-id".into()),
            step: None,
            at: at(7),
        })
        .then_expect_events(vec![UserEvent::TotpDisabled {
            by: Some("admin-id".into()),
            at: at(7),
        }]);
    let mut events = enabled_at(100);
    events.push(UserEvent::TotpDisabled {
        by: None,
        at: at(7),
    });
    let user = state_of(events);
    assert_eq!(user.mfa, SecondFactor::default());
    UserTest::with(())
        .given(verified_account())
        .when(UserCommand::DisableTotp {
            by: Some("admin-id".into()),
            step: None,
            at: at(7),
        })
        .then_expect_error(UserError::TotpNotEnabled);
}

#[test]
fn without_a_second_factor_no_proof_is_taken() {
    UserTest::with(())
        .given(verified_account())
        .when(second_factor(SecondFactorProof::Totp { step: 1 }))
        .then_expect_error(UserError::TotpNotEnabled);
}

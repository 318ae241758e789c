use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};
use uuid::Uuid;

use super::*;

type ReferralTest = TestFramework<Referral>;

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + Duration::minutes(minute)
}

fn user() -> Uuid {
    Uuid::from_u128(21)
}

fn influencer() -> Uuid {
    Uuid::from_u128(7)
}

fn code() -> ReferralCode {
    ReferralCode::parse("Ada_Codes").unwrap()
}

fn attribute(user_id: Uuid, code_attributes: bool) -> ReferralCommand {
    ReferralCommand::AttributeSignup {
        user_id,
        influencer_id: influencer(),
        code: code(),
        code_attributes,
        signed_up_at: at(0),
    }
}

fn attributed() -> ReferralEvent {
    ReferralEvent::SignupAttributed {
        user_id: user(),
        influencer_id: influencer(),
        code: code(),
        signed_up_at: at(0),
    }
}

fn verified(minute: i64) -> ReferralEvent {
    ReferralEvent::VerifiedSignupRecorded {
        user_id: user(),
        influencer_id: influencer(),
        code: code(),
        at: at(minute),
    }
}

#[test]
fn attribute_signup_links_user_to_influencer_and_code_when_new() {
    ReferralTest::with(())
        .given_no_previous_events()
        .when(attribute(user(), true))
        .then_expect_events(vec![attributed()]);
}

#[test]
fn attribute_signup_fails_when_already_attributed() {
    ReferralTest::with(())
        .given(vec![attributed()])
        .when(attribute(user(), true))
        .then_expect_error(ReferralError::AlreadyAttributed);
}

#[test]
fn attribute_signup_fails_when_code_is_inactive_or_influencer_suspended() {
    ReferralTest::with(())
        .given_no_previous_events()
        .when(attribute(user(), false))
        .then_expect_error(ReferralError::CodeNotAttributing);
}

#[test]
fn attribute_signup_fails_when_influencer_refers_themselves() {
    ReferralTest::with(())
        .given_no_previous_events()
        .when(attribute(influencer(), true))
        .then_expect_error(ReferralError::SelfReferral);
}

#[test]
fn record_verified_signup_counts_the_signup_when_attributed() {
    ReferralTest::with(())
        .given(vec![attributed()])
        .when(ReferralCommand::RecordVerifiedSignup { at: at(5) })
        .then_expect_events(vec![verified(5)]);
}

#[test]
fn record_verified_signup_changes_nothing_when_already_counted() {
    ReferralTest::with(())
        .given(vec![attributed(), verified(5)])
        .when(ReferralCommand::RecordVerifiedSignup { at: at(9) })
        .then_expect_events(vec![]);
}

#[test]
fn record_verified_signup_fails_when_user_was_not_referred() {
    ReferralTest::with(())
        .given_no_previous_events()
        .when(ReferralCommand::RecordVerifiedSignup { at: at(5) })
        .then_expect_error(ReferralError::NotAttributed);
}

#[test]
fn attribution_is_kept_for_good_once_recorded() {
    let mut referral = Referral::default();
    referral.apply(attributed());
    referral.apply(verified(5));
    assert_eq!(
        referral.attribution,
        Some(Attribution {
            influencer_id: influencer(),
            code: code(),
            signed_up_at: at(0),
        })
    );
}

/// Exhaustive on purpose: no `_` arm, so a new variant fails to compile
/// here until it gets a sample below and its name in `NAMES`.
fn covered(event: &ReferralEvent) {
    match event {
        ReferralEvent::SignupAttributed { .. } | ReferralEvent::VerifiedSignupRecorded { .. } => {}
    }
}

#[test]
fn referral_event_names_are_listed_in_names_and_namespaced() {
    let every = [attributed(), verified(5)];
    every.iter().for_each(covered);
    let named: std::collections::BTreeSet<&str> = every.iter().map(ReferralEvent::name).collect();
    let listed: std::collections::BTreeSet<&str> = ReferralEvent::NAMES.iter().copied().collect();
    assert_eq!(named.len(), every.len(), "one sample per variant");
    assert_eq!(listed.len(), ReferralEvent::NAMES.len(), "no name twice");
    assert_eq!(named, listed);
    assert_eq!(
        attributed().event_type(),
        "identity.referral.SignupAttributed"
    );
    assert_eq!(attributed().event_version(), "1");
}

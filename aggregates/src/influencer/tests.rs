use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};
use uuid::Uuid;

use super::*;
use crate::values::{CommissionRate, ReferralCode, ReferralCodeError};

type InfluencerTest = TestFramework<Influencer>;

fn at(day: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + Duration::days(day)
}

fn channels() -> Vec<Channel> {
    vec![Channel {
        platform: "youtube".into(),
        url: "https://youtube.com/@ada".into(),
        audience_size: 120_000,
    }]
}

fn submit(day: i64, user_verified: bool) -> InfluencerCommand {
    submit_at(at(day), user_verified, ProgramPolicy::default())
}

fn submit_at(at: DateTime<Utc>, user_verified: bool, policy: ProgramPolicy) -> InfluencerCommand {
    InfluencerCommand::SubmitApplication {
        user_id: Uuid::from_u128(7),
        display_name: "Ada Codes".into(),
        channels: channels(),
        pitch: "I teach Rust to 120k people.".into(),
        user_verified,
        at,
        policy,
    }
}

fn submitted(day: i64) -> InfluencerEvent {
    InfluencerEvent::ApplicationSubmitted {
        user_id: Uuid::from_u128(7),
        display_name: "Ada Codes".into(),
        channels: channels(),
        pitch: "I teach Rust to 120k people.".into(),
        at: at(day),
    }
}

fn code(raw: &str) -> ReferralCode {
    ReferralCode::parse(raw).unwrap()
}

fn approved() -> InfluencerEvent {
    InfluencerEvent::ApplicationApproved {
        code: code("ABCD2345"),
        commission_rate: CommissionRate::default(),
        by: "admin".into(),
        at: at(1),
    }
}

fn rejected(day: i64) -> InfluencerEvent {
    InfluencerEvent::ApplicationRejected {
        reason: "audience too small".into(),
        by: "admin".into(),
        at: at(day),
    }
}

fn claimed(raw: &str) -> InfluencerEvent {
    InfluencerEvent::VanityCodeClaimed {
        code: code(raw),
        by: "ada".into(),
        at: at(2),
    }
}

fn suspended() -> InfluencerEvent {
    InfluencerEvent::InfluencerSuspended {
        reason: "fake followers".into(),
        by: "admin".into(),
        at: at(3),
    }
}

fn approve(raw: &str) -> InfluencerCommand {
    InfluencerCommand::ApproveApplication {
        code: raw.into(),
        commission_rate: CommissionRate::default(),
        by: "admin".into(),
        at: at(1),
    }
}

fn reject(reason: &str) -> InfluencerCommand {
    InfluencerCommand::RejectApplication {
        reason: reason.into(),
        by: "admin".into(),
        at: at(1),
    }
}

fn claim(raw: &str) -> InfluencerCommand {
    InfluencerCommand::ClaimVanityCode {
        code: raw.into(),
        by: "ada".into(),
        at: at(2),
        policy: ProgramPolicy::default(),
    }
}

#[test]
fn submit_application_records_application_submitted_when_verified_user_applies() {
    InfluencerTest::with(())
        .given_no_previous_events()
        .when(submit(0, true))
        .then_expect_events(vec![submitted(0)]);
}

#[test]
fn submit_application_fails_when_user_not_verified() {
    InfluencerTest::with(())
        .given_no_previous_events()
        .when(submit(0, false))
        .then_expect_error(InfluencerError::NotVerified);
}

#[test]
fn submit_application_fails_when_an_application_is_pending() {
    InfluencerTest::with(())
        .given(vec![submitted(0)])
        .when(submit(1, true))
        .then_expect_error(InfluencerError::ApplicationPending);
}

#[test]
fn submit_application_fails_when_already_an_influencer() {
    InfluencerTest::with(())
        .given(vec![submitted(0), approved()])
        .when(submit(40, true))
        .then_expect_error(InfluencerError::AlreadyInfluencer);
}

#[test]
fn submit_application_fails_when_reapplying_within_30_days_of_rejection() {
    InfluencerTest::with(())
        .given(vec![submitted(0), rejected(1)])
        .when(submit_at(
            at(31) - Duration::seconds(1),
            true,
            ProgramPolicy::default(),
        ))
        .then_expect_error(InfluencerError::TooSoonToReapply {
            allowed_from: at(31),
        });
}

#[test]
fn submit_application_records_application_submitted_when_reapplying_30_days_after_rejection() {
    InfluencerTest::with(())
        .given(vec![submitted(0), rejected(1)])
        .when(submit(31, true))
        .then_expect_events(vec![submitted(31)]);
}

#[test]
fn submit_application_honours_the_policy_when_reapply_delay_is_configured() {
    let policy = ProgramPolicy {
        reapply_after: Duration::days(7),
        ..ProgramPolicy::default()
    };
    InfluencerTest::with(())
        .given(vec![submitted(0), rejected(1)])
        .when(submit_at(at(8), true, policy))
        .then_expect_events(vec![submitted(8)]);
}

#[test]
fn submit_application_fails_when_application_is_incomplete() {
    let cases = [
        ("  ", channels(), "pitch", ApplicationProblem::DisplayName),
        ("Ada", vec![], "pitch", ApplicationProblem::NoChannels),
        (
            "Ada",
            vec![channels()[0].clone(); 11],
            "pitch",
            ApplicationProblem::TooManyChannels,
        ),
        (
            "Ada",
            vec![Channel {
                url: "javascript:alert(1)".into(),
                ..channels()[0].clone()
            }],
            "pitch",
            ApplicationProblem::Channel,
        ),
        ("Ada", channels(), "", ApplicationProblem::Pitch),
    ];
    for (name, channels, pitch, problem) in cases {
        InfluencerTest::with(())
            .given_no_previous_events()
            .when(InfluencerCommand::SubmitApplication {
                user_id: Uuid::from_u128(7),
                display_name: name.into(),
                channels,
                pitch: pitch.into(),
                user_verified: true,
                at: at(0),
                policy: ProgramPolicy::default(),
            })
            .then_expect_error(InfluencerError::InvalidApplication(problem));
    }
}

#[test]
fn approve_application_issues_the_generated_code_when_pending() {
    InfluencerTest::with(())
        .given(vec![submitted(0)])
        .when(approve("ABCD2345"))
        .then_expect_events(vec![approved()]);
}

#[test]
fn approve_application_fails_when_no_application_was_submitted() {
    InfluencerTest::with(())
        .given_no_previous_events()
        .when(approve("ABCD2345"))
        .then_expect_error(InfluencerError::NotFound);
}

#[test]
fn approve_application_fails_when_already_decided() {
    for decided in [approved(), rejected(1)] {
        InfluencerTest::with(())
            .given(vec![submitted(0), decided])
            .when(approve("ABCD2345"))
            .then_expect_error(InfluencerError::AlreadyDecided);
    }
}

#[test]
fn approve_application_fails_when_code_uses_ambiguous_characters() {
    for bad in ["ABCD2340", "ABCD234O", "ABCD2341", "ABCD234I", "abcd2345"] {
        InfluencerTest::with(())
            .given(vec![submitted(0)])
            .when(approve(bad))
            .then_expect_error(InfluencerError::InvalidCode(
                ReferralCodeError::InvalidCharacters,
            ));
    }
}

#[test]
fn approve_application_fails_when_code_is_not_8_characters() {
    for bad in ["ABCD234", "ABCD23456"] {
        InfluencerTest::with(())
            .given(vec![submitted(0)])
            .when(approve(bad))
            .then_expect_error(InfluencerError::InvalidCode(ReferralCodeError::WrongLength));
    }
}

#[test]
fn reject_application_records_the_reason_when_pending() {
    InfluencerTest::with(())
        .given(vec![submitted(0)])
        .when(reject("audience too small"))
        .then_expect_events(vec![rejected(1)]);
}

#[test]
fn reject_application_fails_when_already_decided() {
    for decided in [approved(), rejected(1)] {
        InfluencerTest::with(())
            .given(vec![submitted(0), decided])
            .when(reject("again"))
            .then_expect_error(InfluencerError::AlreadyDecided);
    }
}

#[test]
fn reject_application_fails_when_reason_is_blank() {
    InfluencerTest::with(())
        .given(vec![submitted(0)])
        .when(reject(" "))
        .then_expect_error(InfluencerError::ReasonRequired);
}

mod codes;

/// Exhaustive on purpose: no `_` arm, so a new variant fails to compile
/// here until it gets a sample below and its name in `NAMES`.
fn covered(event: &InfluencerEvent) {
    match event {
        InfluencerEvent::ApplicationSubmitted { .. }
        | InfluencerEvent::ApplicationApproved { .. }
        | InfluencerEvent::ApplicationRejected { .. }
        | InfluencerEvent::VanityCodeClaimed { .. }
        | InfluencerEvent::ReferralCodeDeactivated { .. }
        | InfluencerEvent::InfluencerSuspended { .. }
        | InfluencerEvent::InfluencerReinstated { .. }
        | InfluencerEvent::CommissionRateSet { .. } => {}
    }
}

#[test]
fn influencer_event_names_are_listed_in_names_and_namespaced() {
    let every = [
        submitted(0),
        approved(),
        rejected(1),
        claimed("ada_codes"),
        InfluencerEvent::ReferralCodeDeactivated {
            code: code("ada_codes"),
            by: "ada".into(),
            at: at(2),
        },
        suspended(),
        InfluencerEvent::InfluencerReinstated {
            by: "admin".into(),
            at: at(4),
        },
        InfluencerEvent::CommissionRateSet {
            commission_rate: CommissionRate::default(),
            by: "admin".into(),
            at: at(4),
        },
    ];
    every.iter().for_each(covered);
    let named: std::collections::BTreeSet<&str> = every.iter().map(InfluencerEvent::name).collect();
    let listed: std::collections::BTreeSet<&str> = InfluencerEvent::NAMES.iter().copied().collect();
    assert_eq!(named.len(), every.len(), "one sample per variant");
    assert_eq!(listed.len(), InfluencerEvent::NAMES.len(), "no name twice");
    assert_eq!(named, listed);
    assert_eq!(
        approved().event_type(),
        "identity.influencer.ApplicationApproved"
    );
    assert_eq!(approved().event_version(), "1");
}

fn state(events: Vec<InfluencerEvent>) -> Influencer {
    let mut influencer = Influencer::default();
    for event in events {
        influencer.apply(event);
    }
    influencer
}

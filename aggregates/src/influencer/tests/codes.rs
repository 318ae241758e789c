//! Codes, suspension and commission rate of an approved influencer.

use super::*;

fn influencer_with(extra: Vec<InfluencerEvent>) -> Vec<InfluencerEvent> {
    let mut events = vec![submitted(0), approved()];
    events.extend(extra);
    events
}

fn deactivated(raw: &str) -> InfluencerEvent {
    InfluencerEvent::ReferralCodeDeactivated {
        code: code(raw),
        by: "ada".into(),
        at: at(2),
    }
}

fn five_vanity_codes() -> Vec<InfluencerEvent> {
    influencer_with(
        ["code_1", "code_2", "code_3", "code_4", "code_5"]
            .map(claimed)
            .to_vec(),
    )
}

#[test]
fn claim_vanity_code_records_vanity_code_claimed_when_valid() {
    InfluencerTest::with(())
        .given(influencer_with(vec![]))
        .when(claim("Ada_Codes-26"))
        .then_expect_events(vec![claimed("Ada_Codes-26")]);
}

#[test]
fn claim_vanity_code_fails_when_length_is_outside_4_to_20() {
    for bad in ["ada", "a_code_of_21_letters_"] {
        InfluencerTest::with(())
            .given(influencer_with(vec![]))
            .when(claim(bad))
            .then_expect_error(InfluencerError::InvalidCode(ReferralCodeError::WrongLength));
    }
}

#[test]
fn claim_vanity_code_fails_when_it_has_characters_outside_the_alphabet() {
    for bad in ["ada codes", "ada.codes", "adä_codes", "ada!"] {
        InfluencerTest::with(())
            .given(influencer_with(vec![]))
            .when(claim(bad))
            .then_expect_error(InfluencerError::InvalidCode(
                ReferralCodeError::InvalidCharacters,
            ));
    }
}

#[test]
fn claim_vanity_code_fails_when_it_is_a_reserved_word_in_any_case() {
    for word in [
        "admin", "SUPPORT", "Help", "root", "system", "IDENTITY", "official", "staff", "null",
    ] {
        InfluencerTest::with(())
            .given(influencer_with(vec![]))
            .when(claim(word))
            .then_expect_error(InfluencerError::InvalidCode(ReferralCodeError::Reserved));
    }
}

#[test]
fn claim_vanity_code_fails_when_five_vanity_codes_are_active() {
    InfluencerTest::with(())
        .given(five_vanity_codes())
        .when(claim("code_6"))
        .then_expect_error(InfluencerError::VanityCodeLimitReached { max: 5 });
}

#[test]
fn claim_vanity_code_records_the_claim_when_one_of_five_was_deactivated() {
    let mut events = five_vanity_codes();
    events.push(deactivated("code_3"));
    InfluencerTest::with(())
        .given(events)
        .when(claim("code_6"))
        .then_expect_events(vec![claimed("code_6")]);
}

#[test]
fn claim_vanity_code_fails_when_the_configured_limit_is_reached() {
    let policy = ProgramPolicy {
        max_vanity_codes: 1,
        ..ProgramPolicy::default()
    };
    InfluencerTest::with(())
        .given(influencer_with(vec![claimed("code_1")]))
        .when(InfluencerCommand::ClaimVanityCode {
            code: "code_2".into(),
            by: "ada".into(),
            at: at(2),
            policy,
        })
        .then_expect_error(InfluencerError::VanityCodeLimitReached { max: 1 });
}

#[test]
fn claim_vanity_code_changes_nothing_when_the_same_code_is_active_in_other_case() {
    InfluencerTest::with(())
        .given(influencer_with(vec![claimed("Ada_Codes")]))
        .when(claim("ADA_CODES"))
        .then_expect_events(vec![]);
}

#[test]
fn claim_vanity_code_fails_when_suspended() {
    InfluencerTest::with(())
        .given(influencer_with(vec![suspended()]))
        .when(claim("ada_codes"))
        .then_expect_error(InfluencerError::Suspended);
}

#[test]
fn claim_vanity_code_fails_when_not_an_approved_influencer() {
    InfluencerTest::with(())
        .given(vec![submitted(0)])
        .when(claim("ada_codes"))
        .then_expect_error(InfluencerError::NotAnInfluencer);
}

#[test]
fn deactivate_code_records_the_stored_code_when_active_ignoring_case() {
    InfluencerTest::with(())
        .given(influencer_with(vec![claimed("Ada_Codes")]))
        .when(InfluencerCommand::DeactivateCode {
            code: code("ada_codes"),
            by: "ada".into(),
            at: at(2),
        })
        .then_expect_events(vec![deactivated("Ada_Codes")]);
}

#[test]
fn deactivate_code_records_deactivation_when_the_code_is_the_generated_one() {
    InfluencerTest::with(())
        .given(influencer_with(vec![]))
        .when(InfluencerCommand::DeactivateCode {
            code: code("abcd2345"),
            by: "admin".into(),
            at: at(2),
        })
        .then_expect_events(vec![InfluencerEvent::ReferralCodeDeactivated {
            code: code("ABCD2345"),
            by: "admin".into(),
            at: at(2),
        }]);
}

#[test]
fn deactivate_code_fails_when_already_deactivated_or_unknown() {
    for given in [vec![claimed("ada_codes"), deactivated("ada_codes")], vec![]] {
        InfluencerTest::with(())
            .given(influencer_with(given))
            .when(InfluencerCommand::DeactivateCode {
                code: code("ada_codes"),
                by: "ada".into(),
                at: at(3),
            })
            .then_expect_error(InfluencerError::UnknownCode);
    }
}

#[test]
fn deactivated_code_stops_attributing() {
    let influencer = state(influencer_with(vec![
        claimed("ada_codes"),
        deactivated("ada_codes"),
    ]));
    assert!(!influencer.attributes(&code("ada_codes")));
    assert!(influencer.attributes(&code("abcd2345")));
}

#[test]
fn suspend_influencer_records_suspension_when_active() {
    InfluencerTest::with(())
        .given(influencer_with(vec![]))
        .when(InfluencerCommand::SuspendInfluencer {
            reason: "fake followers".into(),
            by: "admin".into(),
            at: at(3),
        })
        .then_expect_events(vec![suspended()]);
}

#[test]
fn suspend_influencer_changes_nothing_when_already_suspended() {
    InfluencerTest::with(())
        .given(influencer_with(vec![suspended()]))
        .when(InfluencerCommand::SuspendInfluencer {
            reason: "again".into(),
            by: "admin".into(),
            at: at(4),
        })
        .then_expect_events(vec![]);
}

#[test]
fn suspend_influencer_fails_when_not_an_influencer() {
    InfluencerTest::with(())
        .given(vec![submitted(0)])
        .when(InfluencerCommand::SuspendInfluencer {
            reason: "spam".into(),
            by: "admin".into(),
            at: at(4),
        })
        .then_expect_error(InfluencerError::NotAnInfluencer);
}

#[test]
fn reinstate_influencer_records_reinstatement_when_suspended() {
    InfluencerTest::with(())
        .given(influencer_with(vec![suspended()]))
        .when(InfluencerCommand::ReinstateInfluencer {
            by: "admin".into(),
            at: at(4),
        })
        .then_expect_events(vec![InfluencerEvent::InfluencerReinstated {
            by: "admin".into(),
            at: at(4),
        }]);
}

#[test]
fn suspended_influencer_codes_stop_attributing_until_reinstated() {
    let mut events = influencer_with(vec![claimed("ada_codes"), suspended()]);
    let influencer = state(events.clone());
    assert!(!influencer.is_active());
    assert!(!influencer.attributes(&code("ada_codes")));
    assert!(!influencer.attributes(&code("ABCD2345")));
    events.push(InfluencerEvent::InfluencerReinstated {
        by: "admin".into(),
        at: at(4),
    });
    let influencer = state(events);
    assert!(influencer.attributes(&code("ADA_CODES")));
}

#[test]
fn approve_application_sets_the_default_rate_of_1000_basis_points() {
    let influencer = state(influencer_with(vec![]));
    assert_eq!(influencer.commission_rate.bps(), 1_000);
}

#[test]
fn set_commission_rate_records_the_rate_when_influencer() {
    let rate = CommissionRate::from_bps(2_500).unwrap();
    InfluencerTest::with(())
        .given(influencer_with(vec![suspended()]))
        .when(InfluencerCommand::SetCommissionRate {
            commission_rate: rate,
            by: "admin".into(),
            at: at(4),
        })
        .then_expect_events(vec![InfluencerEvent::CommissionRateSet {
            commission_rate: rate,
            by: "admin".into(),
            at: at(4),
        }]);
}

#[test]
fn set_commission_rate_changes_nothing_when_the_rate_is_unchanged() {
    InfluencerTest::with(())
        .given(influencer_with(vec![]))
        .when(InfluencerCommand::SetCommissionRate {
            commission_rate: CommissionRate::default(),
            by: "admin".into(),
            at: at(4),
        })
        .then_expect_events(vec![]);
}

#[test]
fn set_commission_rate_fails_when_not_an_influencer() {
    InfluencerTest::with(())
        .given(vec![submitted(0)])
        .when(InfluencerCommand::SetCommissionRate {
            commission_rate: CommissionRate::default(),
            by: "admin".into(),
            at: at(4),
        })
        .then_expect_error(InfluencerError::NotAnInfluencer);
}

#[test]
fn influencer_state_stays_bounded_however_many_codes_come_and_go() {
    let mut influencer = state(influencer_with(vec![]));
    for i in 0..1_000 {
        influencer.apply(claimed(&format!("code_{i}")));
        if i >= 5 {
            influencer.apply(deactivated(&format!("code_{}", i - 5)));
        }
    }
    assert_eq!(influencer.vanity_codes.len(), 5);
}

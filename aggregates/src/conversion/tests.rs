use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::DomainEvent;
use uuid::Uuid;

use super::*;
use crate::referral::Attribution;
use crate::values::{CommissionRate, Currency, ReferralCode, MAX_AMOUNT_MINOR};

type ConversionTest = TestFramework<Conversion>;

fn signed_up_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn day(n: i64) -> DateTime<Utc> {
    signed_up_at() + Duration::days(n)
}

fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

fn code() -> ReferralCode {
    ReferralCode::parse("ABCD2345").unwrap()
}

fn influencer() -> Uuid {
    Uuid::from_u128(7)
}

fn attribution() -> Option<Attribution> {
    Some(Attribution {
        influencer_id: influencer(),
        code: code(),
        signed_up_at: signed_up_at(),
    })
}

/// The terms of every test unless it says otherwise.
struct Sale {
    external_id: &'static str,
    amount_minor: i64,
    occurred_at: DateTime<Utc>,
    attribution: Option<Attribution>,
    influencer_active: bool,
    rate_bps: u32,
    /// When the service records it; the sale's own date unless set.
    recorded_at: Option<DateTime<Utc>>,
}

impl Default for Sale {
    fn default() -> Self {
        Self {
            external_id: "pi_123",
            amount_minor: 10_000,
            occurred_at: day(10),
            attribution: attribution(),
            influencer_active: true,
            rate_bps: 1_000,
            recorded_at: None,
        }
    }
}

fn record(sale: Sale) -> ConversionCommand {
    ConversionCommand::RecordConversion {
        external_id: sale.external_id.into(),
        user_id: Uuid::from_u128(21),
        amount_minor: sale.amount_minor,
        currency: eur(),
        occurred_at: sale.occurred_at,
        attribution: sale.attribution,
        influencer_active: sale.influencer_active,
        rate_bps: CommissionRate::from_bps(sale.rate_bps).unwrap(),
        window: Duration::days(365),
        hold: Duration::days(30),
        at: sale.recorded_at.unwrap_or(sale.occurred_at),
    }
}

fn recorded(
    occurred_at: DateTime<Utc>,
    commission_minor: i64,
    no_commission_reason: Option<NoCommissionReason>,
) -> ConversionEvent {
    let referred = no_commission_reason != Some(NoCommissionReason::NotReferred);
    ConversionEvent::ConversionRecorded {
        external_id: "pi_123".into(),
        user_id: Uuid::from_u128(21),
        amount_minor: 10_000,
        currency: eur(),
        occurred_at,
        influencer_id: referred.then(influencer),
        code: referred.then(code),
        commission_rate: no_commission_reason.is_none().then(CommissionRate::default),
        commission_minor,
        no_commission_reason,
        release_at: occurred_at + Duration::days(30),
    }
}

#[test]
fn record_conversion_earns_commission_when_referred_and_active() {
    ConversionTest::with(())
        .given_no_previous_events()
        .when(record(Sale::default()))
        .then_expect_events(vec![recorded(day(10), 1_000, None)]);
}

#[test]
fn record_conversion_rounds_commission_down_when_not_whole() {
    let result = ConversionTest::with(())
        .given_no_previous_events()
        .when(record(Sale {
            amount_minor: 1_999,
            rate_bps: 333,
            ..Sale::default()
        }))
        .inspect_result();
    let events = result.unwrap();
    // 1999 * 333 / 10000 = 66.5667: rounded down to 66.
    assert!(matches!(
        events.as_slice(),
        [ConversionEvent::ConversionRecorded {
            commission_minor: 66,
            ..
        }]
    ));
}

#[test]
fn record_conversion_earns_nothing_when_user_not_referred() {
    ConversionTest::with(())
        .given_no_previous_events()
        .when(record(Sale {
            attribution: None,
            ..Sale::default()
        }))
        .then_expect_events(vec![recorded(
            day(10),
            0,
            Some(NoCommissionReason::NotReferred),
        )]);
}

#[test]
fn record_conversion_earns_commission_when_exactly_at_the_window_boundary() {
    ConversionTest::with(())
        .given_no_previous_events()
        .when(record(Sale {
            occurred_at: day(365),
            ..Sale::default()
        }))
        .then_expect_events(vec![recorded(day(365), 1_000, None)]);
}

#[test]
fn record_conversion_earns_nothing_when_just_past_the_window() {
    let just_past = day(365) + Duration::seconds(1);
    ConversionTest::with(())
        .given_no_previous_events()
        .when(record(Sale {
            occurred_at: just_past,
            ..Sale::default()
        }))
        .then_expect_events(vec![recorded(
            just_past,
            0,
            Some(NoCommissionReason::OutsideAttributionWindow),
        )]);
}

#[test]
fn record_conversion_earns_nothing_when_influencer_suspended() {
    ConversionTest::with(())
        .given_no_previous_events()
        .when(record(Sale {
            influencer_active: false,
            ..Sale::default()
        }))
        .then_expect_events(vec![recorded(
            day(10),
            0,
            Some(NoCommissionReason::InfluencerSuspended),
        )]);
}

#[test]
fn record_conversion_changes_nothing_when_repeated_with_the_same_sale() {
    ConversionTest::with(())
        .given(vec![recorded(day(10), 1_000, None)])
        .when(record(Sale {
            // What the edge reads may have changed since; the first answer stands.
            influencer_active: false,
            rate_bps: 2_000,
            ..Sale::default()
        }))
        .then_expect_events(vec![]);
}

#[test]
fn record_conversion_fails_when_external_id_reused_with_other_data() {
    for other in [
        Sale {
            amount_minor: 10_001,
            ..Sale::default()
        },
        Sale {
            occurred_at: day(11),
            ..Sale::default()
        },
    ] {
        ConversionTest::with(())
            .given(vec![recorded(day(10), 1_000, None)])
            .when(record(other))
            .then_expect_error(ConversionError::ExternalIdReused);
    }
}

#[test]
fn record_conversion_fails_when_amount_is_not_positive_or_above_what_money_can_be() {
    for amount_minor in [0, -500, i64::MIN, MAX_AMOUNT_MINOR + 1, i64::MAX] {
        ConversionTest::with(())
            .given_no_previous_events()
            .when(record(Sale {
                amount_minor,
                ..Sale::default()
            }))
            .then_expect_error(ConversionError::AmountOutOfRange);
    }
}

#[test]
fn record_conversion_earns_commission_when_the_amount_is_the_maximum_at_full_rate() {
    let result = ConversionTest::with(())
        .given_no_previous_events()
        .when(record(Sale {
            amount_minor: MAX_AMOUNT_MINOR,
            rate_bps: 10_000,
            ..Sale::default()
        }));
    let events = result.inspect_result().unwrap();
    assert!(matches!(
        events.as_slice(),
        [ConversionEvent::ConversionRecorded { commission_minor, .. }] if *commission_minor == MAX_AMOUNT_MINOR
    ));
}

#[test]
fn record_conversion_fails_when_dated_before_the_referred_signup() {
    // The backdated sale of the hardening report: dated 2000-01-01.
    let long_ago = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
    for occurred_at in [signed_up_at() - Duration::seconds(1), long_ago] {
        ConversionTest::with(())
            .given_no_previous_events()
            .when(record(Sale {
                occurred_at,
                recorded_at: Some(signed_up_at() + Duration::hours(1)),
                ..Sale::default()
            }))
            .then_expect_error(if occurred_at == long_ago {
                ConversionError::OccurredAtOutOfRange
            } else {
                ConversionError::OccurredBeforeSignup
            });
    }
}

#[test]
fn record_conversion_fails_when_dated_too_far_in_the_past_or_the_future() {
    let now = day(100);
    let extremes = [
        now - MAX_SALE_AGE - Duration::seconds(1),
        now + MAX_CLOCK_SKEW + Duration::seconds(1),
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
    ];
    for occurred_at in extremes {
        ConversionTest::with(())
            .given_no_previous_events()
            .when(record(Sale {
                occurred_at,
                recorded_at: Some(now),
                attribution: None,
                ..Sale::default()
            }))
            .then_expect_error(ConversionError::OccurredAtOutOfRange);
    }
}

#[test]
fn record_conversion_holds_earnings_from_the_recording_when_the_sale_is_backdated() {
    let now = day(100);
    let result = ConversionTest::with(())
        .given_no_previous_events()
        .when(record(Sale {
            occurred_at: now - MAX_SALE_AGE,
            recorded_at: Some(now),
            ..Sale::default()
        }));
    let events = result.inspect_result().unwrap();
    assert!(matches!(
        events.as_slice(),
        [ConversionEvent::ConversionRecorded { release_at, .. }] if *release_at == now + Duration::days(30)
    ));
}

#[test]
fn record_conversion_fails_when_external_id_is_empty() {
    ConversionTest::with(())
        .given_no_previous_events()
        .when(record(Sale {
            external_id: "",
            ..Sale::default()
        }))
        .then_expect_error(ConversionError::InvalidExternalId);
}

fn refunded(commission_minor: i64, influencer_id: Option<Uuid>) -> ConversionEvent {
    ConversionEvent::ConversionRefunded {
        external_id: "pi_123".into(),
        user_id: Uuid::from_u128(21),
        amount_minor: 10_000,
        currency: eur(),
        influencer_id,
        commission_minor,
        release_at: day(40),
        at: day(20),
    }
}

#[test]
fn refund_conversion_takes_back_the_commission_when_recorded() {
    ConversionTest::with(())
        .given(vec![recorded(day(10), 1_000, None)])
        .when(ConversionCommand::RefundConversion { at: day(20) })
        .then_expect_events(vec![refunded(1_000, Some(influencer()))]);
}

#[test]
fn refund_conversion_records_a_zero_commission_when_the_sale_earned_nothing() {
    ConversionTest::with(())
        .given(vec![recorded(
            day(10),
            0,
            Some(NoCommissionReason::NotReferred),
        )])
        .when(ConversionCommand::RefundConversion { at: day(20) })
        .then_expect_events(vec![refunded(0, None)]);
}

#[test]
fn refund_conversion_changes_nothing_when_already_refunded() {
    ConversionTest::with(())
        .given(vec![
            recorded(day(10), 1_000, None),
            refunded(1_000, Some(influencer())),
        ])
        .when(ConversionCommand::RefundConversion { at: day(21) })
        .then_expect_events(vec![]);
}

#[test]
fn refund_conversion_fails_when_never_recorded() {
    ConversionTest::with(())
        .given_no_previous_events()
        .when(ConversionCommand::RefundConversion { at: day(20) })
        .then_expect_error(ConversionError::NotFound);
}

/// Exhaustive on purpose: no `_` arm, so a new variant fails to compile
/// here until it gets a sample below and its name in `NAMES`.
fn covered(event: &ConversionEvent) {
    match event {
        ConversionEvent::ConversionRecorded { .. } | ConversionEvent::ConversionRefunded { .. } => {
        }
    }
}

#[test]
fn conversion_event_names_are_listed_in_names_and_namespaced() {
    let every = [
        recorded(day(10), 1_000, None),
        refunded(1_000, Some(influencer())),
    ];
    every.iter().for_each(covered);
    let named: std::collections::BTreeSet<&str> = every.iter().map(ConversionEvent::name).collect();
    let listed: std::collections::BTreeSet<&str> = ConversionEvent::NAMES.iter().copied().collect();
    assert_eq!(named.len(), every.len(), "one sample per variant");
    assert_eq!(listed.len(), ConversionEvent::NAMES.len(), "no name twice");
    assert_eq!(named, listed);
    assert_eq!(
        every[1].event_type(),
        "identity.conversion.ConversionRefunded"
    );
    assert_eq!(every[1].event_version(), "1");
}

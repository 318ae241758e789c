use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};

use super::*;
use crate::values::Currency;

type LedgerTest = TestFramework<Ledger>;

/// Noon on day `n` (day 0 is 2026-01-01).
fn noon(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + Duration::days(n)
}

fn midnight(n: i64) -> DateTime<Utc> {
    noon(n) - Duration::hours(12)
}

fn date(n: i64) -> NaiveDate {
    noon(n).date_naive()
}

fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

/// A conversion on day 0 at noon, held 30 days: released at midnight
/// starting day 31.
fn accrued(external_id: &str, commission_minor: i64) -> LedgerEvent {
    LedgerEvent::EarningsAccrued {
        external_id: external_id.into(),
        currency: eur(),
        commission_minor,
        release_at: noon(30),
        release_on: date(31),
        at: noon(0),
    }
}

fn released(amount_minor: i64, day: i64) -> LedgerEvent {
    LedgerEvent::EarningsReleased {
        currency: eur(),
        amount_minor,
        through: date(day),
        at: noon(day),
    }
}

fn accrue(commission_minor: i64) -> LedgerCommand {
    LedgerCommand::Accrue {
        external_id: "pi_1".into(),
        currency: eur(),
        commission_minor,
        release_at: noon(30),
        at: noon(0),
    }
}

fn reverse(day: i64) -> LedgerCommand {
    LedgerCommand::Reverse {
        external_id: "pi_1".into(),
        currency: eur(),
        commission_minor: 1_000,
        release_at: noon(30),
        at: noon(day),
    }
}

fn reversed(day: i64, from_pending_minor: i64) -> LedgerEvent {
    LedgerEvent::EarningsReversed {
        external_id: "pi_1".into(),
        currency: eur(),
        commission_minor: 1_000,
        from_pending_minor,
        from_available_minor: 1_000 - from_pending_minor,
        release_on: date(31),
        at: noon(day),
    }
}

fn payout(amount_minor: i64, currency: Currency, day: i64) -> LedgerCommand {
    LedgerCommand::RecordPayout {
        amount_minor,
        currency,
        reference: "po_1".into(),
        by: "admin".into(),
        at: noon(day),
    }
}

fn paid(amount_minor: i64, day: i64) -> LedgerEvent {
    LedgerEvent::PayoutRecorded {
        amount_minor,
        currency: eur(),
        reference: "po_1".into(),
        by: "admin".into(),
        at: noon(day),
    }
}

fn state(events: Vec<LedgerEvent>) -> Ledger {
    let mut ledger = Ledger::default();
    for event in events {
        ledger.apply(event);
    }
    ledger
}

fn eur_balance(ledger: &Ledger, at: DateTime<Utc>) -> Balance {
    ledger.balances(at).get(&eur()).copied().unwrap_or_default()
}

fn balance(pending: i64, available: i64, paid: i64) -> Balance {
    Balance {
        pending,
        available,
        paid,
    }
}

#[test]
fn accrue_records_pending_earnings_when_commission_is_positive() {
    LedgerTest::with(())
        .given_no_previous_events()
        .when(accrue(1_000))
        .then_expect_events(vec![accrued("pi_1", 1_000)]);
}

#[test]
fn accrue_fails_when_commission_is_not_positive() {
    for commission in [0, -1] {
        LedgerTest::with(())
            .given_no_previous_events()
            .when(accrue(commission))
            .then_expect_error(LedgerError::AmountOutOfRange);
    }
}

#[test]
fn accrue_releases_at_once_when_the_hold_is_already_over() {
    LedgerTest::with(())
        .given_no_previous_events()
        .when(LedgerCommand::Accrue {
            external_id: "pi_1".into(),
            currency: eur(),
            commission_minor: 1_000,
            release_at: noon(30),
            at: noon(40),
        })
        .then_expect_events(vec![
            LedgerEvent::EarningsAccrued {
                external_id: "pi_1".into(),
                currency: eur(),
                commission_minor: 1_000,
                release_at: noon(30),
                release_on: date(31),
                at: noon(40),
            },
            released(1_000, 40),
        ]);
}

#[test]
fn balances_keep_earnings_pending_until_the_hold_expires_then_available() {
    let ledger = state(vec![accrued("pi_1", 1_000), accrued("pi_2", 500)]);
    assert_eq!(eur_balance(&ledger, noon(0)), balance(1_500, 0, 0));
    // At `release_at` itself the day's bucket is not yet due: never early.
    assert_eq!(eur_balance(&ledger, noon(30)), balance(1_500, 0, 0));
    let just_before = midnight(31) - Duration::seconds(1);
    assert_eq!(eur_balance(&ledger, just_before), balance(1_500, 0, 0));
    assert_eq!(eur_balance(&ledger, midnight(31)), balance(0, 1_500, 0));
    assert!(!ledger.balances(noon(60)).contains_key(&usd()));
}

#[test]
fn released_state_matches_balances_after_the_release_is_applied() {
    let ledger = state(vec![accrued("pi_1", 1_000), released(1_000, 31)]);
    assert!(ledger.accounts[&eur()].pending.is_empty());
    assert_eq!(ledger.accounts[&eur()].available, 1_000);
    assert_eq!(eur_balance(&ledger, noon(31)), balance(0, 1_000, 0));
}

#[test]
fn reverse_takes_back_from_pending_when_not_yet_released() {
    LedgerTest::with(())
        .given(vec![accrued("pi_1", 1_000), accrued("pi_2", 500)])
        .when(reverse(20))
        .then_expect_events(vec![reversed(20, 1_000)]);
    let ledger = state(vec![
        accrued("pi_1", 1_000),
        accrued("pi_2", 500),
        reversed(20, 1_000),
    ]);
    assert_eq!(eur_balance(&ledger, noon(20)), balance(500, 0, 0));
}

#[test]
fn reverse_takes_back_from_available_when_already_released() {
    LedgerTest::with(())
        .given(vec![accrued("pi_1", 1_000), released(1_000, 31)])
        .when(reverse(35))
        .then_expect_events(vec![reversed(35, 0)]);
}

#[test]
fn reverse_releases_first_then_takes_from_available_when_due_but_not_yet_released() {
    LedgerTest::with(())
        .given(vec![accrued("pi_1", 1_000)])
        .when(reverse(35))
        .then_expect_events(vec![released(1_000, 35), reversed(35, 0)]);
}

#[test]
fn reverse_lets_available_go_negative_when_already_paid_out() {
    let events = vec![accrued("pi_1", 1_000), released(1_000, 31), paid(1_000, 32)];
    LedgerTest::with(())
        .given(events.clone())
        .when(reverse(35))
        .then_expect_events(vec![reversed(35, 0)]);
    let mut events = events;
    events.push(reversed(35, 0));
    assert_eq!(
        eur_balance(&state(events), noon(35)),
        balance(0, -1_000, 1_000)
    );
}

#[test]
fn record_payout_fails_when_above_available() {
    LedgerTest::with(())
        .given(vec![accrued("pi_1", 1_000), released(1_000, 31)])
        .when(payout(1_001, eur(), 32))
        .then_expect_error(LedgerError::PayoutExceedsAvailable { available: 1_000 });
}

#[test]
fn record_payout_fails_when_earnings_are_still_pending() {
    LedgerTest::with(())
        .given(vec![accrued("pi_1", 1_000)])
        .when(payout(1, eur(), 30))
        .then_expect_error(LedgerError::PayoutExceedsAvailable { available: 0 });
}

#[test]
fn record_payout_fails_when_the_balance_is_in_another_currency() {
    LedgerTest::with(())
        .given(vec![accrued("pi_1", 1_000), released(1_000, 31)])
        .when(payout(1_000, usd(), 32))
        .then_expect_error(LedgerError::PayoutExceedsAvailable { available: 0 });
}

#[test]
fn record_payout_records_the_payout_when_exactly_the_available_balance() {
    LedgerTest::with(())
        .given(vec![accrued("pi_1", 1_000), released(1_000, 31)])
        .when(payout(1_000, eur(), 32))
        .then_expect_events(vec![paid(1_000, 32)]);
}

#[test]
fn record_payout_releases_matured_earnings_first_when_the_clock_passed_them() {
    LedgerTest::with(())
        .given(vec![accrued("pi_1", 1_000)])
        .when(payout(1_000, eur(), 32))
        .then_expect_events(vec![released(1_000, 32), paid(1_000, 32)]);
}

#[test]
fn record_payout_fails_when_amount_is_not_positive() {
    LedgerTest::with(())
        .given(vec![accrued("pi_1", 1_000), released(1_000, 31)])
        .when(payout(0, eur(), 32))
        .then_expect_error(LedgerError::AmountOutOfRange);
}

#[test]
fn record_payout_records_nothing_when_repeated_with_the_same_reference_and_amount() {
    LedgerTest::with(())
        .given(vec![
            accrued("pi_1", 1_000),
            released(1_000, 31),
            paid(600, 32),
        ])
        .when(payout(600, eur(), 33))
        .then_expect_events(vec![]);
}

#[test]
fn record_payout_fails_when_its_reference_was_used_for_another_amount() {
    LedgerTest::with(())
        .given(vec![
            accrued("pi_1", 1_000),
            released(1_000, 31),
            paid(600, 32),
        ])
        .when(payout(400, eur(), 33))
        .then_expect_error(LedgerError::PayoutReferenceReused);
}

#[test]
fn record_payout_fails_when_the_reference_is_empty_or_too_long() {
    for reference in [String::new(), "r".repeat(MAX_REFERENCE + 1)] {
        LedgerTest::with(())
            .given(vec![accrued("pi_1", 1_000), released(1_000, 31)])
            .when(LedgerCommand::RecordPayout {
                amount_minor: 1,
                currency: eur(),
                reference,
                by: "admin".into(),
                at: noon(32),
            })
            .then_expect_error(LedgerError::InvalidReference);
    }
}

#[test]
fn the_ledger_remembers_only_its_latest_payouts() {
    let mut ledger = state(vec![accrued("pi_1", 1_000), released(1_000, 31)]);
    for i in 0..RECENT_PAYOUTS + 5 {
        ledger.apply(LedgerEvent::PayoutRecorded {
            amount_minor: 1,
            currency: eur(),
            reference: format!("po_{i}"),
            by: "admin".into(),
            at: noon(32),
        });
    }
    assert_eq!(ledger.recent_payouts.len(), RECENT_PAYOUTS);
    assert_eq!(ledger.recent_payouts[0].reference, "po_5");
    assert_eq!(ledger.balances(noon(32))[&eur()].paid, 105);
}

#[test]
fn ledger_state_stays_bounded_after_100_000_accruals() {
    // A year of conversions, one every five minutes, each held 30 days,
    // driven through the same decide-then-apply path as `handle`.
    let mut ledger = Ledger::default();
    let mut largest = 0;
    for i in 0..100_000 {
        let at = noon(0) + Duration::minutes(5 * i);
        let command = LedgerCommand::Accrue {
            external_id: format!("pi_{i}"),
            currency: eur(),
            commission_minor: 10,
            release_at: at + Duration::days(30),
            at,
        };
        for event in ledger.decide(command).unwrap() {
            ledger.apply(event);
        }
        largest = largest.max(ledger.accounts[&eur()].pending.len());
    }
    assert!(largest <= 32, "{largest} pending buckets");
    assert_eq!(ledger.accounts.len(), 1);
    let last = noon(0) + Duration::minutes(5 * 99_999);
    let totals = eur_balance(&ledger, last);
    assert_eq!(totals.pending + totals.available, 1_000_000);
    let snapshot = serde_json::to_string(&ledger).unwrap();
    assert!(snapshot.len() < 4_096, "{} bytes", snapshot.len());
}

#[test]
fn ledger_state_keeps_one_bucket_per_release_day_when_events_are_applied_directly() {
    let mut ledger = Ledger::default();
    for i in 0..100_000 {
        ledger.apply(accrued(&format!("pi_{i}"), 1));
    }
    assert_eq!(ledger.accounts[&eur()].pending.len(), 1);
    assert_eq!(ledger.accounts[&eur()].pending_on(date(31)), 100_000);
}

/// Exhaustive on purpose: no `_` arm, so a new variant fails to compile
/// here until it gets a sample below and its name in `NAMES`.
fn covered(event: &LedgerEvent) {
    match event {
        LedgerEvent::EarningsAccrued { .. }
        | LedgerEvent::EarningsReleased { .. }
        | LedgerEvent::EarningsReversed { .. }
        | LedgerEvent::PayoutRecorded { .. } => {}
    }
}

#[test]
fn ledger_event_names_are_listed_in_names_and_namespaced() {
    let every = [
        accrued("pi_1", 1_000),
        released(1_000, 31),
        reversed(35, 0),
        paid(1_000, 32),
    ];
    every.iter().for_each(covered);
    let named: std::collections::BTreeSet<&str> = every.iter().map(LedgerEvent::name).collect();
    let listed: std::collections::BTreeSet<&str> = LedgerEvent::NAMES.iter().copied().collect();
    assert_eq!(named.len(), every.len(), "one sample per variant");
    assert_eq!(listed.len(), LedgerEvent::NAMES.len(), "no name twice");
    assert_eq!(named, listed);
    assert_eq!(every[3].event_type(), "identity.ledger.PayoutRecorded");
    assert_eq!(every[3].event_version(), "1");
}

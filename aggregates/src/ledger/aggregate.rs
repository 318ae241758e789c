//! State and rules of one influencer's ledger.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::account::matured;
use super::{release_day, Account, Balance, LedgerCommand, LedgerError, LedgerEvent};
use crate::values::{Currency, MAX_AMOUNT_MINOR};

/// How many of the latest payouts a ledger remembers, to answer a
/// repeated one without paying twice.
pub const RECENT_PAYOUTS: usize = 100;

/// The longest payout reference, in characters: references are claimed
/// (an index key) and kept in the snapshot, so they must stay short.
pub const MAX_REFERENCE: usize = 255;

/// Balances per currency; see the module docs for why this stays small.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    pub accounts: BTreeMap<Currency, Account>,
    /// The latest payouts, oldest first, at most [`RECENT_PAYOUTS`].
    #[serde(default)]
    pub recent_payouts: VecDeque<RecentPayout>,
}

/// What identifies a payout for a repeat: its reference, amount and
/// currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentPayout {
    pub reference: String,
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Ledger {
    /// Pending, available and paid per currency as of `at`, counting
    /// earnings whose release day has come as available. Pure: it reads
    /// the state and changes nothing.
    pub fn balances(&self, at: DateTime<Utc>) -> BTreeMap<Currency, Balance> {
        self.accounts
            .iter()
            .map(|(currency, account)| (*currency, account.balance(at)))
            .collect()
    }

    fn balance(&self, currency: Currency, at: DateTime<Utc>) -> Balance {
        self.accounts
            .get(&currency)
            .map(|account| account.balance(at))
            .unwrap_or_default()
    }

    /// One `EarningsReleased` per currency with matured buckets at `at`.
    fn releases(&self, at: DateTime<Utc>) -> Vec<LedgerEvent> {
        self.accounts
            .iter()
            .filter_map(|(currency, account)| {
                let amount_minor = account.matured(at);
                let due = account.pending.range(..=at.date_naive()).next().is_some();
                due.then_some(LedgerEvent::EarningsReleased {
                    currency: *currency,
                    amount_minor,
                    through: at.date_naive(),
                    at,
                })
            })
            .collect()
    }

    fn accrue(
        external_id: String,
        currency: Currency,
        commission_minor: i64,
        release_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Vec<LedgerEvent> {
        let release_on = release_day(release_at);
        let mut events = vec![LedgerEvent::EarningsAccrued {
            external_id,
            currency,
            commission_minor,
            release_at,
            release_on,
            at,
        }];
        if matured(release_on, at) {
            // A late conversion whose hold is already over: available at once.
            events.push(LedgerEvent::EarningsReleased {
                currency,
                amount_minor: commission_minor,
                through: at.date_naive(),
                at,
            });
        }
        events
    }

    fn reverse(
        &self,
        external_id: String,
        currency: Currency,
        commission_minor: i64,
        release_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> LedgerEvent {
        let release_on = release_day(release_at);
        let from_pending_minor = if matured(release_on, at) {
            0
        } else {
            // The bucket holds this commission unless the accrual never
            // arrived; whatever it lacks comes out of available.
            let held = self
                .accounts
                .get(&currency)
                .map_or(0, |account| account.pending_on(release_on));
            commission_minor.min(held).max(0)
        };
        LedgerEvent::EarningsReversed {
            external_id,
            currency,
            commission_minor,
            from_pending_minor,
            from_available_minor: commission_minor - from_pending_minor,
            release_on,
            at,
        }
    }

    fn payout(
        &self,
        amount_minor: i64,
        currency: Currency,
        reference: String,
        by: String,
        at: DateTime<Utc>,
    ) -> Result<Option<LedgerEvent>, LedgerError> {
        if reference.is_empty() || reference.chars().count() > MAX_REFERENCE {
            return Err(LedgerError::InvalidReference);
        }
        if let Some(earlier) = self
            .recent_payouts
            .iter()
            .find(|p| p.reference == reference)
        {
            return if earlier.amount_minor == amount_minor && earlier.currency == currency {
                Ok(None)
            } else {
                Err(LedgerError::PayoutReferenceReused)
            };
        }
        let available = self.balance(currency, at).available;
        if amount_minor > available {
            return Err(LedgerError::PayoutExceedsAvailable { available });
        }
        Ok(Some(LedgerEvent::PayoutRecorded {
            amount_minor,
            currency,
            reference,
            by,
            at,
        }))
    }

    fn command_events(&self, command: LedgerCommand) -> Result<Vec<LedgerEvent>, LedgerError> {
        let amount = match &command {
            LedgerCommand::Accrue {
                commission_minor, ..
            }
            | LedgerCommand::Reverse {
                commission_minor, ..
            } => *commission_minor,
            LedgerCommand::RecordPayout { amount_minor, .. } => *amount_minor,
        };
        if !(1..=MAX_AMOUNT_MINOR).contains(&amount) {
            return Err(LedgerError::AmountOutOfRange);
        }
        if let LedgerCommand::Accrue {
            currency,
            commission_minor,
            ..
        } = &command
        {
            let account = self.accounts.get(currency);
            if account.is_some_and(|a| a.total_with(*commission_minor).is_none()) {
                return Err(LedgerError::TotalOverflow);
            }
        }
        Ok(match command {
            LedgerCommand::Accrue {
                external_id,
                currency,
                commission_minor,
                release_at,
                at,
            } => Self::accrue(external_id, currency, commission_minor, release_at, at),
            LedgerCommand::Reverse {
                external_id,
                currency,
                commission_minor,
                release_at,
                at,
            } => vec![self.reverse(external_id, currency, commission_minor, release_at, at)],
            LedgerCommand::RecordPayout {
                amount_minor,
                currency,
                reference,
                by,
                at,
            } => self
                .payout(amount_minor, currency, reference, by, at)?
                .into_iter()
                .collect(),
        })
    }

    /// Releases what matured by the command's `at`, then the command's
    /// own events. Rules are checked against balances as of `at`, so the
    /// result is the same as if the release had been applied first.
    pub(super) fn decide(&self, command: LedgerCommand) -> Result<Vec<LedgerEvent>, LedgerError> {
        let mut events = self.releases(command.at());
        events.extend(self.command_events(command)?);
        Ok(events)
    }
}

impl Aggregate for Ledger {
    const TYPE: &'static str = "ledger";
    type Command = LedgerCommand;
    type Event = LedgerEvent;
    type Error = LedgerError;
    type Services = ();

    async fn handle(
        &mut self,
        command: LedgerCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), LedgerError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: LedgerEvent) {
        match event {
            LedgerEvent::EarningsAccrued {
                currency,
                commission_minor,
                release_on,
                ..
            } => self
                .accounts
                .entry(currency)
                .or_default()
                .accrue(release_on, commission_minor),
            LedgerEvent::EarningsReleased {
                currency,
                amount_minor,
                through,
                ..
            } => self
                .accounts
                .entry(currency)
                .or_default()
                .release(through, amount_minor),
            LedgerEvent::EarningsReversed {
                currency,
                from_pending_minor,
                from_available_minor,
                release_on,
                ..
            } => self.accounts.entry(currency).or_default().reverse(
                release_on,
                from_pending_minor,
                from_available_minor,
            ),
            LedgerEvent::PayoutRecorded {
                amount_minor,
                currency,
                reference,
                ..
            } => {
                self.accounts.entry(currency).or_default().pay(amount_minor);
                self.recent_payouts.push_back(RecentPayout {
                    reference,
                    amount_minor,
                    currency,
                });
                if self.recent_payouts.len() > RECENT_PAYOUTS {
                    self.recent_payouts.pop_front();
                }
            }
        }
    }
}

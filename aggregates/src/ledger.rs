//! The `Ledger` aggregate: one influencer's earnings, per currency.
//!
//! Stream id: the influencer's id. Commission is accrued as *pending* when
//! a conversion is recorded, becomes *available* once its hold is over, and
//! is *paid* when a payout goes out; a refund reverses it, from pending if
//! it was not yet released and from available otherwise (available may go
//! negative then, to be recovered from later earnings).
//!
//! # Bounded state
//!
//! The ledger keeps no per-conversion data, so its state (and snapshot)
//! does not grow with the number of conversions. Per currency it keeps
//! three totals and the pending amounts bucketed by release *day*: there
//! are never more buckets than distinct release days still in the future
//! (about `hold` in days, 31 with the default 30-day hold), however many
//! conversions fell on them. Buckets whose day has come are rolled into
//! `available` whenever a command runs, so stale buckets do not pile up.
//!
//! # Time
//!
//! The clock is injected: every command carries `at`. A bucket is keyed by
//! the first midnight (UTC) at or after its `release_at`, and released once
//! `at` reaches that midnight: earnings are never available early, and at
//! most a day late.
//!
//! # Idempotency
//!
//! Because no per-conversion data is kept, the ledger cannot tell that it
//! has already accrued (or reversed) a given `external_id`. That is the
//! store's job: a claim on `(influencer, external_id, kind)` is written in
//! the same transaction before the command, so a repeat never reaches it.
//!
//! Payouts are few (one a month, say), so the ledger does remember the last
//! [`RECENT_PAYOUTS`] of them: a payout repeated with the same `reference`,
//! amount and currency (an admin tool retrying after a lost answer) records
//! no second payout, and the same reference with another amount or currency
//! is refused. The store also claims every reference (a migration claimed
//! those paid before the rule), so one older than that window, or another
//! ledger's, is refused too: 409, not a second payment.

mod account;
mod aggregate;
mod commands;
mod events;
#[cfg(test)]
mod tests;

pub use account::{release_day, Account, Balance};
pub use aggregate::{Ledger, RecentPayout, MAX_REFERENCE, RECENT_PAYOUTS};
pub use commands::LedgerCommand;
pub use events::LedgerEvent;

/// Why the `Ledger` aggregate refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("the amount must be between 1 and 1000000000000 minor units")]
    AmountOutOfRange,
    #[error("the ledger's totals would exceed what it can hold")]
    TotalOverflow,
    #[error("the payout exceeds the available balance of {available}")]
    PayoutExceedsAvailable { available: i64 },
    #[error("this payout reference was already used")]
    PayoutReferenceReused,
    #[error("a payout reference is 1 to {MAX_REFERENCE} characters")]
    InvalidReference,
}

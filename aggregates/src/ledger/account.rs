//! One currency's balances: pending buckets by release day, available and
//! paid totals. Amounts are integer minor units.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

/// The day whose midnight (UTC) releases earnings held until `release_at`:
/// that very day if `release_at` is midnight, otherwise the next one, so
/// that earnings are never released before `release_at`.
pub fn release_day(release_at: DateTime<Utc>) -> NaiveDate {
    let day = release_at.date_naive();
    if release_at.time() == NaiveTime::MIN {
        day
    } else {
        // `succ_opt` fails only at the end of chrono's calendar (year
        // 262142); staying on the same day there is harmless.
        day.succ_opt().unwrap_or(day)
    }
}

/// Whether a bucket for `day` is released at `at`.
pub(super) fn matured(day: NaiveDate, at: DateTime<Utc>) -> bool {
    day <= at.date_naive()
}

/// Balances of one currency as of some instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub pending: i64,
    pub available: i64,
    pub paid: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Pending earnings by release day; amounts are positive.
    pub pending: BTreeMap<NaiveDate, i64>,
    /// May be negative after a refund of already released earnings.
    pub available: i64,
    pub paid: i64,
}

impl Account {
    /// Pending earnings whose release day has come at `at`.
    pub fn matured(&self, at: DateTime<Utc>) -> i64 {
        self.pending
            .range(..=at.date_naive())
            .fold(0, |sum, (_, amount)| sum.saturating_add(*amount))
    }

    /// Everything this account ever earned plus `more`, or `None` if that
    /// does not fit an `i64`: the bound under which no total, here or in a
    /// read model, can overflow.
    pub fn total_with(&self, more: i64) -> Option<i64> {
        self.pending
            .values()
            .try_fold(more, |sum, amount| sum.checked_add(*amount))?
            .checked_add(self.available.max(0))?
            .checked_add(self.paid)
    }

    /// The balances as they stand at `at`, matured buckets counted as
    /// available (whether or not a command has released them yet).
    pub fn balance(&self, at: DateTime<Utc>) -> Balance {
        let matured = self.matured(at);
        let pending = self
            .pending
            .values()
            .fold(0i64, |sum, amount| sum.saturating_add(*amount));
        Balance {
            pending: pending.saturating_sub(matured),
            available: self.available.saturating_add(matured),
            paid: self.paid,
        }
    }

    /// The pending amount held for `day`.
    pub fn pending_on(&self, day: NaiveDate) -> i64 {
        self.pending.get(&day).copied().unwrap_or(0)
    }

    pub(super) fn accrue(&mut self, day: NaiveDate, amount: i64) {
        let bucket = self.pending.entry(day).or_default();
        *bucket = bucket.saturating_add(amount);
    }

    /// Moves every bucket up to and including `through` into available.
    /// `amount` is the total the event recorded for them.
    pub(super) fn release(&mut self, through: NaiveDate, amount: i64) {
        let later = through
            .succ_opt()
            .map(|next| self.pending.split_off(&next))
            .unwrap_or_default();
        self.pending = later;
        self.available = self.available.saturating_add(amount);
    }

    pub(super) fn reverse(&mut self, day: NaiveDate, from_pending: i64, from_available: i64) {
        if let Some(bucket) = self.pending.get_mut(&day) {
            *bucket = bucket.saturating_sub(from_pending);
            if *bucket <= 0 {
                self.pending.remove(&day);
            }
        }
        self.available = self.available.saturating_sub(from_available);
    }

    pub(super) fn pay(&mut self, amount: i64) {
        self.available = self.available.saturating_sub(amount);
        self.paid = self.paid.saturating_add(amount);
    }
}

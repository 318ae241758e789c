//! Events of the `Ledger` aggregate (`identity.ledger.<Event>`). Each says
//! which bucket or total it moved, so projections repeat no rules.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::values::Currency;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LedgerEvent {
    /// Pending until midnight (UTC) starting `release_on`.
    EarningsAccrued {
        external_id: String,
        currency: Currency,
        commission_minor: i64,
        release_at: DateTime<Utc>,
        release_on: NaiveDate,
        at: DateTime<Utc>,
    },
    /// Every pending bucket up to and including `through` became available.
    EarningsReleased {
        currency: Currency,
        amount_minor: i64,
        through: NaiveDate,
        at: DateTime<Utc>,
    },
    /// `from_pending_minor` left the `release_on` bucket,
    /// `from_available_minor` left available.
    EarningsReversed {
        external_id: String,
        currency: Currency,
        commission_minor: i64,
        from_pending_minor: i64,
        from_available_minor: i64,
        release_on: NaiveDate,
        at: DateTime<Utc>,
    },
    PayoutRecorded {
        amount_minor: i64,
        currency: Currency,
        reference: String,
        by: String,
        at: DateTime<Utc>,
    },
}

impl LedgerEvent {
    /// Every event name, for subscribers and schema checks.
    pub const NAMES: &'static [&'static str] = &[
        "EarningsAccrued",
        "EarningsReleased",
        "EarningsReversed",
        "PayoutRecorded",
    ];

    /// The bare event name, without namespace.
    pub fn name(&self) -> &'static str {
        match self {
            Self::EarningsAccrued { .. } => "EarningsAccrued",
            Self::EarningsReleased { .. } => "EarningsReleased",
            Self::EarningsReversed { .. } => "EarningsReversed",
            Self::PayoutRecorded { .. } => "PayoutRecorded",
        }
    }
}

impl DomainEvent for LedgerEvent {
    fn event_type(&self) -> String {
        format!("{}.ledger.{}", crate::EVENT_NAMESPACE, self.name())
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

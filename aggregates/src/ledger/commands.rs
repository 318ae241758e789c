//! Commands accepted by the `Ledger` aggregate. Each carries `at`, the
//! injected clock: matured earnings are released as of `at` before the
//! command takes effect.

use chrono::{DateTime, Utc};

use crate::values::Currency;

#[derive(Debug, Clone)]
pub enum LedgerCommand {
    /// Add a conversion's commission, pending until `release_at`. Sent once
    /// per `external_id`: the store's claims make repeats impossible; the
    /// ledger itself does not remember conversions.
    Accrue {
        external_id: String,
        currency: Currency,
        commission_minor: i64,
        release_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// Take a refunded conversion's commission back: from pending if its
    /// release day has not come at `at`, else from available.
    Reverse {
        external_id: String,
        currency: Currency,
        commission_minor: i64,
        release_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// Money went out to the influencer; `reference` is the payout
    /// provider's id for it.
    RecordPayout {
        amount_minor: i64,
        currency: Currency,
        reference: String,
        by: String,
        at: DateTime<Utc>,
    },
}

impl LedgerCommand {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Accrue { at, .. } | Self::Reverse { at, .. } | Self::RecordPayout { at, .. } => {
                *at
            }
        }
    }
}

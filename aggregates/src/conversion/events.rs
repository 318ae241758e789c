//! Events of the `Conversion` aggregate (`identity.conversion.<Event>`).

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::{CommissionRate, Currency, ReferralCode};

/// Why a recorded conversion earned no commission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoCommissionReason {
    /// The buyer signed up without a code.
    NotReferred,
    /// The sale came after the attribution window closed.
    OutsideAttributionWindow,
    /// The influencer was suspended when the sale happened.
    InfluencerSuspended,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConversionEvent {
    /// `influencer_id` and `code` are set whenever the buyer was referred,
    /// even if the sale earned nothing (then `no_commission_reason` says
    /// why). `commission_rate` is the rate applied, when one was.
    /// `commission_minor` may be zero even with a rate: it is rounded down.
    ConversionRecorded {
        external_id: String,
        user_id: Uuid,
        amount_minor: i64,
        currency: Currency,
        occurred_at: DateTime<Utc>,
        influencer_id: Option<Uuid>,
        code: Option<ReferralCode>,
        commission_rate: Option<CommissionRate>,
        commission_minor: i64,
        no_commission_reason: Option<NoCommissionReason>,
        /// When the commission stops being pending: when the sale was reported plus the hold.
        release_at: DateTime<Utc>,
    },
    /// Carries what the ledger needs to take the commission back.
    ConversionRefunded {
        external_id: String,
        user_id: Uuid,
        amount_minor: i64,
        currency: Currency,
        influencer_id: Option<Uuid>,
        commission_minor: i64,
        release_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

impl ConversionEvent {
    /// Every event name, for subscribers and schema checks.
    pub const NAMES: &'static [&'static str] = &["ConversionRecorded", "ConversionRefunded"];

    /// The bare event name, without namespace.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ConversionRecorded { .. } => "ConversionRecorded",
            Self::ConversionRefunded { .. } => "ConversionRefunded",
        }
    }
}

impl DomainEvent for ConversionEvent {
    fn event_type(&self) -> String {
        format!("{}.conversion.{}", crate::EVENT_NAMESPACE, self.name())
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

//! Events of the `Influencer` aggregate (`identity.influencer.<Event>`).
//! The application (display name, channels, pitch) is personal data that
//! the review screens need; it lives in `ApplicationSubmitted` only.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Channel;
use crate::values::{CommissionRate, ReferralCode};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InfluencerEvent {
    ApplicationSubmitted {
        user_id: Uuid,
        display_name: String,
        channels: Vec<Channel>,
        pitch: String,
        at: DateTime<Utc>,
    },
    /// The applicant is an influencer now, with `code` as their first code.
    ApplicationApproved {
        code: ReferralCode,
        commission_rate: CommissionRate,
        by: String,
        at: DateTime<Utc>,
    },
    ApplicationRejected {
        reason: String,
        by: String,
        at: DateTime<Utc>,
    },
    VanityCodeClaimed {
        code: ReferralCode,
        by: String,
        at: DateTime<Utc>,
    },
    ReferralCodeDeactivated {
        code: ReferralCode,
        by: String,
        at: DateTime<Utc>,
    },
    /// Codes stop attributing and conversions stop earning until reinstated.
    InfluencerSuspended {
        reason: String,
        by: String,
        at: DateTime<Utc>,
    },
    InfluencerReinstated {
        by: String,
        at: DateTime<Utc>,
    },
    CommissionRateSet {
        commission_rate: CommissionRate,
        by: String,
        at: DateTime<Utc>,
    },
}

impl InfluencerEvent {
    /// Every event name, for subscribers and schema checks.
    pub const NAMES: &'static [&'static str] = &[
        "ApplicationSubmitted",
        "ApplicationApproved",
        "ApplicationRejected",
        "VanityCodeClaimed",
        "ReferralCodeDeactivated",
        "InfluencerSuspended",
        "InfluencerReinstated",
        "CommissionRateSet",
    ];

    /// The bare event name, without namespace.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ApplicationSubmitted { .. } => "ApplicationSubmitted",
            Self::ApplicationApproved { .. } => "ApplicationApproved",
            Self::ApplicationRejected { .. } => "ApplicationRejected",
            Self::VanityCodeClaimed { .. } => "VanityCodeClaimed",
            Self::ReferralCodeDeactivated { .. } => "ReferralCodeDeactivated",
            Self::InfluencerSuspended { .. } => "InfluencerSuspended",
            Self::InfluencerReinstated { .. } => "InfluencerReinstated",
            Self::CommissionRateSet { .. } => "CommissionRateSet",
        }
    }
}

impl DomainEvent for InfluencerEvent {
    fn event_type(&self) -> String {
        format!("{}.influencer.{}", crate::EVENT_NAMESPACE, self.name())
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

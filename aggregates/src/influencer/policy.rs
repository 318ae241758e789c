//! The program's tunable rules, with the defaults the business agreed on.
//! Loaded from configuration at the edge and passed in commands, so the
//! aggregates never read configuration themselves.

use chrono::Duration;

use crate::values::{CommissionRate, VanityCodePolicy};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramPolicy {
    /// How long a rejected applicant waits before applying again.
    pub reapply_after: Duration,
    /// Most vanity codes an influencer may have active at once.
    pub max_vanity_codes: usize,
    pub vanity: VanityCodePolicy,
    /// The rate given at approval, until an admin sets another.
    pub default_commission_rate: CommissionRate,
    /// How long after signing up a referred user's conversions still earn.
    pub attribution_window: Duration,
    /// How long earnings stay pending (refundable) before they are available.
    pub hold: Duration,
}

impl Default for ProgramPolicy {
    fn default() -> Self {
        Self {
            reapply_after: Duration::days(30),
            max_vanity_codes: 5,
            vanity: VanityCodePolicy::default(),
            default_commission_rate: CommissionRate::default(),
            attribution_window: Duration::days(365),
            hold: Duration::days(30),
        }
    }
}

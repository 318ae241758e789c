//! A commission rate in basis points: 0..=10000 (0% to 100%).

use serde::{Deserialize, Serialize};

/// 100% in basis points.
pub const MAX_BPS: u32 = 10_000;

/// The rate an influencer gets unless an admin sets another: 10%.
pub const DEFAULT_BPS: u32 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct CommissionRate(u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("commission rate must be between 0 and {MAX_BPS} basis points, got {0}")]
pub struct CommissionRateError(pub u32);

impl CommissionRate {
    pub fn from_bps(bps: u32) -> Result<Self, CommissionRateError> {
        if bps > MAX_BPS {
            return Err(CommissionRateError(bps));
        }
        Ok(Self(bps))
    }

    pub fn bps(self) -> u32 {
        self.0
    }

    /// The commission on `amount_minor`, in the same minor units, rounded
    /// down (towards zero). Integer arithmetic only: the product is taken in
    /// `i128`, so it cannot overflow, and the result is never larger in size
    /// than `amount_minor`, so it fits back into an `i64`.
    pub fn commission_on(self, amount_minor: i64) -> i64 {
        let commission = i128::from(amount_minor) * i128::from(self.0) / i128::from(MAX_BPS);
        i64::try_from(commission).unwrap_or(0)
    }
}

impl Default for CommissionRate {
    fn default() -> Self {
        Self(DEFAULT_BPS)
    }
}

impl TryFrom<u32> for CommissionRate {
    type Error = CommissionRateError;

    fn try_from(bps: u32) -> Result<Self, CommissionRateError> {
        Self::from_bps(bps)
    }
}

impl From<CommissionRate> for u32 {
    fn from(rate: CommissionRate) -> Self {
        rate.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commission_rate_accepts_zero_to_ten_thousand_basis_points() {
        assert!(CommissionRate::from_bps(0).is_ok());
        assert!(CommissionRate::from_bps(10_000).is_ok());
        assert_eq!(
            CommissionRate::from_bps(10_001),
            Err(CommissionRateError(10_001))
        );
        assert_eq!(CommissionRate::default().bps(), 1_000);
    }

    #[test]
    fn commission_is_rounded_down_in_integer_minor_units() {
        let ten_percent = CommissionRate::default();
        assert_eq!(ten_percent.commission_on(1_999), 199);
        assert_eq!(ten_percent.commission_on(9), 0);
        let odd = CommissionRate::from_bps(333).unwrap();
        assert_eq!(odd.commission_on(10_000), 333);
        assert_eq!(odd.commission_on(299), 9);
        let all = CommissionRate::from_bps(10_000).unwrap();
        assert_eq!(all.commission_on(i64::MAX), i64::MAX);
    }
}

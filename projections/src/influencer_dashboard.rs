//! `influencer_dashboard`: codes, referred users, conversions and ledger
//! balances per influencer, for `/influencer/me` (see the migration for
//! why the tables hold facts and are summed when read).

use aggregates::{ConversionEvent, InfluencerEvent, LedgerEvent, ReferralEvent};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::projector::{aggregate_uuid, decode, Change, Projection, ProjectionError};
use crate::StoredEvent;

pub struct InfluencerDashboard;

/// One write to the dashboard's tables.
#[derive(Debug, Clone, PartialEq)]
pub enum DashboardChange {
    /// `influencer_profiles`: a (re)submitted application, back to pending.
    ProfileSubmitted {
        influencer_id: Uuid,
        display_name: String,
    },
    ProfileApproved {
        influencer_id: Uuid,
        commission_rate_bps: i64,
        at: DateTime<Utc>,
    },
    CommissionRate {
        influencer_id: Uuid,
        commission_rate_bps: i64,
    },
    ProfileStatus {
        influencer_id: Uuid,
        status: &'static str,
    },
    /// `influencer_codes`.
    CodeClaimed {
        influencer_id: Uuid,
        normalized: String,
        code: String,
        kind: &'static str,
        at: DateTime<Utc>,
    },
    CodeDeactivated {
        influencer_id: Uuid,
        normalized: String,
    },
    /// `influencer_referrals`.
    Referred {
        user_id: Uuid,
        influencer_id: Uuid,
        normalized: String,
        signed_up_at: DateTime<Utc>,
    },
    ReferralVerified {
        user_id: Uuid,
        at: DateTime<Utc>,
    },
    /// `influencer_conversions`.
    Converted {
        external_id: String,
        influencer_id: Uuid,
        user_id: Uuid,
        normalized: String,
        currency: String,
        amount_minor: i64,
        commission_minor: i64,
        occurred_at: DateTime<Utc>,
    },
    Refunded {
        external_id: String,
        at: DateTime<Utc>,
    },
    /// `influencer_pending`: buckets up to `through` were released.
    PendingReleased {
        influencer_id: Uuid,
        currency: String,
        through: NaiveDate,
    },
    /// `influencer_pending`: `amount` (may be negative) added to a bucket.
    PendingAdded {
        influencer_id: Uuid,
        currency: String,
        release_on: NaiveDate,
        amount: i64,
    },
    /// `influencer_balances`: changes added to the totals.
    Balance {
        influencer_id: Uuid,
        currency: String,
        available: i64,
        paid: i64,
    },
}

impl Projection for InfluencerDashboard {
    fn name(&self) -> &'static str {
        "influencer_dashboard"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "influencer_profiles",
            "influencer_codes",
            "influencer_referrals",
            "influencer_conversions",
            "influencer_balances",
            "influencer_pending",
        ]
    }

    fn changes(&self, event: &StoredEvent) -> Result<Vec<Change>, ProjectionError> {
        let changes = match event.aggregate_type.as_str() {
            "influencer" => influencer(event)?,
            "referral" => referral(event)?,
            "conversion" => conversion(event)?,
            "ledger" => ledger(event)?,
            _ => vec![],
        };
        Ok(changes.into_iter().map(Change::Dashboard).collect())
    }
}

fn influencer(event: &StoredEvent) -> Result<Vec<DashboardChange>, ProjectionError> {
    let influencer_id = aggregate_uuid(event)?;
    let change = match decode::<InfluencerEvent>(event)? {
        InfluencerEvent::ApplicationSubmitted { display_name, .. } => {
            DashboardChange::ProfileSubmitted {
                influencer_id,
                display_name,
            }
        }
        InfluencerEvent::ApplicationApproved {
            code,
            commission_rate,
            at,
            ..
        } => {
            return Ok(vec![
                DashboardChange::ProfileApproved {
                    influencer_id,
                    commission_rate_bps: i64::from(commission_rate.bps()),
                    at,
                },
                code_claimed(influencer_id, &code, "generated", at),
            ])
        }
        InfluencerEvent::VanityCodeClaimed { code, at, .. } => {
            code_claimed(influencer_id, &code, "vanity", at)
        }
        InfluencerEvent::ReferralCodeDeactivated { code, .. } => DashboardChange::CodeDeactivated {
            influencer_id,
            normalized: code.normalized().to_owned(),
        },
        InfluencerEvent::CommissionRateSet {
            commission_rate, ..
        } => DashboardChange::CommissionRate {
            influencer_id,
            commission_rate_bps: i64::from(commission_rate.bps()),
        },
        InfluencerEvent::ApplicationRejected { .. } => status(influencer_id, "rejected"),
        InfluencerEvent::InfluencerSuspended { .. } => status(influencer_id, "suspended"),
        InfluencerEvent::InfluencerReinstated { .. } => status(influencer_id, "active"),
    };
    Ok(vec![change])
}

fn code_claimed(
    influencer_id: Uuid,
    code: &aggregates::values::ReferralCode,
    kind: &'static str,
    at: DateTime<Utc>,
) -> DashboardChange {
    DashboardChange::CodeClaimed {
        influencer_id,
        normalized: code.normalized().to_owned(),
        code: code.as_str().to_owned(),
        kind,
        at,
    }
}

fn status(influencer_id: Uuid, status: &'static str) -> DashboardChange {
    DashboardChange::ProfileStatus {
        influencer_id,
        status,
    }
}

fn referral(event: &StoredEvent) -> Result<Vec<DashboardChange>, ProjectionError> {
    let change = match decode::<ReferralEvent>(event)? {
        ReferralEvent::SignupAttributed {
            user_id,
            influencer_id,
            code,
            signed_up_at,
        } => DashboardChange::Referred {
            user_id,
            influencer_id,
            normalized: code.normalized().to_owned(),
            signed_up_at,
        },
        ReferralEvent::VerifiedSignupRecorded { user_id, at, .. } => {
            DashboardChange::ReferralVerified { user_id, at }
        }
    };
    Ok(vec![change])
}

fn conversion(event: &StoredEvent) -> Result<Vec<DashboardChange>, ProjectionError> {
    let change = match decode::<ConversionEvent>(event)? {
        ConversionEvent::ConversionRecorded {
            external_id,
            user_id,
            amount_minor,
            currency,
            occurred_at,
            influencer_id: Some(influencer_id),
            code: Some(code),
            commission_minor,
            ..
        } => DashboardChange::Converted {
            external_id,
            influencer_id,
            user_id,
            normalized: code.normalized().to_owned(),
            currency: currency.as_str().to_owned(),
            amount_minor,
            commission_minor,
            occurred_at,
        },
        ConversionEvent::ConversionRefunded {
            external_id, at, ..
        } => DashboardChange::Refunded { external_id, at },
        ConversionEvent::ConversionRecorded { .. } => return Ok(vec![]),
    };
    Ok(vec![change])
}

fn ledger(event: &StoredEvent) -> Result<Vec<DashboardChange>, ProjectionError> {
    let influencer_id = aggregate_uuid(event)?;
    let mut changes = Vec::with_capacity(2);
    // (currency, change of available, change of paid, bucket change)
    let (currency, available, paid, bucket) = match decode::<LedgerEvent>(event)? {
        LedgerEvent::EarningsAccrued {
            currency,
            commission_minor,
            release_on,
            ..
        } => (currency, 0, 0, Some((release_on, commission_minor))),
        LedgerEvent::EarningsReleased {
            currency,
            amount_minor,
            through,
            ..
        } => {
            changes.push(DashboardChange::PendingReleased {
                influencer_id,
                currency: currency.as_str().to_owned(),
                through,
            });
            (currency, amount_minor, 0, None)
        }
        LedgerEvent::EarningsReversed {
            currency,
            from_pending_minor,
            from_available_minor,
            release_on,
            ..
        } => (
            currency,
            -from_available_minor,
            0,
            Some((release_on, -from_pending_minor)),
        ),
        LedgerEvent::PayoutRecorded {
            amount_minor,
            currency,
            ..
        } => (currency, -amount_minor, amount_minor, None),
    };
    let currency = currency.as_str().to_owned();
    if let Some((release_on, amount)) = bucket {
        changes.push(DashboardChange::PendingAdded {
            influencer_id,
            currency: currency.clone(),
            release_on,
            amount,
        });
    }
    changes.push(DashboardChange::Balance {
        influencer_id,
        currency,
        available,
        paid,
    });
    Ok(changes)
}

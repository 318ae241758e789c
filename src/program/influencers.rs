//! Acting on approved influencers: their vanity codes (by themselves) and
//! suspension and commission rate (by admins).

use aggregates::influencer::InfluencerStatus;
use aggregates::values::{CommissionRate, ReferralCode};
use aggregates::{Influencer, InfluencerCommand};
use serde::Serialize;
use uuid::Uuid;

use super::execute;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::store::Metadata;

/// An influencer's program state, as the command endpoints answer it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InfluencerView {
    pub influencer_id: Uuid,
    /// `active` or `suspended`.
    #[schema(value_type = String)]
    pub status: InfluencerStatus,
    pub commission_rate_bps: u32,
    /// Active codes, the generated one first.
    pub codes: Vec<String>,
}

impl InfluencerView {
    fn of(id: Uuid, influencer: &Influencer) -> Self {
        Self {
            influencer_id: id,
            status: influencer.status,
            commission_rate_bps: influencer.commission_rate.bps(),
            codes: influencer
                .active_codes()
                .map(|c| c.as_str().to_owned())
                .collect(),
        }
    }
}

/// What an admin does to an influencer.
#[derive(Debug, Clone)]
pub enum InfluencerAction {
    Suspend { reason: String },
    Reinstate,
    SetCommission(CommissionRate),
}

/// The influencer claims vanity `code`. Claiming a code one already holds
/// (in any case) is a no-op answered like a claim.
pub async fn claim_code(
    state: &AppState,
    id: Uuid,
    code: String,
    metadata: Metadata,
) -> Result<InfluencerView, AppError> {
    let command = InfluencerCommand::ClaimVanityCode {
        code,
        by: metadata.by(),
        at: state.config.program_clock.now(),
        policy: state.config.program.clone(),
    };
    let committed = execute(state, id, command, &metadata).await?;
    state.projections.wait_for(committed.cursor).await;
    Ok(InfluencerView::of(id, &committed.state))
}

/// Deactivates one of the influencer's codes for good. The code stays
/// claimed (nobody else can take it) but attributes nothing any more.
pub async fn deactivate_code(
    state: &AppState,
    id: Uuid,
    raw: &str,
    metadata: Metadata,
) -> Result<(), AppError> {
    // A string no code could have is simply not one of theirs.
    let code = ReferralCode::parse(raw).map_err(|_| AppError::NotFound)?;
    let command = InfluencerCommand::DeactivateCode {
        code,
        by: metadata.by(),
        at: state.config.program_clock.now(),
    };
    let committed = execute(state, id, command, &metadata).await?;
    state.projections.wait_for(committed.cursor).await;
    Ok(())
}

/// Applies an admin's `action` to influencer `id`. Suspending a suspended
/// influencer, reinstating an active one or setting the current rate again
/// changes nothing and answers 200.
pub async fn act(
    state: &AppState,
    id: Uuid,
    action: InfluencerAction,
    metadata: Metadata,
) -> Result<InfluencerView, AppError> {
    let by = metadata.by();
    let at = state.config.program_clock.now();
    let command = match action {
        InfluencerAction::Suspend { reason } => {
            InfluencerCommand::SuspendInfluencer { reason, by, at }
        }
        InfluencerAction::Reinstate => InfluencerCommand::ReinstateInfluencer { by, at },
        InfluencerAction::SetCommission(commission_rate) => InfluencerCommand::SetCommissionRate {
            commission_rate,
            by,
            at,
        },
    };
    let committed = execute(state, id, command, &metadata).await?;
    state.projections.wait_for(committed.cursor).await;
    Ok(InfluencerView::of(id, &committed.state))
}

/// Parses an admin's commission rate in basis points.
pub fn parse_rate(bps: Option<u32>) -> Result<CommissionRate, AppError> {
    let invalid = |message: &str| {
        AppError::Validation(vec![FieldError::new(
            "rate_bps",
            "out_of_range",
            message.to_owned(),
        )])
    };
    let bps = bps.ok_or_else(|| {
        AppError::Validation(vec![FieldError::new(
            "rate_bps",
            "required",
            "rate_bps is required",
        )])
    })?;
    CommissionRate::from_bps(bps).map_err(|e| invalid(&e.to_string()))
}

//! Use cases of the influencer and referral program: applications and
//! their review, referral codes, and the admin controls on influencers.
//!
//! Refusals of the program's aggregates are answered as
//! [`crate::refusals`] maps them; handlers never see their error types.

pub mod applications;
pub mod conversions;
pub mod dashboard;
pub mod directory;
pub mod influencers;
pub mod referrals;

use aggregates::{Influencer, InfluencerCommand};

use crate::error::AppError;
use crate::state::AppState;
use crate::store::{Committed, Metadata};

/// Runs one command on influencer `id`.
pub async fn execute(
    state: &AppState,
    id: uuid::Uuid,
    command: InfluencerCommand,
    metadata: &Metadata,
) -> Result<Committed<Influencer>, AppError> {
    Ok(state
        .influencers
        .execute(&id.to_string(), command, metadata)
        .await?)
}

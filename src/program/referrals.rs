//! Attribution: resolving the referral code presented at signup, linking
//! the new user to its influencer, and counting their verification.

use aggregates::referral::Attribution;
use aggregates::values::ReferralCode;
use aggregates::{ReferralCommand, ReferralError};
use chrono::{DateTime, Utc};
use projections::Cursor;
use uuid::Uuid;

use crate::error::AppError;
use crate::state::AppState;
use crate::store::{ClaimKind, CommandError, Metadata};

/// A code that attributes signups now, and whose it is.
#[derive(Debug, Clone)]
pub struct AttributingCode {
    pub influencer_id: Uuid,
    /// As the influencer claimed it (their case), not as typed.
    pub code: ReferralCode,
}

fn invalid_code() -> AppError {
    AppError::Unprocessable {
        code: "invalid_referral_code",
        detail: "the referral code is unknown or no longer active".to_owned(),
    }
}

/// Resolves `raw` (any case) to the influencer it attributes to, or 422
/// `invalid_referral_code` when it is malformed, was never issued, was
/// deactivated, or its influencer is suspended (one answer for all, so
/// the endpoint tells nobody which codes exist).
///
/// The owner is found through the store's claims (the claim's owner is the
/// influencer stream), then the `Influencer` aggregate says whether the code
/// attributes now. A suspension committed between this check and the
/// attribution does not undo that one signup.
pub async fn resolve_code(state: &AppState, raw: &str) -> Result<AttributingCode, AppError> {
    let presented = ReferralCode::parse(raw).map_err(|_| invalid_code())?;
    let owner: Option<String> = crate::store::on_either!(&state.db, pool => {
    sqlx::query_scalar("SELECT owner_id FROM unique_claims WHERE kind = $1 AND value = $2")
                .bind(ClaimKind::ReferralCode.as_str())
                .bind(presented.normalized())
                .fetch_optional(pool)
    .await
    })?;
    let owner = owner.ok_or_else(invalid_code)?;
    let influencer_id = Uuid::parse_str(&owner).map_err(AppError::internal)?;
    let (influencer, _) = state
        .influencers
        .load(&owner)
        .await
        .map_err(AppError::internal)?;
    if !influencer.attributes(&presented) {
        return Err(invalid_code());
    }
    let code = influencer
        .active_codes()
        .find(|c| c.same_as(&presented))
        .cloned()
        .unwrap_or(presented);
    Ok(AttributingCode {
        influencer_id,
        code,
    })
}

/// Links the just-registered `user_id` to the code's influencer, for good.
pub async fn attribute_signup(
    state: &AppState,
    user_id: Uuid,
    code: AttributingCode,
    signed_up_at: DateTime<Utc>,
    metadata: &Metadata,
) -> Result<Option<Cursor>, AppError> {
    let command = ReferralCommand::AttributeSignup {
        user_id,
        influencer_id: code.influencer_id,
        code: code.code,
        code_attributes: true,
        signed_up_at,
    };
    let committed = state
        .referrals
        .execute(&user_id.to_string(), command, metadata)
        .await?;
    Ok(committed.cursor)
}

/// Counts `user_id`'s verification as a verified signup, if they were
/// referred; nothing happens for users who signed up without a code.
pub async fn record_verified_signup(
    state: &AppState,
    user_id: Uuid,
    metadata: &Metadata,
) -> Result<Option<Cursor>, AppError> {
    let command = ReferralCommand::RecordVerifiedSignup {
        at: state.config.program_clock.now(),
    };
    match state
        .referrals
        .execute(&user_id.to_string(), command, metadata)
        .await
    {
        Ok(committed) => Ok(committed.cursor),
        Err(CommandError::Domain(ReferralError::NotAttributed)) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// Who referred `user_id`, if anyone.
pub async fn attribution_of(
    state: &AppState,
    user_id: Uuid,
) -> Result<Option<Attribution>, AppError> {
    let (referral, _) = state
        .referrals
        .load(&user_id.to_string())
        .await
        .map_err(AppError::internal)?;
    Ok(referral.attribution)
}

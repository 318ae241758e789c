//! Leaving: a person deactivates their own account.
//!
//! The same deactivation an admin records (`UserDeactivated`), with the
//! account's own id in `by` and as the actor, so an auditor tells the two
//! apart; every session ends at once and access tokens stop (as for an
//! admin's deactivation), login answers `account_deactivated`, and an admin
//! can reactivate it. Erasing a person's data is separate (not built yet:
//! it comes with erasure by key destruction).

use aggregates::session::RevocationReason;
use aggregates::UserCommand;
use chrono::Utc;
use uuid::Uuid;

use crate::error::AppError;
use crate::state::AppState;
use crate::store::Metadata;

/// `POST /me/deactivate`: the password checked (a wrong one counts toward
/// the lockout), then the account deactivated and its sessions ended.
pub async fn deactivate_self(
    state: &AppState,
    user_id: Uuid,
    password: &str,
    metadata: Metadata,
) -> Result<(), AppError> {
    super::login::check_password(state, user_id, password, &metadata).await?;
    let command = UserCommand::DeactivateUser {
        by: user_id.to_string(),
        at: Utc::now(),
    };
    super::on_account(state, user_id, command, &metadata).await?;
    let reason = RevocationReason::AccountDeactivated;
    super::revoke_all_sessions(state, user_id, reason, metadata).await
}

//! Refresh-token rotation with reuse detection, and logout.

use std::sync::Arc;

use aggregates::session::SessionEvent;
use aggregates::{SessionCommand, User};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::sessions::{span, TokenPair};
use crate::auth::RefreshToken;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{on_either, CommandError, Metadata, Roles};

/// Exchanges a refresh token for a new pair. Every failure is the same 401,
/// so a caller learns nothing about other people's sessions.
///
/// No projection is awaited here: the session aggregate (one snapshot row)
/// decides the rotation, which keeps refresh cheap and makes a rotation on
/// one instance visible to all others at once. What the account allows
/// (status, an admin's lock, roles) comes from the login read model through
/// this instance's copy of it ([`account`]).
pub async fn refresh(
    state: &AppState,
    raw_token: &str,
    metadata: Metadata,
) -> Result<TokenPair, AppError> {
    let presented = RefreshToken::parse(raw_token).ok_or(AppError::InvalidRefreshToken)?;
    let successor = presented.successor(&state.successor_key);
    let session_id = presented.session_id();
    let now = Utc::now();
    let command = SessionCommand::RefreshSession {
        presented: presented.hash(),
        successor: successor.hash(),
        at: now,
        expires_at: now + span(state.config.tokens.refresh_ttl),
        grace: span(state.config.tokens.refresh_grace),
    };
    let committed = match state
        .sessions
        .execute(&session_id.to_string(), command, &metadata)
        .await
    {
        Ok(committed) => committed,
        Err(CommandError::Domain(reason)) => {
            tracing::info!(%session_id, %reason, "refresh refused");
            return Err(reason.into());
        }
        Err(other) => return Err(other.into()),
    };
    if committed
        .events
        .iter()
        .any(|e| matches!(e, SessionEvent::RefreshTokenReuseDetected { .. }))
    {
        tracing::warn!(%session_id, "refresh token reuse detected; session revoked");
        // The session's access tokens stop here before the answer tells
        // anyone (the revocations follow the projections).
        super::settle(state, committed.cursor).await;
        return Err(AppError::InvalidRefreshToken);
    }
    let user_id = committed
        .state
        .user_id
        .ok_or(AppError::InvalidRefreshToken)?;
    // An admin's lock or a deactivation that this instance already heard
    // of, possibly before the read model below.
    if state.revocations.check_ids(user_id, session_id).is_err() {
        return Err(AppError::InvalidRefreshToken);
    }
    let account = account(state, user_id).await?;
    let roles = account
        .roles_if_usable(Utc::now())
        .ok_or(AppError::InvalidRefreshToken)?;
    let amr = committed.state.amr;
    TokenPair::new(state, user_id, session_id, roles, amr, &successor)
}

/// What a refresh needs of the account, as the login read model has it.
#[derive(Debug, sqlx::FromRow)]
pub struct RefreshAccount {
    status: String,
    admin_locked_until: Option<DateTime<Utc>>,
    roles: Roles,
}

impl RefreshAccount {
    /// The roles of the next access token, unless the account may no
    /// longer refresh (deactivated, or locked by an admin at `now`).
    fn roles_if_usable(&self, now: DateTime<Utc>) -> Option<Vec<String>> {
        let locked = self.admin_locked_until.is_some_and(|until| until > now);
        (self.status == "active" && !locked).then(|| self.roles.0.clone())
    }
}

/// The account `user_id` from memory, or read (one indexed row) and kept.
///
/// The copy is dropped once this instance's login read model applied any
/// event of the account (`read_cache`), and admin actions wait for that
/// before they answer, so a deactivation, a lock or a role change is
/// seen here as soon as the admin hears of it. Another instance sees it
/// once its projector does (within `IDENTITY_PROJECTION_POLL_MS`), as it
/// sees the same change in the revocations; a role change reaches tokens
/// at the next refresh in any case.
async fn account(state: &AppState, user_id: Uuid) -> Result<Arc<RefreshAccount>, AppError> {
    if let Some(account) = state.refresh_accounts.get(&user_id) {
        return Ok(account);
    }
    let epoch = state.refresh_accounts.epoch();
    let account: Option<RefreshAccount> = on_either!(&state.db, pool => {
        sqlx::query_as(crate::store::hot::ACCOUNT_FOR_REFRESH)
        .bind(user_id)
        .fetch_optional(pool)
        .await
    })?;
    let account = Arc::new(account.ok_or(AppError::InvalidRefreshToken)?);
    state
        .refresh_accounts
        .insert(epoch, user_id, Arc::clone(&account));
    Ok(account)
}

/// The account's role names, sorted as the read models sort them.
pub(crate) fn roles(user: &User) -> Vec<String> {
    let mut names: Vec<String> = user.roles.iter().map(|r| r.as_str().to_owned()).collect();
    names.sort();
    names
}

/// Ends the session the token belongs to. Idempotent: an unknown, revoked or
/// foreign token changes nothing and gets the same answer.
pub async fn logout(
    state: &AppState,
    token: RefreshToken,
    metadata: Metadata,
) -> Result<(), AppError> {
    let command = SessionCommand::Logout {
        presented: token.hash(),
        at: Utc::now(),
    };
    match state
        .sessions
        .execute(&token.session_id().to_string(), command, &metadata)
        .await
    {
        Ok(committed) => {
            super::settle(state, committed.cursor).await;
            Ok(())
        }
        Err(CommandError::Domain(_)) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

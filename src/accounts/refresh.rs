//! Refresh-token rotation with reuse detection, and logout.

use aggregates::session::SessionEvent;
use aggregates::{SessionCommand, User};
use chrono::Utc;

use super::sessions::{span, TokenPair};
use crate::auth::RefreshToken;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{on_either, CommandError, Metadata, Roles};

/// Exchanges a refresh token for a new pair. Every failure is the same 401,
/// so a caller learns nothing about other people's sessions.
///
/// No projection is read or awaited here: the session aggregate (one
/// snapshot row) is the only state consulted, which keeps refresh cheap and
/// makes a rotation on one instance visible to all others at once.
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
    // Status, admin lock and roles from the login read model: one indexed
    // row. Admin actions wait for the projections before answering, so a
    // deactivation, a lock or a role change is visible here as soon as the
    // admin hears of it; the new token carries the roles of now.
    let roles: Option<Roles> = on_either!(&state.db, pool => {
        sqlx::query_scalar(crate::store::hot::ROLES_FOR_REFRESH)
        .bind(user_id)
        .bind(Utc::now())
        .fetch_optional(pool)
        .await
    })?;
    let roles = roles.ok_or(AppError::InvalidRefreshToken)?;
    let amr = committed.state.amr;
    TokenPair::new(state, user_id, session_id, roles.0, amr, &successor)
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

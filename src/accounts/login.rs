//! Password login by username or email.

use aggregates::values::Email;

use super::sessions::{start_session, ClientInfo, TokenPair};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Metadata;

/// What the user typed to say who they are.
#[derive(Debug, Clone)]
pub enum Identifier {
    Email(Email),
    /// Any other string; compared ignoring case.
    Username(String),
}

impl Identifier {
    /// Anything with an `@` is an email (usernames cannot contain one).
    pub fn parse(raw: &str) -> Option<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return None;
        }
        if trimmed.contains('@') {
            Email::parse(trimmed).ok().map(Self::Email)
        } else {
            Some(Self::Username(trimmed.to_owned()))
        }
    }
}

/// Checks the password and opens a session. Unknown identifiers get the same
/// argon2 work and the same answer as wrong passwords; the unverified-email
/// answer is only given to someone who knows the password.
pub async fn login(
    state: &AppState,
    identifier: Identifier,
    password: &str,
    client: ClientInfo,
    mut metadata: Metadata,
) -> Result<TokenPair, AppError> {
    let Some(account) = super::find_login(state, &identifier).await? else {
        state
            .hasher
            .verify_dummy(password)
            .await
            .map_err(AppError::internal)?;
        return Err(AppError::InvalidCredentials);
    };
    let matches = state
        .hasher
        .verify(password, &account.password_hash)
        .await
        .map_err(AppError::internal)?;
    if !matches {
        tracing::info!(user_id = %account.user_id, "login failed: wrong password");
        return Err(AppError::InvalidCredentials);
    }
    if !account.email_verified {
        return Err(AppError::EmailNotVerified);
    }
    metadata
        .actor
        .get_or_insert_with(|| account.user_id.to_string());
    start_session(state, account.user_id, account.roles, client, metadata).await
}

//! Password login by username or email, with per-account lockout.

use aggregates::user::{LoginMethod, LoginRefusal};
use aggregates::values::{Email, Phone};
use aggregates::{UserCommand, UserEvent};
use std::time::Instant;

use chrono::Utc;
use uuid::Uuid;

use super::mfa::{after_first_factor, SignedIn};
use super::sessions::ClientInfo;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{Actor, Committed, Metadata};

/// What the user typed to say who they are.
#[derive(Debug, Clone)]
pub enum Identifier {
    Email(Email),
    /// A verified phone number, given in international form (`+...`).
    Phone(Phone),
    /// Any other string; compared ignoring case.
    Username(String),
}

impl Identifier {
    /// Anything with an `@` is an email, anything starting with `+` a phone
    /// number (usernames can contain neither).
    pub fn parse(raw: &str) -> Option<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return None;
        }
        if trimmed.starts_with('+') {
            Phone::parse(trimmed).ok().map(Self::Phone)
        } else if trimmed.contains('@') {
            Email::parse(trimmed).ok().map(Self::Email)
        } else {
            Some(Self::Username(trimmed.to_owned()))
        }
    }

    /// The normalized form, for rate-limit keys.
    pub fn normalized(&self) -> String {
        match self {
            Self::Email(email) => email.as_str().to_owned(),
            Self::Phone(phone) => phone.as_str().to_owned(),
            Self::Username(name) => name.to_ascii_lowercase(),
        }
    }
}

/// Checks the password and opens a session.
///
/// Unknown identifiers get the same argon2 work and the same answer as wrong
/// passwords. A known account first reserves the check in its aggregate, so
/// concurrent guesses cannot exceed the lockout limit; while it is locked the
/// password is not even checked. Whether the email is verified or the account
/// deactivated is only told to someone who knows the password.
pub async fn login(
    state: &AppState,
    identifier: Identifier,
    password: &str,
    client: ClientInfo,
    mut metadata: Metadata,
) -> Result<SignedIn, AppError> {
    let limit = state.config.rate_limits.login_per_identifier;
    state
        .limit("login", &identifier.normalized(), limit)
        .await?;
    // From here to the answer, a wrong password and an unknown identifier
    // must take the same time (`timing`).
    let check_started = Instant::now();
    let Some(account) = super::find_login(state, &identifier).await? else {
        return Err(unknown_identifier(state, password, check_started).await);
    };
    metadata.actor.get_or_insert(Actor::User(account.user_id));
    let id = account.user_id.to_string();
    let reserved = verify_reserved(state, &id, password, &metadata, check_started).await?;
    // The aggregate decides what a right password means for this account.
    let session_id = Uuid::now_v7();
    let complete = UserCommand::CompletePasswordCheck {
        at: Utc::now(),
        session_id,
        method: LoginMethod::Password,
    };
    let completed = state
        .users
        .execute_from(&id, reserved.start(), complete, &metadata)
        .await?;
    // Nothing a client reads next depends on the user event; the session's
    // start is awaited by `start_session`.
    let method = LoginMethod::Password;
    after_first_factor(state, completed, session_id, method, client, metadata).await
}

/// Reserves one check (password or code) in the account's lockout: refused
/// while it is locked or as many checks as the limit allows are running.
pub(super) async fn reserve_check(
    state: &AppState,
    id: &str,
    metadata: &Metadata,
) -> Result<aggregates::User, AppError> {
    Ok(reserve(state, id, metadata).await?.state)
}

/// [`reserve_check`], answering the commit (for the next command to start
/// from).
async fn reserve(
    state: &AppState,
    id: &str,
    metadata: &Metadata,
) -> Result<Committed<aggregates::User>, AppError> {
    let start = UserCommand::StartPasswordCheck {
        at: Utc::now(),
        policy: state.config.lockout,
    };
    Ok(state.users.execute(id, start, metadata).await?)
}

/// Checks `password` of the signed-in `user_id` under the lockout, as a
/// login does: a reserved check, a wrong password counted (401
/// `invalid_credentials`, and the lock at the limit). A right one leaves
/// the reservation to the command that follows (`ChangePassword` ends it)
/// and answers the account as it was checked.
pub(super) async fn check_password(
    state: &AppState,
    user_id: Uuid,
    password: &str,
    metadata: &Metadata,
) -> Result<aggregates::User, AppError> {
    let id = user_id.to_string();
    let reserved = verify_reserved(state, &id, password, metadata, Instant::now()).await?;
    Ok(reserved.state)
}

/// Reserves a check of account `id` and verifies `password` against its
/// hash; a wrong one is recorded as a failure (`check_started` is when
/// the request's timed part began).
async fn verify_reserved(
    state: &AppState,
    id: &str,
    password: &str,
    metadata: &Metadata,
    check_started: Instant,
) -> Result<Committed<aggregates::User>, AppError> {
    let reserved = reserve(state, id, metadata).await?;
    let hashing_started = Instant::now();
    let matches = state
        .hasher
        .verify(password, &reserved.state.password_hash)
        .await
        .map_err(AppError::internal)?;
    if matches {
        return Ok(reserved);
    }
    let hashing = hashing_started.elapsed();
    tracing::info!(user_id = id, "password check failed: wrong password");
    Err(wrong_password(state, id, metadata, check_started, hashing).await)
}

/// An unknown identifier: the same argon2 work and, by the bookkeeping's
/// measure, the same time as a known account's wrong password.
async fn unknown_identifier(state: &AppState, password: &str, check_started: Instant) -> AppError {
    let hashing_started = Instant::now();
    if let Err(error) = state.hasher.verify_dummy(password).await {
        return AppError::internal(error);
    }
    let hashing = hashing_started.elapsed();
    state
        .login_bookkeeping
        .wait_like_a_known_account(check_started, hashing)
        .await;
    AppError::InvalidCredentials
}

/// A wrong password: counted toward the lockout, and its bookkeeping time
/// measured for the unknown identifiers to match.
async fn wrong_password(
    state: &AppState,
    id: &str,
    metadata: &Metadata,
    check_started: Instant,
    hashing: std::time::Duration,
) -> AppError {
    if let Err(error) = record_failure(state, id, metadata).await {
        return error;
    }
    let bookkeeping = check_started.elapsed().saturating_sub(hashing);
    state.login_bookkeeping.record(bookkeeping, hashing);
    AppError::InvalidCredentials
}

/// A reserved check of account `id` failed (a wrong password, code or
/// second factor): counted, and the lock at the limit.
pub(super) async fn record_failure(
    state: &AppState,
    id: &str,
    metadata: &Metadata,
) -> Result<(), AppError> {
    let failure = UserCommand::RecordLoginFailure {
        at: Utc::now(),
        policy: state.config.lockout,
    };
    let committed = state.users.execute(id, failure, metadata).await?;
    let locked = |e: &UserEvent| matches!(e, UserEvent::AccountLocked { by: None, .. });
    if committed.events.iter().any(locked) {
        crate::instruments::lockout();
    }
    Ok(())
}

/// The answer to a right password the account refused anyway.
pub(super) fn refusal(event: &UserEvent) -> Option<AppError> {
    match event {
        UserEvent::LoginRefused { reason, .. } => Some(match reason {
            LoginRefusal::EmailNotVerified => AppError::EmailNotVerified,
            LoginRefusal::AccountDeactivated => AppError::AccountDeactivated,
        }),
        _ => None,
    }
}

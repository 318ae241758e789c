//! Password reset by emailed code, and password change while signed in
//! (OWASP Forgot Password and Authentication cheat sheets).
//!
//! Decisions where the issue is silent, as Keycloak and Ory Kratos do:
//! - A reset request answers 202 alike for unknown, unverified and known
//!   addresses; only a verified, active account gets a code, sent after the
//!   answer. Its cooldown starts for every address asked about, so its 429
//!   tells nothing either.
//! - A code is checked before anything about the new password that needs
//!   the account (whether it is the current one), so the confirm endpoint
//!   is no oracle for the current password; a refused new password puts
//!   the code back.
//! - A reset lifts the failure limit's lock (it proves control of the
//!   mailbox), never an admin's: a reset of an admin-locked account is
//!   answered `account_locked` and changes nothing.
//! - Both end every other session (reason `password_changed`): a reset
//!   opens a new session for the answer, a change keeps the caller's.

use std::time::Duration;

use tracing::Instrument;

use aggregates::user::{LoginMethod, PasswordChangeMethod};
use aggregates::values::{Email, Password};
use aggregates::UserCommand;
use chrono::Utc;
use uuid::Uuid;

use super::code_flow::{answer_then_send, InCooldown};
use super::mfa::{challenge, SignedIn};
use super::sessions::{start_session, Amr, ClientInfo};
use super::{revoke_other_sessions, Identifier, LoginRow};
use crate::auth::codes::CodePurpose;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::store::{Actor, Metadata};
use crate::telemetry::Chain;

/// How long a reset code is valid.
pub const RESET_CODE_TTL: Duration = Duration::from_secs(15 * 60);

/// Asks for a reset code for `email`. The same 202 for every address.
pub async fn request_reset(
    state: &AppState,
    email: Email,
    metadata: Metadata,
) -> Result<(), AppError> {
    let refuse = InCooldown::Refuse("password-reset-cooldown");
    let to = Identifier::Email(email);
    answer_then_send(
        state,
        "password-reset",
        to,
        refuse,
        metadata,
        send_reset_code,
    )
    .await
}

async fn send_reset_code(
    state: AppState,
    account: LoginRow,
    metadata: Metadata,
) -> Result<(), AppError> {
    let now = Utc::now();
    let command = UserCommand::RequestPasswordReset {
        at: now,
        expires_at: now + chrono::Duration::seconds(RESET_CODE_TTL.as_secs() as i64),
    };
    let id = account.user_id.to_string();
    // Unverified or deactivated: nothing is sent, nothing recorded.
    if state.users.execute(&id, command, &metadata).await.is_err() {
        return Ok(());
    }
    let code = state.codes.issue(CodePurpose::PasswordReset, &id).await?;
    let sent = state
        .mailer
        .send_password_reset_code(&account.email, code.expose(), RESET_CODE_TTL)
        .await;
    if let Err(error) = sent {
        tracing::error!(user_id = %account.user_id, error = %Chain(&error), "password-reset email was not sent");
    }
    Ok(())
}

/// Sets a new password with a reset code; the answer is a new session.
pub async fn confirm_reset(
    state: &AppState,
    email: Email,
    code: &str,
    new_password: Password,
    client: ClientInfo,
    mut metadata: Metadata,
) -> Result<SignedIn, AppError> {
    // An unknown address is answered as a wrong code.
    let Some(account) = super::find_login(state, &Identifier::Email(email)).await? else {
        return Err(AppError::InvalidCode);
    };
    metadata.actor.get_or_insert(Actor::User(account.user_id));
    let id = account.user_id;
    let change = || {
        set_password(
            state,
            id,
            &new_password,
            PasswordChangeMethod::Reset,
            &metadata,
        )
    };
    let user = state
        .codes
        .redeem(CodePurpose::PasswordReset, &id.to_string(), code, change)
        .await?;
    revoke_other_sessions(state, id, None, metadata.clone()).await?;
    notify_changed(state, account.email);
    // The mailbox is one factor: a second one still stands between a reset
    // and a session (the password is changed either way).
    let method = LoginMethod::EmailCode;
    if user.mfa.enabled() {
        return Ok(SignedIn::SecondFactor(challenge(state, id, method).await?));
    }
    let roles = super::refresh::roles(&user);
    let amr = Amr::of(method, None);
    let pair = start_session(state, id, Uuid::now_v7(), roles, amr, client, metadata).await?;
    Ok(SignedIn::Tokens(pair))
}

/// Changes the password of the signed-in `user_id`, whose session
/// `session_id` goes on; every other session ends. A wrong current
/// password counts toward the lockout like a failed login.
pub async fn change_password(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
    current: &str,
    new_password: Password,
    metadata: Metadata,
) -> Result<(), AppError> {
    super::login::check_password(state, user_id, current, &metadata).await?;
    set_password(
        state,
        user_id,
        &new_password,
        PasswordChangeMethod::Change,
        &metadata,
    )
    .await?;
    revoke_other_sessions(state, user_id, Some(session_id), metadata).await?;
    let email = state.users.load(&user_id.to_string()).await?.0.email;
    notify_changed(state, email);
    Ok(())
}

/// Checks the new password against the account (not its username or email,
/// not the current password) and records it; the account as it is then.
async fn set_password(
    state: &AppState,
    user_id: Uuid,
    new_password: &Password,
    method: PasswordChangeMethod,
    metadata: &Metadata,
) -> Result<aggregates::User, AppError> {
    let id = user_id.to_string();
    let (user, _) = state.users.load(&id).await?;
    if let Err(problem) = new_password.check_personal(&user.username, &user.email) {
        return Err(AppError::Validation(vec![FieldError::new(
            "new_password",
            problem.code(),
            problem.to_string(),
        )]));
    }
    let reuses_current = state
        .hasher
        .verify(new_password.expose(), &user.password_hash)
        .await
        .map_err(AppError::internal)?;
    let password_hash = state
        .hasher
        .hash(new_password)
        .await
        .map_err(AppError::internal)?;
    let command = UserCommand::ChangePassword {
        password_hash,
        method,
        reuses_current,
        at: Utc::now(),
    };
    let committed = state.users.execute(&id, command, metadata).await?;
    super::settle(state, committed.cursor).await;
    Ok(committed.state)
}

/// Mails "your password was changed" in the background.
fn notify_changed(state: &AppState, email: String) {
    let mailer = state.mailer.clone();
    tokio::spawn(
        async move {
            if let Err(error) = mailer.send_password_changed(&email).await {
                tracing::error!(error = %Chain(&error), "password-changed notice was not sent");
            }
        }
        .instrument(tracing::Span::current()),
    );
}

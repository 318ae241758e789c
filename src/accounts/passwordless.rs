//! Passwordless sign-in by a one-time code sent to the verified email
//! address, or by SMS to the verified phone number.
//!
//! The start endpoint answers 202 alike for every address (the code goes
//! out after the answer, only to a verified, active account), and its
//! cooldown starts for every address asked about. Redeeming a code is a
//! reserved check in the `User` aggregate, exactly like a password's: wrong
//! codes count toward the account's lockout, parallel guesses cannot
//! exceed its limit, and a locked account is refused even the right code.
//! A sign-in is recorded as `LoginSucceeded` with `method: email_code`.

use aggregates::user::{CodeChannel, LoginMethod};
use aggregates::UserCommand;
use chrono::Utc;
use tracing::Instrument;
use uuid::Uuid;

use super::sessions::{start_session, ClientInfo, TokenPair};
use super::Identifier;
use crate::auth::codes::CodePurpose;
use crate::auth::CodeError;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{Actor, Metadata};
use crate::telemetry::Chain;

/// Asks for a sign-in code for `to` (an email address or a phone number):
/// the same 202 for every one.
pub async fn request_sign_in_code(
    state: &AppState,
    to: Identifier,
    metadata: Metadata,
) -> Result<(), AppError> {
    let limits = &state.config.rate_limits;
    let target = to.normalized();
    if let Identifier::Phone(_) = to {
        // Texts cost money: per client IP too (no account is known yet).
        let ip = metadata.ip.clone().unwrap_or_else(|| "unknown".to_owned());
        state
            .limit("sms-ip", &ip, limits.sms_per_ip_and_account)
            .await?;
    }
    state
        .limit("email-codes", &target, limits.email_codes_per_address)
        .await?;
    let cooldown = state.config.codes.resend_cooldown;
    if let Some(left) = state
        .cooldowns
        .try_start("sign-in-code", &target, cooldown)
        .await?
    {
        return Err(super::password::cooldown_refusal(
            "sign-in-code-cooldown",
            left,
            cooldown,
        ));
    }
    let state = state.clone();
    // Done after answering, so timing does not tell known from unknown.
    tokio::spawn(
        async move {
            if let Err(error) = send_sign_in_code(&state, to, metadata).await {
                tracing::error!(error = %Chain(&error), "sending a sign-in code failed");
            }
        }
        .instrument(tracing::Span::current()),
    );
    Ok(())
}

async fn send_sign_in_code(
    state: &AppState,
    to: Identifier,
    mut metadata: Metadata,
) -> Result<(), AppError> {
    let Some(account) = super::find_login(state, &to).await? else {
        return Ok(());
    };
    let channel = match to {
        Identifier::Phone(_) => CodeChannel::Sms,
        _ => CodeChannel::Email,
    };
    metadata.actor.get_or_insert(Actor::User(account.user_id));
    let now = Utc::now();
    let ttl = state.codes.ttl();
    let command = UserCommand::IssueSignInCode {
        channel,
        at: now,
        expires_at: now + chrono::Duration::seconds(ttl.as_secs() as i64),
    };
    let id = account.user_id.to_string();
    // Unverified or deactivated: nothing is sent, nothing recorded.
    if state.users.execute(&id, command, &metadata).await.is_err() {
        return Ok(());
    }
    let code = state.codes.issue(CodePurpose::SignIn, &id).await?;
    let sent = match &to {
        Identifier::Phone(phone) => {
            let minutes = ttl.as_secs().div_ceil(60);
            let body = format!(
                "Your sign-in code is {}. It is valid for {minutes} minutes.",
                code.expose()
            );
            state
                .sms
                .send(phone.as_str(), &body)
                .await
                .map_err(|e| Chain(&e).to_string())
        }
        _ => state
            .mailer
            .send_sign_in_code(&account.email, code.expose(), ttl)
            .await
            .map_err(|e| Chain(&e).to_string()),
    };
    if let Err(error) = sent {
        tracing::error!(user_id = %account.user_id, %error, "sign-in code was not sent");
    }
    Ok(())
}

/// Signs in with a code sent to `to`: a new session.
pub async fn sign_in_with_code(
    state: &AppState,
    to: Identifier,
    code: &str,
    client: ClientInfo,
    mut metadata: Metadata,
) -> Result<TokenPair, AppError> {
    let Some(account) = super::find_login(state, &to).await? else {
        return Err(AppError::InvalidCode);
    };
    let method = match to {
        Identifier::Phone(_) => LoginMethod::SmsCode,
        _ => LoginMethod::EmailCode,
    };
    metadata.actor.get_or_insert(Actor::User(account.user_id));
    let id = account.user_id.to_string();
    let policy = state.config.lockout;
    let start = UserCommand::StartPasswordCheck {
        at: Utc::now(),
        policy,
    };
    state.users.execute(&id, start, &metadata).await?;
    let session_id = Uuid::now_v7();
    let complete = || {
        let command = UserCommand::CompletePasswordCheck {
            at: Utc::now(),
            session_id,
            method,
        };
        state.users.execute(&id, command, &metadata)
    };
    let refused = match state
        .codes
        .redeem(CodePurpose::SignIn, &id, code, complete)
        .await
    {
        Ok(completed) => {
            if let Some(refused) = completed.events.iter().find_map(super::login::refusal) {
                return Err(refused);
            }
            let roles = super::refresh::roles(&completed.state);
            return start_session(state, account.user_id, session_id, roles, client, metadata)
                .await;
        }
        Err(CodeError::Invalid) => AppError::InvalidCode,
        Err(CodeError::TooManyAttempts) => AppError::TooManyAttempts,
        Err(CodeError::Then(error)) => return Err(error.into()),
        Err(CodeError::Database(error)) => return Err(error.into()),
    };
    // A wrong code is a failed check: counted, and the lock at the limit.
    let failure = UserCommand::RecordLoginFailure {
        at: Utc::now(),
        policy,
    };
    state.users.execute(&id, failure, &metadata).await?;
    Err(refused)
}

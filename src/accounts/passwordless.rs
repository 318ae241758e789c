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
use uuid::Uuid;

use super::code_flow::{answer_then_send, InCooldown};
use super::mfa::{after_first_factor, SignedIn};
use super::sessions::ClientInfo;
use super::{Identifier, LoginRow};
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
    if let Identifier::Phone(_) = to {
        // Texts cost money: per client IP too (no account is known yet).
        let limit = state.config.rate_limits.sms_per_ip_and_account;
        let ip = metadata.ip.clone().unwrap_or_else(|| "unknown".to_owned());
        state.limit("sms-ip", &ip, limit).await?;
    }
    let refuse = InCooldown::Refuse("sign-in-code-cooldown");
    let phone = match &to {
        Identifier::Phone(phone) => Some(phone.clone()),
        _ => None,
    };
    answer_then_send(
        state,
        "sign-in-code",
        to,
        refuse,
        metadata,
        move |state, account, metadata| send_sign_in_code(state, account, phone, metadata),
    )
    .await
}

/// Issues a code to `account`: by text to `phone` when the person asked by
/// phone, by email otherwise.
async fn send_sign_in_code(
    state: AppState,
    account: LoginRow,
    phone: Option<aggregates::values::Phone>,
    metadata: Metadata,
) -> Result<(), AppError> {
    let channel = match phone {
        Some(_) => CodeChannel::Sms,
        None => CodeChannel::Email,
    };
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
    let sent = match &phone {
        Some(phone) => {
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
        None => state
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
) -> Result<SignedIn, AppError> {
    let Some(account) = super::find_login(state, &to).await? else {
        return Err(AppError::InvalidCode);
    };
    let method = match to {
        Identifier::Phone(_) => LoginMethod::SmsCode,
        _ => LoginMethod::EmailCode,
    };
    metadata.actor.get_or_insert(Actor::User(account.user_id));
    let id = account.user_id.to_string();
    super::login::reserve_check(state, &id, &metadata).await?;
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
            return after_first_factor(state, completed, session_id, method, client, metadata)
                .await;
        }
        Err(wrong @ (CodeError::Invalid | CodeError::TooManyAttempts)) => wrong.into(),
        Err(other) => return Err(other.into()),
    };
    // A wrong code is a failed check: counted, and the lock at the limit.
    super::login::record_failure(state, &id, &metadata).await?;
    Err(refused)
}

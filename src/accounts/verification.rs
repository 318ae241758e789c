//! Email verification by one-time code, and resending the code.

use aggregates::values::Email;
use aggregates::{UserCommand, UserError};
use chrono::Utc;
use tracing::Instrument;
use uuid::Uuid;

use super::code_flow::{answer_then_send, InCooldown};
use super::sessions::{start_session, Amr, ClientInfo, TokenPair};
use super::{Identifier, LoginRow};
use crate::auth::codes::CodePurpose;
use crate::auth::CodeError;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{Actor, CommandError, Metadata};
use crate::telemetry::Chain;
use aggregates::user::LoginMethod;

/// Issues a fresh code for `user_id` and mails it in the background: the
/// caller's answer must not depend on (or wait for) the SMTP relay. A failed
/// send is logged; the user asks again after the cooldown.
pub(super) async fn send_code(
    state: &AppState,
    user_id: Uuid,
    email: &str,
) -> Result<(), AppError> {
    let code = state
        .codes
        .issue(CodePurpose::EmailVerification, &user_id.to_string())
        .await?;
    let mailer = state.mailer.clone();
    let to = email.to_owned();
    let ttl = state.codes.ttl();
    tokio::spawn(
        async move {
            if let Err(error) = mailer.send_verification_code(&to, code.expose(), ttl).await {
                tracing::error!(%user_id, error = %Chain(&error), "verification email was not sent");
            }
        }
        .instrument(tracing::Span::current()),
    );
    Ok(())
}

/// Checks the code and, if right, verifies the email and logs the user in.
pub async fn verify_email(
    state: &AppState,
    email: Email,
    code: &str,
    client: ClientInfo,
    mut metadata: Metadata,
) -> Result<TokenPair, AppError> {
    let Some(account) = super::find_login(state, &Identifier::Email(email)).await? else {
        return Err(AppError::InvalidCode);
    };
    metadata.actor.get_or_insert(Actor::User(account.user_id));
    let id = account.user_id.to_string();
    let verify = || {
        state
            .users
            .execute(&id, UserCommand::VerifyEmail { at: Utc::now() }, &metadata)
    };
    let committed = match state
        .codes
        .redeem(CodePurpose::EmailVerification, &id, code, verify)
        .await
    {
        Ok(committed) => committed,
        // A code for an address verified meanwhile is a used code.
        Err(CodeError::Then(CommandError::Domain(UserError::EmailAlreadyVerified))) => {
            return Err(AppError::InvalidCode)
        }
        Err(other) => return Err(other.into()),
    };
    let referral =
        crate::program::referrals::record_verified_signup(state, account.user_id, &metadata)
            .await?;
    super::settle(state, referral.or(committed.cursor)).await;
    let amr = Amr::of(LoginMethod::EmailCode, None);
    let session = uuid::Uuid::now_v7();
    start_session(
        state,
        account.user_id,
        session,
        account.roles.0,
        amr,
        client,
        metadata,
    )
    .await
}

/// Sends a new code if the address belongs to an unverified account. The
/// answer is the same whether or not it does; only the cooldown (which
/// applies to every address alike) can refuse.
pub async fn resend_verification(
    state: &AppState,
    email: Email,
    metadata: Metadata,
) -> Result<(), AppError> {
    // The hourly limit counts every address, known or not, so its 429 tells
    // nothing. The resend cooldown is started by registration too, so a
    // 429 from it would tell a just-registered address from an unknown one:
    // within the cooldown the answer is the same 202, and nothing is sent.
    let alike = InCooldown::AnswerAlike;
    let to = Identifier::Email(email);
    answer_then_send(
        state,
        "verification-email",
        to,
        alike,
        metadata,
        resend_if_unverified,
    )
    .await
}

async fn resend_if_unverified(
    state: AppState,
    account: LoginRow,
    metadata: Metadata,
) -> Result<(), AppError> {
    if account.email_verified {
        return Ok(());
    }
    let now = Utc::now();
    let command = UserCommand::RecordVerificationCodeIssued {
        at: now,
        expires_at: now + state.codes.ttl(),
    };
    match state
        .users
        .execute(&account.user_id.to_string(), command, &metadata)
        .await
    {
        Ok(_) => send_code(&state, account.user_id, &account.email).await,
        Err(CommandError::Domain(UserError::EmailAlreadyVerified)) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

//! A phone number on one's own account: added with an SMS code, verified,
//! removed. A verified number is unique across accounts (a claim, given up
//! when the number is removed or replaced) and signs in like an email.
//!
//! SMS cost money: asking for a code is limited per client IP and per
//! account (`IDENTITY_RATE_LIMIT_SMS`) and per number (the email-code
//! quota), with the resend cooldown per number. The text is sent before
//! answering, so a provider that is down answers 503 `sms_unavailable`
//! promptly (the breaker refuses at once while open) and the person can
//! retry; nothing is recorded then.

use aggregates::values::Phone;
use aggregates::UserCommand;
use chrono::Utc;
use uuid::Uuid;

use crate::auth::codes::CodePurpose;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{ClaimKind, Metadata};
use crate::telemetry::Chain;

/// Puts `phone` on `user_id`'s account, unverified, and texts it a code.
pub async fn add_phone(
    state: &AppState,
    user_id: Uuid,
    phone: Phone,
    metadata: Metadata,
) -> Result<(), AppError> {
    limit_texts(state, user_id, &phone, &metadata).await?;
    if let Some(owner) = state
        .db
        .claim_owner(ClaimKind::Phone, phone.as_str())
        .await?
    {
        if owner != user_id.to_string() {
            return Err(AppError::Conflict {
                code: "phone_taken",
                detail: "this phone number belongs to another account".to_owned(),
            });
        }
    }
    let id = user_id.to_string();
    let code = state
        .codes
        .issue(CodePurpose::PhoneVerification, &id)
        .await?;
    let ttl = state.codes.ttl();
    let body = format!(
        "Your phone verification code is {}. It is valid for {} minutes.",
        code.expose(),
        ttl.as_secs().div_ceil(60)
    );
    if let Err(error) = state.sms.send(phone.as_str(), &body).await {
        tracing::error!(%user_id, error = %Chain(&error), "phone verification text was not sent");
        return Err(AppError::DependencyUnavailable {
            code: "sms_unavailable",
            detail: "the text could not be sent; retry in a while".to_owned(),
        });
    }
    let now = Utc::now();
    let command = UserCommand::AddPhone {
        phone,
        at: now,
        expires_at: now + chrono::Duration::seconds(ttl.as_secs() as i64),
    };
    let committed = state.users.execute(&id, command, &metadata).await?;
    super::settle(state, committed.cursor).await;
    Ok(())
}

/// Texts cost money: per client IP and per account, and per number with
/// its cooldown.
pub(super) async fn limit_texts(
    state: &AppState,
    user_id: Uuid,
    phone: &Phone,
    metadata: &Metadata,
) -> Result<(), AppError> {
    let limits = &state.config.rate_limits;
    let ip = metadata.ip.clone().unwrap_or_else(|| "unknown".to_owned());
    state
        .limit("sms-ip", &ip, limits.sms_per_ip_and_account)
        .await?;
    let account = user_id.to_string();
    state
        .limit("sms-account", &account, limits.sms_per_ip_and_account)
        .await?;
    let number = phone.as_str();
    state
        .limit("phone-codes", number, limits.email_codes_per_address)
        .await?;
    super::code_flow::start_cooldown(state, "phone-code", number, "phone-code-cooldown").await
}

/// Checks the texted code and makes the pending number the account's.
pub async fn verify_phone(
    state: &AppState,
    user_id: Uuid,
    code: &str,
    metadata: Metadata,
) -> Result<(), AppError> {
    let verify = || UserCommand::VerifyPhone { at: Utc::now() };
    let purpose = CodePurpose::PhoneVerification;
    super::redeem_on_account(state, purpose, user_id, code, verify, &metadata).await?;
    Ok(())
}

/// Takes the phone off the account; a verified number is free again.
pub async fn remove_phone(
    state: &AppState,
    user_id: Uuid,
    metadata: Metadata,
) -> Result<(), AppError> {
    let command = UserCommand::RemovePhone { at: Utc::now() };
    super::on_account(state, user_id, command, &metadata).await?;
    Ok(())
}

//! Registration: create the account, send the first verification code.

use aggregates::values::{Email, Password, Username};
use aggregates::UserCommand;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::verification::send_code;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{Actor, Metadata};

/// A registration request that passed validation.
#[derive(Debug)]
pub struct NewAccount {
    pub username: Username,
    pub email: Email,
    pub password: Password,
    /// The referral code typed at signup, if any (checked here, before
    /// anything is written).
    pub referral_code: Option<String>,
    /// A phone number to add, verified by SMS code as `POST /me/phone`
    /// does. Whether it could be added is not told (a number another
    /// account holds would otherwise be found out by registering).
    pub phone: Option<aggregates::values::Phone>,
}

/// The public view of an account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Profile {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

pub async fn register(
    state: &AppState,
    account: NewAccount,
    mut metadata: Metadata,
) -> Result<Profile, AppError> {
    let client = metadata.ip.clone().unwrap_or_else(|| "unknown".to_owned());
    let limit = state.config.rate_limits.register_per_ip;
    state.limit("register", &client, limit).await?;
    let referral = match account.referral_code.as_deref() {
        Some(raw) => Some(crate::program::referrals::resolve_code(state, raw).await?),
        None => None,
    };
    let password_hash = state
        .hasher
        .hash(&account.password)
        .await
        .map_err(AppError::internal)?;
    let user_id = Uuid::now_v7();
    metadata.actor.get_or_insert(Actor::User(user_id));
    let now = Utc::now();
    let command = UserCommand::RegisterUser {
        user_id,
        username: account.username.clone(),
        email: account.email.clone(),
        password_hash,
        at: now,
        code_expires_at: now + state.codes.ttl(),
    };
    let committed = state
        .users
        .execute(&user_id.to_string(), command, &metadata)
        .await?;
    // The first code counts as a send for the resend cooldown.
    state
        .cooldowns
        .try_start(
            "verification-email",
            account.email.as_str(),
            state.config.codes.resend_cooldown,
        )
        .await?;
    let mut cursor = committed.cursor;
    if let Some(code) = referral {
        cursor = crate::program::referrals::attribute_signup(state, user_id, code, now, &metadata)
            .await?
            .or(cursor);
    }
    send_code(state, user_id, account.email.as_str()).await?;
    super::settle(state, cursor).await;
    if let Some(phone) = account.phone.clone() {
        if let Err(error) = super::add_phone(state, user_id, phone, metadata).await {
            tracing::info!(%user_id, error = %crate::telemetry::Chain(&error), "the phone given at registration was not added");
        }
    }
    Ok(Profile::new_account(user_id, &account, now))
}

impl Profile {
    /// The profile of an account just registered.
    fn new_account(id: Uuid, account: &NewAccount, at: DateTime<Utc>) -> Self {
        Self {
            id,
            username: account.username.as_str().to_owned(),
            email: account.email.as_str().to_owned(),
            email_verified: false,
            created_at: at,
        }
    }
}

//! The profile a person keeps (a display name and a locale), and the
//! account as `GET /me` shows it.

use aggregates::values::{DisplayName, Locale};
use aggregates::UserCommand;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::error::AppError;
use crate::state::AppState;
use crate::store::{on_either, Metadata, Roles};

/// `PATCH /me`: sets what is given, keeps the rest; `ProfileUpdated`
/// carries only what changed (nothing changed: no event). The read model
/// shows it before the answer (read-your-writes).
pub async fn update_profile(
    state: &AppState,
    user_id: Uuid,
    display_name: Option<DisplayName>,
    locale: Option<Locale>,
    metadata: Metadata,
) -> Result<(), AppError> {
    let command = UserCommand::UpdateProfile {
        display_name,
        locale,
        at: Utc::now(),
    };
    super::on_account(state, user_id, command, &metadata).await?;
    Ok(())
}

/// An account as `GET /me` shows it, from the user directory.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    /// The number most recently added (E.164); a number verified before
    /// keeps working for sign-in until this one is verified.
    pub phone: Option<String>,
    pub phone_verified: bool,
    /// The name to show, if the person gave one.
    pub display_name: Option<String>,
    /// A BCP 47 language tag, if the person gave one.
    pub locale: Option<String>,
    #[schema(value_type = Vec<String>)]
    pub roles: Roles,
    pub created_at: DateTime<Utc>,
}

/// The caller's profile from memory, or read (and kept) when not there.
pub async fn cached_profile(state: &AppState, id: Uuid) -> Result<Arc<Me>, AppError> {
    if let Some(me) = state.profiles.get(&id) {
        return Ok(me);
    }
    let epoch = state.profiles.epoch();
    let me = Arc::new(profile(state, id).await?);
    state.profiles.insert(epoch, id, me.clone());
    Ok(me)
}

/// The account `id` as `GET /me` shows it.
pub async fn profile(state: &AppState, id: Uuid) -> Result<Me, AppError> {
    let me: Option<Me> = on_either!(&state.db, pool => {
        sqlx::query_as(crate::store::hot::PROFILE)
        .bind(id)
        .fetch_optional(pool)
        .await
    })?;
    me.ok_or(AppError::NotFound)
}

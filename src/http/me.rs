//! `GET /me`: the caller's profile, from the user directory.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::extract::{ApiJson, AuthUser, Caller};
use super::mfa::PasswordRequest;
use super::problem::Problem;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{on_either, Roles};

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![me, deactivate]
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    /// The number most recently added (E.164); a number verified before
    /// keeps working for sign-in until this one is verified.
    pub phone: Option<String>,
    pub phone_verified: bool,
    #[schema(value_type = Vec<String>)]
    pub roles: Roles,
    pub created_at: DateTime<Utc>,
}

/// The caller's own account.
#[utoipa::path(get, path = "/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(
    State(state): State<AppState>,
    AuthUser(claims): AuthUser,
) -> Result<Json<Me>, AppError> {
    Ok(Json(profile(&state, claims.sub).await?))
}

/// Leave: deactivate one's own account (the password checked).
#[utoipa::path(post, path = "/me/deactivate", tag = "account", request_body = PasswordRequest, security(("bearer" = [])),
    description = "Every session ends at once and access tokens stop; login then answers `account_deactivated`. Recorded as `UserDeactivated` with the account's own id in `by` (an admin's shows the admin's); an admin can reactivate it. A wrong password counts toward the lockout. Erasing the account's data is separate (not built yet).",
    responses((status = 204, description = "deactivated"), (status = 401, body = Problem, description = "invalid_credentials"),
              (status = 422, body = Problem), (status = 429, body = Problem, description = "account_locked")))]
pub async fn deactivate(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiJson(body): ApiJson<PasswordRequest>,
) -> Result<StatusCode, AppError> {
    let password = body.password()?;
    crate::accounts::deactivate_self(&state, claims.sub, &password, metadata).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account `id` as `GET /me` shows it.
pub(super) async fn profile(state: &AppState, id: Uuid) -> Result<Me, AppError> {
    let me: Option<Me> = on_either!(&state.db, pool => {
        sqlx::query_as(crate::store::hot::PROFILE)
        .bind(id)
        .fetch_optional(pool)
        .await
    })?;
    me.ok_or(AppError::NotFound)
}

//! `GET /me`: the caller's profile, from the user directory.

use aggregates::values::{DisplayName, Locale};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use super::extract::{ApiJson, AuthUser, Caller};
use super::mfa::PasswordRequest;
use super::problem::Problem;
use super::validate::Fields;
pub use crate::accounts::Me;
use crate::error::AppError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![me, update_profile, deactivate]
}

/// The caller's own account.
#[utoipa::path(get, path = "/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(
    State(state): State<AppState>,
    AuthUser(claims): AuthUser,
) -> Result<Response, AppError> {
    let me = crate::accounts::cached_profile(&state, claims.sub).await?;
    Ok(Json(&*me).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ProfileRequest {
    /// 1 to 64 characters, no control characters.
    #[serde(default)]
    display_name: Option<String>,
    /// A BCP 47 language tag such as `en` or `de-CH`.
    #[serde(default)]
    locale: Option<String>,
}

/// Change one's profile: what is given is set, the rest kept.
#[utoipa::path(patch, path = "/me", tag = "account", request_body = ProfileRequest, security(("bearer" = [])),
    description = "`ProfileUpdated` records only what changed.",
    responses((status = 200, body = Me), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn update_profile(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiJson(body): ApiJson<ProfileRequest>,
) -> Result<Json<Me>, AppError> {
    let mut fields = Fields::default();
    let display_name = body.display_name.as_deref().and_then(|raw| {
        DisplayName::parse(raw)
            .map_err(|e| fields.push("display_name", e.code(), e.to_string()))
            .ok()
    });
    let locale = body.locale.as_deref().and_then(|raw| {
        Locale::parse(raw)
            .map_err(|e| fields.push("locale", e.code(), e.to_string()))
            .ok()
    });
    fields.finish()?;
    crate::accounts::update_profile(&state, claims.sub, display_name, locale, metadata).await?;
    Ok(Json(crate::accounts::profile(&state, claims.sub).await?))
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

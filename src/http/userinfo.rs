//! `/oauth/userinfo` (OpenID Connect Core 5.3): the signed-in person's
//! standard claims for a relying party holding their access token.
//!
//! Access tokens carry no scopes (the API's own tokens, and those of the
//! authorization-code grant, are the same tokens), so the answer is every
//! claim of the `profile`, `email` and `phone` scopes: the person's own
//! data to the holder of the person's own token, as `GET /api/v1/me` gives
//! it. A token of an ended session is refused at once, as everywhere.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;

use super::extract::AuthUser;
use crate::accounts::oauth::profile_claims;
use crate::error::AppError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(utoipa_axum::routes!(userinfo, userinfo_post))
}

/// The claims, `sub` first.
async fn claims(
    state: &AppState,
    claims: &crate::auth::jwt::AccessClaims,
) -> Result<Response, AppError> {
    let mut answer = serde_json::Map::new();
    answer.insert("sub".into(), claims.sub.to_string().into());
    answer.extend(profile_claims(state, claims.sub, &["profile", "email", "phone"]).await?);
    Ok(Json(answer).into_response())
}

/// The person's claims (OpenID Connect Core 5.3).
#[utoipa::path(get, path = "/oauth/userinfo", tag = "oauth", security(("bearer" = [])),
    responses((status = 200, body = Object, description = "`sub` and the profile, email and phone claims"),
              (status = 401, body = super::problem::Problem, description = "no live access token")))]
pub async fn userinfo(
    State(state): State<AppState>,
    AuthUser(token): AuthUser,
) -> Result<Response, AppError> {
    claims(&state, &token).await
}

/// The same by POST (OpenID Connect Core 5.3.1 allows both).
#[utoipa::path(post, path = "/oauth/userinfo", tag = "oauth", security(("bearer" = [])),
    responses((status = 200, body = Object, description = "`sub` and the profile, email and phone claims"),
              (status = 401, body = super::problem::Problem, description = "no live access token")))]
pub async fn userinfo_post(
    State(state): State<AppState>,
    AuthUser(token): AuthUser,
) -> Result<Response, AppError> {
    claims(&state, &token).await
}

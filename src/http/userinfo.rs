//! `/oauth/userinfo` (OpenID Connect Core 5.3): the signed-in person's
//! standard claims for a relying party holding their access token.
//!
//! Access tokens carry no scopes (the API's own tokens, and those of the
//! authorization-code grant, are the same tokens), so the answer is every
//! claim of the `profile`, `email` and `phone` scopes: the person's own
//! data to the holder of the person's own token, as `GET /api/v1/me` gives
//! it. A token of an ended session is refused at once, as everywhere, in
//! RFC 6750's shape (`WWW-Authenticate: Bearer error="invalid_token"`, and
//! the OAuth error body of the other `/oauth/` endpoints).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;

use super::oauth::{live_claims, OAuthError};
use crate::accounts::oauth::profile_claims;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(utoipa_axum::routes!(userinfo, userinfo_post))
}

/// The claims of the Bearer token's person, `sub` first.
async fn claims(state: &AppState, headers: &HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(super::extract::bearer_token);
    let Some(claims) = token.and_then(|token| live_claims(state, token)) else {
        return OAuthError::invalid_token().into_response();
    };
    let mut answer = serde_json::Map::new();
    answer.insert("sub".into(), claims.sub.to_string().into());
    match profile_claims(state, claims.sub, &["profile", "email", "phone"]).await {
        Ok(profile) => {
            answer.extend(profile);
            Json(answer).into_response()
        }
        // An account the directory does not show: its token is no longer
        // good for this.
        Err(crate::error::AppError::NotFound) => OAuthError::invalid_token().into_response(),
        Err(error) => OAuthError::server_error(&error).into_response(),
    }
}

/// The person's claims (OpenID Connect Core 5.3).
#[utoipa::path(get, path = "/oauth/userinfo", tag = "oauth", security(("bearer" = [])),
    responses((status = 200, body = Object, description = "`sub` and the profile, email and phone claims"),
              (status = 401, body = OAuthError, description = "invalid_token: no live access token")))]
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    claims(&state, &headers).await
}

/// The same by POST (OpenID Connect Core 5.3.1 allows both).
#[utoipa::path(post, path = "/oauth/userinfo", tag = "oauth", security(("bearer" = [])),
    responses((status = 200, body = Object, description = "`sub` and the profile, email and phone claims"),
              (status = 401, body = OAuthError, description = "invalid_token: no live access token")))]
pub async fn userinfo_post(State(state): State<AppState>, headers: HeaderMap) -> Response {
    claims(&state, &headers).await
}

//! `/auth/passwordless` and `/auth/passwordless/verify`: sign-in by a
//! one-time code sent to the verified email address.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use super::accounts::tokens;
use super::extract::ApiJson;
use super::problem::Problem;
use super::validate::Fields;
use crate::accounts::{self, ClientInfo, TokenPair};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Metadata;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![start, verify]
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StartRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    email: Option<String>,
}

/// Ask for a sign-in code. The same answer for every address.
#[utoipa::path(post, path = "/auth/passwordless", tag = "auth", request_body = StartRequest,
    description = "202 alike for every address (no enumeration); a verified, active account gets a 6-digit code by email, replacing any earlier one.",
    responses((status = 202, description = "accepted"), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "rate_limited: per address, and the resend cooldown")))]
pub async fn start(
    State(state): State<AppState>,
    metadata: Metadata,
    ApiJson(body): ApiJson<StartRequest>,
) -> Result<StatusCode, AppError> {
    let mut fields = Fields::default();
    let email = fields.email("email", body.email.as_deref());
    let email = fields.finish_with(|| email)?;
    accounts::request_sign_in_code(&state, email, metadata).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct VerifyRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    email: Option<String>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    code: Option<String>,
}

/// Sign in with the emailed code.
#[utoipa::path(post, path = "/auth/passwordless/verify", tag = "auth", request_body = VerifyRequest,
    description = "A wrong code counts toward the account's lockout as a wrong password does; while the account is locked even the right code is refused.",
    responses((status = 200, body = TokenPair), (status = 400, body = Problem, description = "invalid_code"),
              (status = 403, body = Problem, description = "account_deactivated"), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "too_many_attempts, account_locked or login_in_progress")))]
pub async fn verify(
    State(state): State<AppState>,
    client: ClientInfo,
    metadata: Metadata,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Response, AppError> {
    let mut fields = Fields::default();
    let email = fields.email("email", body.email.as_deref());
    let code = fields.code("code", body.code.as_deref());
    let (email, code) = fields.finish_with(|| Some((email?, code?)))?;
    let pair = accounts::sign_in_with_code(&state, email, &code, client, metadata).await?;
    Ok(tokens(pair))
}

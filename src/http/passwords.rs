//! `/auth/password-reset`, `/auth/password-reset/confirm` and
//! `/auth/password`: a way back in, and a change while signed in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use super::accounts::tokens;
use super::extract::{ApiJson, Caller};
use super::problem::Problem;
use super::validate::Fields;
use crate::accounts::{self, ClientInfo, SignedIn};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Metadata;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![request_reset, confirm_reset, change_password]
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResetRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    email: Option<String>,
}

/// Ask for a password-reset code. The same answer for every address.
#[utoipa::path(post, path = "/auth/password-reset", tag = "auth", request_body = ResetRequest,
    description = "202 alike for unknown, unverified and known addresses (no enumeration); a verified, active account gets a 6-digit code by email, valid 15 minutes, replacing any earlier one.",
    responses((status = 202, description = "accepted"), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "rate_limited: per address, and the resend cooldown")))]
pub async fn request_reset(
    State(state): State<AppState>,
    metadata: Metadata,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<StatusCode, AppError> {
    let mut fields = Fields::default();
    let email = fields.email("email", body.email.as_deref());
    let email = fields.finish_with(|| email)?;
    accounts::request_reset(&state, email, metadata).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ConfirmResetRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    email: Option<String>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    code: Option<String>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    new_password: Option<String>,
}

/// Set a new password with the emailed code; answers a new session.
#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth", request_body = ConfirmResetRequest,
    description = "Every other session of the account ends; a notice goes to the address. A reset also lifts a lockout of the failure limit (not an admin's lock).",
    responses((status = 200, body = SignedIn, description = "tokens, or with a second factor on an `mfa_token` for `POST /auth/mfa` (the password is changed either way)"), (status = 400, body = Problem, description = "invalid_code: wrong, expired, used or replaced"),
              (status = 422, body = Problem, description = "validation_failed: the new password is refused"),
              (status = 429, body = Problem, description = "too_many_attempts, or account_locked by an admin")))]
pub async fn confirm_reset(
    State(state): State<AppState>,
    client: ClientInfo,
    metadata: Metadata,
    ApiJson(body): ApiJson<ConfirmResetRequest>,
) -> Result<Response, AppError> {
    let policy = &state.config.password_policy;
    let mut fields = Fields::default();
    let email = fields.email("email", body.email.as_deref());
    let code = fields.code("code", body.code.as_deref());
    let password = fields.password("new_password", body.new_password.as_deref(), policy);
    let (email, code, password) = fields.finish_with(|| Some((email?, code?, password?)))?;
    let pair = accounts::confirm_reset(&state, email, &code, password, client, metadata).await?;
    Ok(tokens(pair))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChangePasswordRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    current_password: Option<String>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    new_password: Option<String>,
}

/// Change the password while signed in.
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = ChangePasswordRequest, security(("bearer" = [])),
    description = "Every other session of the account ends; this one goes on. A notice goes to the email address. A wrong current password counts toward the lockout like a failed login.",
    responses((status = 204, description = "changed"), (status = 401, body = Problem, description = "invalid_credentials"),
              (status = 422, body = Problem, description = "validation_failed: the new password is refused"),
              (status = 429, body = Problem, description = "account_locked")))]
pub async fn change_password(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, AppError> {
    let policy = &state.config.password_policy;
    let mut fields = Fields::default();
    let current = fields.required("current_password", body.current_password.as_deref());
    let password = fields.password("new_password", body.new_password.as_deref(), policy);
    let (current, password) = fields.finish_with(|| Some((current?, password?)))?;
    accounts::change_password(&state, claims.sub, claims.sid, &current, password, metadata).await?;
    Ok(StatusCode::NO_CONTENT)
}

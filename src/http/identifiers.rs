//! `/me/email` and `/me/username`: changing what one signs in with (see
//! `accounts::identifiers` for the rules).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use super::extract::{ApiJson, Caller};
use super::me::Me;
use super::problem::Problem;
use super::validate::Fields;
use crate::accounts;
use crate::error::AppError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![request_email_change, confirm_email_change, change_username]
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmailChangeRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    new_email: Option<String>,
    /// The current password.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    password: Option<String>,
}

/// Ask to change the email address; a 6-digit code goes to the new one.
#[utoipa::path(post, path = "/me/email", tag = "account", request_body = EmailChangeRequest, security(("bearer" = [])),
    description = "Nothing changes until `POST /me/email/verify`. An address another account uses gets no code and the same 202 (its owner is told someone tried). A wrong password counts toward the lockout. Limited per account and per address, with the resend cooldown per address.",
    responses((status = 202, description = "a code is on its way to the new address"),
              (status = 401, body = Problem, description = "invalid_credentials"),
              (status = 422, body = Problem, description = "malformed, or the current address (same_as_current)"),
              (status = 429, body = Problem, description = "rate_limited, or account_locked")))]
pub async fn request_email_change(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiJson(body): ApiJson<EmailChangeRequest>,
) -> Result<StatusCode, AppError> {
    let mut fields = Fields::default();
    let new_email = fields.email("new_email", body.new_email.as_deref());
    let password = fields.required("password", body.password.as_deref());
    let (new_email, password) = fields.finish_with(|| Some((new_email?, password?)))?;
    accounts::request_email_change(&state, claims.sub, new_email, &password, metadata).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmailCodeRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    code: Option<String>,
}

/// Confirm the new email address with the code sent to it.
#[utoipa::path(post, path = "/me/email/verify", tag = "account", request_body = EmailCodeRequest, security(("bearer" = [])),
    description = "The address changes at once (verified): login by the old one stops, by the new one starts, and the old one is free for another account. A notice goes to the old address. Sessions go on.",
    responses((status = 200, body = Me), (status = 400, body = Problem, description = "invalid_code: wrong, expired, used or replaced"),
              (status = 401, body = Problem),
              (status = 409, body = Problem, description = "email_taken: another account verified it meanwhile"),
              (status = 422, body = Problem), (status = 429, body = Problem, description = "too_many_attempts")))]
pub async fn confirm_email_change(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiJson(body): ApiJson<EmailCodeRequest>,
) -> Result<Json<Me>, AppError> {
    let mut fields = Fields::default();
    let code = fields.code("code", body.code.as_deref());
    let code = fields.finish_with(|| code)?;
    accounts::confirm_email_change(&state, claims.sub, &code, metadata).await?;
    Ok(Json(crate::accounts::profile(&state, claims.sub).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UsernameRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    username: Option<String>,
    /// The current password.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    password: Option<String>,
}

/// Change the username.
#[utoipa::path(put, path = "/me/username", tag = "account", request_body = UsernameRequest, security(("bearer" = [])),
    description = "The new name is claimed in one commit. The old one no longer signs in and stays reserved to this account for `IDENTITY_USERNAME_RESERVATION_DAYS` (30): nobody else can take it meanwhile, the account can take it back. A wrong password counts toward the lockout.",
    responses((status = 200, body = Me), (status = 401, body = Problem, description = "invalid_credentials"),
              (status = 409, body = Problem, description = "username_taken (also while reserved to another account)"),
              (status = 422, body = Problem, description = "against the username policy, or the current name (same_as_current)"),
              (status = 429, body = Problem, description = "account_locked")))]
pub async fn change_username(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiJson(body): ApiJson<UsernameRequest>,
) -> Result<Json<Me>, AppError> {
    let mut fields = Fields::default();
    let policy = &state.config.username_policy;
    let username = fields.username("username", body.username.as_deref(), policy);
    let password = fields.required("password", body.password.as_deref());
    let (username, password) = fields.finish_with(|| Some((username?, password?)))?;
    accounts::change_username(&state, claims.sub, username, &password, metadata).await?;
    Ok(Json(crate::accounts::profile(&state, claims.sub).await?))
}

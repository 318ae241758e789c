//! `/auth/passwordless` and `/auth/passwordless/verify`: sign-in by a
//! one-time code sent to the verified email address or phone number.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use super::accounts::tokens;
use super::extract::ApiJson;
use super::problem::Problem;
use super::validate::Fields;
use crate::accounts::{self, ClientInfo, SignedIn};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Metadata;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![start, verify]
}

/// One of `email` and `phone` (E.164, `+` and the country code).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StartRequest {
    #[serde(default)]
    #[schema(value_type = String)]
    email: Option<String>,
    #[serde(default)]
    #[schema(value_type = String)]
    phone: Option<String>,
}

/// Ask for a sign-in code. The same answer for every address.
#[utoipa::path(post, path = "/auth/passwordless", tag = "auth", request_body = StartRequest,
    description = "`{email}` or `{phone}`. 202 alike for every address and number (no enumeration); an active account gets a 6-digit code by email to its verified address, or by SMS to its verified phone, replacing any earlier one.",
    responses((status = 202, description = "accepted"), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "rate_limited: per address, and the resend cooldown")))]
pub async fn start(
    State(state): State<AppState>,
    metadata: Metadata,
    ApiJson(body): ApiJson<StartRequest>,
) -> Result<StatusCode, AppError> {
    let mut fields = Fields::default();
    let to = fields.email_or_phone(body.email.as_deref(), body.phone.as_deref());
    let to = fields.finish_with(|| to)?;
    accounts::request_sign_in_code(&state, to, metadata).await?;
    Ok(StatusCode::ACCEPTED)
}

/// One of `email` and `phone`, and the code sent there.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct VerifyRequest {
    #[serde(default)]
    #[schema(value_type = String)]
    email: Option<String>,
    #[serde(default)]
    #[schema(value_type = String)]
    phone: Option<String>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    code: Option<String>,
}

/// Sign in with the code sent by email or SMS.
#[utoipa::path(post, path = "/auth/passwordless/verify", tag = "auth", request_body = VerifyRequest,
    description = "A wrong code counts toward the account's lockout as a wrong password does; while the account is locked even the right code is refused.",
    responses((status = 200, body = SignedIn, description = "tokens, or with a second factor on an `mfa_token` for `POST /auth/mfa`"), (status = 400, body = Problem, description = "invalid_code"),
              (status = 403, body = Problem, description = "account_deactivated"), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "too_many_attempts, account_locked or login_in_progress")))]
pub async fn verify(
    State(state): State<AppState>,
    client: ClientInfo,
    metadata: Metadata,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Response, AppError> {
    let mut fields = Fields::default();
    let to = fields.email_or_phone(body.email.as_deref(), body.phone.as_deref());
    let code = fields.code("code", body.code.as_deref());
    let (to, code) = fields.finish_with(|| Some((to?, code?)))?;
    let method = match &to {
        accounts::Identifier::Phone(_) => "sms_code",
        _ => "email_code",
    };
    let signed_in = accounts::sign_in_with_code(&state, to, &code, client, metadata).await;
    let pair = crate::instruments::sign_in(method, signed_in)?;
    Ok(tokens(pair))
}

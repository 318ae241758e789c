//! `/me/phone`: a phone number on one's own account, verified by SMS.

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
    documented_routes![add_phone, verify_phone, remove_phone]
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PhoneRequest {
    /// In international form: `+`, the country code, the number.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    phone: Option<String>,
}

/// Add a phone number; a 6-digit code is texted to it.
#[utoipa::path(post, path = "/me/phone", tag = "account", request_body = PhoneRequest, security(("bearer" = [])),
    description = "The number is normalized to E.164 and waits for its code; a number verified before keeps working for sign-in until this one is verified. Limited per client IP, per account and per number (SMS cost money).",
    responses((status = 202, description = "code sent"), (status = 401, body = Problem),
              (status = 409, body = Problem, description = "phone_taken: verified by another account"),
              (status = 422, body = Problem, description = "not a valid number in international form"),
              (status = 429, body = Problem, description = "rate_limited"),
              (status = 503, body = Problem, description = "sms_unavailable: the SMS provider failed; retry later")))]
pub async fn add_phone(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiJson(body): ApiJson<PhoneRequest>,
) -> Result<StatusCode, AppError> {
    let mut fields = Fields::default();
    let phone = fields.phone("phone", body.phone.as_deref());
    let phone = fields.finish_with(|| phone)?;
    accounts::add_phone(&state, claims.sub, phone, metadata).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PhoneCodeRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    code: Option<String>,
}

/// Verify the pending phone number with the texted code.
#[utoipa::path(post, path = "/me/phone/verify", tag = "account", request_body = PhoneCodeRequest, security(("bearer" = [])),
    description = "The number becomes the account's: unique across accounts, and it signs in like the email address (as the login identifier, or for a passwordless code by SMS).",
    responses((status = 200, body = Me), (status = 400, body = Problem, description = "invalid_code"), (status = 401, body = Problem),
              (status = 409, body = Problem, description = "phone_taken: another account verified it meanwhile"),
              (status = 422, body = Problem), (status = 429, body = Problem, description = "too_many_attempts")))]
pub async fn verify_phone(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiJson(body): ApiJson<PhoneCodeRequest>,
) -> Result<Json<Me>, AppError> {
    let mut fields = Fields::default();
    let code = fields.code("code", body.code.as_deref());
    let code = fields.finish_with(|| code)?;
    accounts::verify_phone(&state, claims.sub, &code, metadata).await?;
    Ok(Json(crate::accounts::profile(&state, claims.sub).await?))
}

/// Remove the phone number from the account.
#[utoipa::path(delete, path = "/me/phone", tag = "account", security(("bearer" = [])),
    description = "A verified number is free for another account again. Idempotent.",
    responses((status = 204, description = "removed"), (status = 401, body = Problem)))]
pub async fn remove_phone(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
) -> Result<StatusCode, AppError> {
    accounts::remove_phone(&state, claims.sub, metadata).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/auth/mfa` (the second step of a sign-in) and `/me/mfa/...` (TOTP
//! enrollment, recovery codes, removal).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use super::accounts::tokens;
use super::extract::{ApiJson, Caller};
use super::problem::Problem;
use super::validate::Fields;
use crate::accounts::{
    self, ClientInfo, RecoveryCodes, SecondFactorAnswer, TokenPair, TotpEnrollment,
};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Metadata;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![
        second_factor,
        start_totp,
        confirm_totp,
        disable_totp,
        replace_recovery_codes
    ]
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SecondFactorRequest {
    /// From the first factor's answer.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    mfa_token: Option<String>,
    /// The authenticator app's 6-digit code; or give `recovery_code`.
    #[serde(default)]
    code: Option<String>,
    /// One of the recovery codes (each works once); or give `code`.
    #[serde(default)]
    recovery_code: Option<String>,
}

/// Finish a sign-in with its second factor.
#[utoipa::path(post, path = "/auth/mfa", tag = "auth", request_body = SecondFactorRequest,
    description = "The `mfa_token` lasts 5 minutes and signs in once. A wrong code leaves it usable but counts toward the account's lockout, as a wrong password does; a TOTP code is accepted at most once.",
    responses((status = 200, body = TokenPair), (status = 400, body = Problem, description = "invalid_code: wrong or already used"),
              (status = 401, body = Problem, description = "invalid_mfa_token: unknown, expired or used"),
              (status = 403, body = Problem, description = "account_deactivated"), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "account_locked or login_in_progress")))]
pub async fn second_factor(
    State(state): State<AppState>,
    client: ClientInfo,
    metadata: Metadata,
    ApiJson(body): ApiJson<SecondFactorRequest>,
) -> Result<Response, AppError> {
    let mut fields = Fields::default();
    let token = fields.required("mfa_token", body.mfa_token.as_deref());
    let answer = match (body.code, body.recovery_code) {
        (Some(code), None) => Some(SecondFactorAnswer::Totp(code)),
        (None, Some(code)) => Some(SecondFactorAnswer::RecoveryCode(code)),
        _ => {
            fields.push("code", "one_of", "give either code or recovery_code");
            None
        }
    };
    let (token, answer) = fields.finish_with(|| Some((token?, answer?)))?;
    let signed_in =
        accounts::complete_second_factor(&state, &token, answer, client, metadata).await;
    let pair = crate::instruments::sign_in("second_factor", signed_in)?;
    Ok(tokens(pair))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    password: Option<String>,
}

impl PasswordRequest {
    pub(super) fn password(self) -> Result<String, AppError> {
        let mut fields = Fields::default();
        let password = fields.required("password", self.password.as_deref());
        fields.finish_with(|| password)
    }
}

/// Start TOTP enrollment: a new secret to add to an authenticator app.
#[utoipa::path(post, path = "/me/mfa/totp", tag = "account", request_body = PasswordRequest, security(("bearer" = [])),
    description = "Needs the current password (a wrong one counts toward the lockout). Nothing changes for sign-in until `POST /me/mfa/totp/confirm`; a new start replaces an unconfirmed secret.",
    responses((status = 200, body = TotpEnrollment), (status = 401, body = Problem, description = "invalid_credentials"),
              (status = 409, body = Problem, description = "mfa_already_enabled"), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "account_locked")))]
pub async fn start_totp(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiJson(body): ApiJson<PasswordRequest>,
) -> Result<Response, AppError> {
    let password = body.password()?;
    let enrollment = accounts::start_totp(&state, claims.sub, &password, metadata).await?;
    Ok(tokens(enrollment))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CodeRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    code: Option<String>,
}

/// Confirm TOTP with a first code: it is on from now, and the answer holds
/// the recovery codes (shown this once).
#[utoipa::path(post, path = "/me/mfa/totp/confirm", tag = "account", request_body = CodeRequest, security(("bearer" = [])),
    responses((status = 200, body = RecoveryCodes), (status = 400, body = Problem, description = "invalid_code"),
              (status = 401, body = Problem), (status = 409, body = Problem, description = "mfa_already_enabled or no_totp_enrollment"),
              (status = 422, body = Problem)))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Response, AppError> {
    let mut fields = Fields::default();
    let code = fields.required("code", body.code.as_deref());
    let code = fields.finish_with(|| code)?;
    Ok(tokens(
        accounts::confirm_totp(&state, claims.sub, &code, metadata).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DisableTotpRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    password: Option<String>,
    /// A current code of the authenticator app.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    code: Option<String>,
}

/// Turn the second factor off, with the password and a current code.
#[utoipa::path(delete, path = "/me/mfa/totp", tag = "account", request_body = DisableTotpRequest, security(("bearer" = [])),
    description = "A wrong password or code counts toward the lockout.",
    responses((status = 204, description = "off"), (status = 400, body = Problem, description = "invalid_code"),
              (status = 401, body = Problem, description = "invalid_credentials"), (status = 409, body = Problem, description = "mfa_not_enabled"),
              (status = 422, body = Problem), (status = 429, body = Problem, description = "account_locked")))]
pub async fn disable_totp(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiJson(body): ApiJson<DisableTotpRequest>,
) -> Result<StatusCode, AppError> {
    let mut fields = Fields::default();
    let password = fields.required("password", body.password.as_deref());
    let code = fields.required("code", body.code.as_deref());
    let (password, code) = fields.finish_with(|| Some((password?, code?)))?;
    accounts::disable_totp(&state, claims.sub, &password, &code, metadata).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the recovery codes (the old ones stop working); shown this once.
#[utoipa::path(post, path = "/me/mfa/recovery-codes", tag = "account", request_body = PasswordRequest, security(("bearer" = [])),
    responses((status = 200, body = RecoveryCodes), (status = 401, body = Problem, description = "invalid_credentials"),
              (status = 409, body = Problem, description = "mfa_not_enabled"), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "account_locked")))]
pub async fn replace_recovery_codes(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiJson(body): ApiJson<PasswordRequest>,
) -> Result<Response, AppError> {
    let password = body.password()?;
    Ok(tokens(
        accounts::replace_recovery_codes(&state, claims.sub, &password, metadata).await?,
    ))
}

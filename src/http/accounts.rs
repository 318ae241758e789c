//! `/auth/*`: register, verify, log in, refresh, log out, sessions.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use super::extract::{ApiJson, ApiPath, AuthUser, Caller};
use super::problem::Problem;
use super::validate::Fields;
use crate::accounts::{
    self, ClientInfo, Identifier, NewAccount, Profile, SessionView, SignedIn, TokenPair,
};
use crate::auth::RefreshToken;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Metadata;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![
        register,
        verify_email,
        resend,
        login,
        refresh,
        logout,
        logout_all,
        sessions,
        end_session
    ]
}

/// Token responses (and `mfa_token` challenges) must never be cached.
pub(super) fn tokens(body: impl serde::Serialize) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RegisterRequest {
    #[schema(value_type = String, required = true)]
    #[serde(default)]
    username: Option<String>,
    #[schema(value_type = String, required = true)]
    #[serde(default)]
    email: Option<String>,
    #[schema(value_type = String, required = true)]
    #[serde(default)]
    password: Option<String>,
    /// A referral code of the influencer program (any case). Unknown,
    /// deactivated or suspended codes: 422 `invalid_referral_code`, and no
    /// account is created. An empty string counts as no code (forms send
    /// empty fields).
    #[serde(default)]
    referral_code: Option<String>,
    /// Optional: a phone number in international form, texted a code to
    /// verify it with `POST /me/phone/verify` (as `POST /me/phone` does).
    #[serde(default)]
    phone: Option<String>,
}

impl RegisterRequest {
    /// The account to create, or every invalid field at once.
    fn parse(self, config: &crate::config::Config) -> Result<NewAccount, AppError> {
        let mut fields = Fields::default();
        let username = fields.username(
            "username",
            self.username.as_deref(),
            &config.username_policy,
        );
        let email = fields.email("email", self.email.as_deref());
        let password = fields.password(
            "password",
            self.password.as_deref(),
            &config.password_policy,
        );
        let referral_code = self.referral_code.filter(|code| !code.trim().is_empty());
        let phone = match self.phone.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(raw) => fields.phone("phone", Some(raw)).map(Some),
            None => Some(None),
        };
        fields.finish_with(|| {
            Some(NewAccount {
                username: username?,
                email: email?,
                password: password?,
                referral_code,
                phone: phone?,
            })
        })
    }
}

/// Create an account; a 6-digit code is emailed.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = Profile), (status = 422, body = Problem, description = "validation_failed"),
              (status = 409, body = Problem, description = "email_taken or username_taken")))]
pub async fn register(
    State(state): State<AppState>,
    metadata: Metadata,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<Profile>), AppError> {
    let account = body.parse(&state.config)?;
    let profile = accounts::register(&state, account, metadata).await?;
    Ok((StatusCode::CREATED, Json(profile)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct VerifyEmailRequest {
    #[schema(value_type = String, required = true)]
    #[serde(default)]
    email: Option<String>,
    #[schema(value_type = String, required = true)]
    #[serde(default)]
    code: Option<String>,
}

/// Verify the email with the emailed code; logs the user in.
#[utoipa::path(post, path = "/auth/verify-email", tag = "auth", request_body = VerifyEmailRequest,
    responses((status = 200, body = TokenPair), (status = 400, body = Problem, description = "invalid_code"),
              (status = 429, body = Problem, description = "too_many_attempts"), (status = 422, body = Problem)))]
pub async fn verify_email(
    State(state): State<AppState>,
    client: ClientInfo,
    metadata: Metadata,
    ApiJson(body): ApiJson<VerifyEmailRequest>,
) -> Result<Response, AppError> {
    let mut fields = Fields::default();
    let email = fields.email("email", body.email.as_deref());
    let code = fields.code("code", body.code.as_deref());
    let (email, code) = fields.finish_with(|| Some((email?, code?)))?;
    let pair = accounts::verify_email(&state, email, &code, client, metadata).await?;
    Ok(tokens(pair))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResendRequest {
    #[schema(value_type = String, required = true)]
    #[serde(default)]
    email: Option<String>,
}

/// Send a new verification code. Same answer whether or not the email exists.
#[utoipa::path(post, path = "/auth/verify-email/resend", tag = "auth", request_body = ResendRequest,
    responses((status = 202, description = "accepted"), (status = 429, body = Problem, description = "rate_limited"),
              (status = 422, body = Problem)))]
pub async fn resend(
    State(state): State<AppState>,
    metadata: Metadata,
    ApiJson(body): ApiJson<ResendRequest>,
) -> Result<StatusCode, AppError> {
    let mut fields = Fields::default();
    let email = fields.email("email", body.email.as_deref());
    let email = fields.finish_with(|| email)?;
    accounts::resend_verification(&state, email, metadata).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    /// Username or email.
    #[schema(value_type = String, required = true)]
    #[serde(default)]
    identifier: Option<String>,
    #[schema(value_type = String, required = true)]
    #[serde(default)]
    password: Option<String>,
}

/// Log in with username or email and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    description = "With a second factor on, the answer is `mfa_required: true` and an `mfa_token` for `POST /auth/mfa` instead of tokens.",
    responses((status = 200, body = SignedIn), (status = 401, body = Problem, description = "invalid_credentials"),
              (status = 403, body = Problem, description = "email_not_verified"), (status = 422, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    metadata: Metadata,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, AppError> {
    let mut fields = Fields::default();
    let identifier = fields.required("identifier", body.identifier.as_deref());
    let password = fields.required("password", body.password.as_deref());
    let (identifier, password) = fields.finish_with(|| Some((identifier?, password?)))?;
    // A malformed identifier cannot match an account: same answer as any miss.
    let identifier = Identifier::parse(&identifier).unwrap_or(Identifier::Username(String::new()));
    let signed_in = accounts::login(&state, identifier, &password, client, metadata).await;
    let pair = crate::instruments::sign_in("password", signed_in)?;
    Ok(tokens(pair))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    #[schema(value_type = String, required = true)]
    #[serde(default)]
    refresh_token: Option<String>,
}

/// Exchange a refresh token for a new pair (the old token is rotated out).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = Problem, description = "invalid_refresh_token"),
              (status = 422, body = Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    metadata: Metadata,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Response, AppError> {
    let mut fields = Fields::default();
    let token = fields.required("refresh_token", body.refresh_token.as_deref());
    let token = fields.finish_with(|| token)?;
    let pair = accounts::refresh(&state, &token, metadata).await?;
    Ok(tokens(pair))
}

/// End the session of this refresh token. Idempotent.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "logged out"), (status = 422, body = Problem, description = "malformed token")))]
pub async fn logout(
    State(state): State<AppState>,
    metadata: Metadata,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<StatusCode, AppError> {
    let mut fields = Fields::default();
    let token = fields.refresh_token("refresh_token", body.refresh_token.as_deref());
    let token = fields.finish_with(|| token)?;
    accounts::logout(&state, token, metadata).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of the caller.
#[utoipa::path(post, path = "/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "all sessions revoked"), (status = 401, body = Problem)))]
pub async fn logout_all(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
) -> Result<StatusCode, AppError> {
    accounts::logout_all(&state, claims.sub, metadata).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's open sessions.
#[utoipa::path(get, path = "/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [SessionView]), (status = 401, body = Problem)))]
pub async fn sessions(
    State(state): State<AppState>,
    AuthUser(claims): AuthUser,
) -> Result<Json<Vec<SessionView>>, AppError> {
    Ok(Json(
        accounts::list_sessions(&state, claims.sub, claims.sid).await?,
    ))
}

/// End one of the caller's own sessions.
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "auth", params(("id" = Uuid, Path)), security(("bearer" = [])),
    description = "Its refresh token fails from then on, its access tokens at once; the caller's current session goes on (unless it is the one ended). Someone else's session is 404.",
    responses((status = 204, description = "ended"), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn end_session(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<StatusCode, AppError> {
    accounts::end_session(&state, claims.sub, id, metadata).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl Fields {
    fn refresh_token(&mut self, field: &str, raw: Option<&str>) -> Option<RefreshToken> {
        let raw = self.required(field, raw)?;
        let token = RefreshToken::parse(&raw);
        if token.is_none() {
            self.push(
                field,
                "malformed",
                "not a refresh token issued by this service",
            );
        }
        token
    }
}

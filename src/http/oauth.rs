//! OAuth endpoints, outside `/api/v1`: the token endpoint (RFC 6749 4.1.3
//! and 6), token introspection (RFC 7662), token revocation (RFC 7009),
//! and the discovery document of the OpenID provider they make with the
//! sign-in page of `/oauth/authorize` (`http::authorize`).
//!
//! Choices where the RFCs leave them, as Keycloak and ZITADEL make them:
//! - The token endpoint offers `authorization_code` to registered clients
//!   (their secret by HTTP basic or in the form, and the PKCE verifier;
//!   `accounts::oauth`) and `refresh_token` to anyone holding one (public
//!   clients have no secret; as `/api/v1/auth/refresh`); a code or refresh
//!   token that cannot be used is `invalid_grant`.
//! - Introspection is for services: a Bearer access token with the
//!   `service` role, or HTTP basic auth with a client registered by
//!   `identity clients add` (`oauth_clients`). Anything else is 401 with
//!   `WWW-Authenticate`. It answers
//!   for access tokens; a token that is not a valid access token of a live
//!   session of an active account (expired, of an ended session, of an
//!   account an admin locked or that was deactivated, a refresh token, or
//!   not a token at all) is exactly `{"active": false}`.
//! - Revocation needs no client authentication: holding the token is the
//!   proof, as for logout (public clients have no secret). A refresh token
//!   ends its session; so does a valid access token (the session it was
//!   issued for, with every token of it). Anything else is 200, as RFC 7009
//!   says, so the endpoint tells nothing about unknown tokens.
//! - Errors follow RFC 6749 section 5.2 (`{"error", "error_description"}`),
//!   not the problem format of `/api/v1`, so OAuth libraries read them.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;

use crate::auth::jwt::AccessClaims;
use crate::auth::refresh_tokens::RefreshToken;
use crate::state::AppState;
use crate::store::{Metadata, StoreError};

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![token, introspect, revoke, discovery]
}

/// An error in the shape of RFC 6749 section 5.2.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_token`, `invalid_grant`,
    /// `unsupported_grant_type` or `server_error`.
    error: &'static str,
    error_description: String,
    #[serde(skip)]
    status: StatusCode,
}

impl OAuthError {
    fn invalid_request(description: impl Into<String>) -> Self {
        Self {
            error: "invalid_request",
            error_description: description.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    /// A refresh token that cannot be used, or a grant this endpoint does
    /// not offer (RFC 6749 5.2).
    fn grant(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    /// For a caller without a valid `service` token (RFC 7662 2.3,
    /// RFC 6750 3).
    fn unauthorized() -> Self {
        Self {
            error: "invalid_token",
            error_description: "a Bearer access token with the service role, or a registered client's HTTP basic credentials, is required".into(),
            status: StatusCode::UNAUTHORIZED,
        }
    }

    /// A protected resource's answer to a missing or dead access token
    /// (RFC 6750 3.1), for `/oauth/userinfo`.
    pub(super) fn invalid_token() -> Self {
        Self {
            error: "invalid_token",
            error_description: "a live access token is required".into(),
            status: StatusCode::UNAUTHORIZED,
        }
    }

    /// A token request whose client did not authenticate (RFC 6749 5.2).
    fn invalid_client() -> Self {
        Self {
            error: "invalid_client",
            error_description: "a registered client's credentials are required, by HTTP basic or as client_id and client_secret".into(),
            status: StatusCode::UNAUTHORIZED,
        }
    }

    pub(super) fn server_error(error: &crate::error::AppError) -> Self {
        tracing::error!(error = %crate::telemetry::Chain(error), "an OAuth request failed");
        Self {
            error: "server_error",
            error_description: "the request could not be completed; retry later".into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (status, Json(self)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            for challenge in [
                r#"Bearer error="invalid_token""#,
                r#"Basic realm="identity""#,
            ] {
                response.headers_mut().append(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static(challenge),
                );
            }
        }
        response
    }
}

/// The form both endpoints read (`application/x-www-form-urlencoded`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenForm {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    token: Option<String>,
    /// `access_token` or `refresh_token`; only a hint (RFC 7009 2.1).
    #[serde(default)]
    token_type_hint: Option<String>,
}

impl TokenForm {
    fn token(form: Result<Form<Self>, FormRejection>) -> Result<String, OAuthError> {
        let Form(form) =
            form.map_err(|rejection| OAuthError::invalid_request(rejection.body_text()))?;
        let _hint = form.token_type_hint;
        form.token
            .filter(|token| !token.trim().is_empty())
            .ok_or_else(|| OAuthError::invalid_request("the token parameter is required"))
    }
}

/// The token endpoint's form (RFC 6749 4.1.3 and 6).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// `authorization_code` or `refresh_token`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    grant_type: Option<String>,
    /// For `refresh_token`.
    #[serde(default)]
    refresh_token: Option<String>,
    /// For `authorization_code`: the code, the request's `redirect_uri`,
    /// the PKCE `code_verifier`.
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    code_verifier: Option<String>,
    /// The client's credentials, when not given by HTTP basic.
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

/// Tokens for an authorization code (RFC 6749 4.1.3, with an ID token by
/// OpenID Connect Core 3.1.3), or a new pair for a refresh token (RFC
/// 6749 section 6, as `/api/v1/auth/refresh` gives), in OAuth's form and
/// error shape.
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    security((), ("basic" = [])),
    description = "`authorization_code`: a registered client (HTTP basic, or `client_id` and `client_secret` in the form) trades the code of `/oauth/authorize` with its `redirect_uri` and PKCE `code_verifier` for an access token, a refresh token and (scope `openid`) an ID token; a code works once, and a second use ends the session it began. `refresh_token`: the same rotation, reuse detection and grace as `/api/v1/auth/refresh`, no client authentication (public clients have no secret).",
    responses((status = 200, body = crate::accounts::oauth::CodeTokens, description = "tokens; a presented code or refresh token is used up"),
              (status = 400, body = OAuthError, description = "invalid_request, unsupported_grant_type or invalid_grant"),
              (status = 401, body = OAuthError, description = "invalid_client (authorization_code only)")))]
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    metadata: Metadata,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return OAuthError::invalid_request("a form-encoded body is required").into_response();
    };
    match form.grant_type.as_deref() {
        Some("refresh_token") => refresh_grant(&state, form, metadata).await,
        Some("authorization_code") => code_grant(&state, &headers, form, metadata).await,
        Some(_) => OAuthError::grant(
            "unsupported_grant_type",
            "authorization_code and refresh_token are offered",
        )
        .into_response(),
        None => OAuthError::invalid_request("the grant_type parameter is required").into_response(),
    }
}

async fn refresh_grant(state: &AppState, form: TokenRequest, metadata: Metadata) -> Response {
    let Some(refresh_token) = form.refresh_token.filter(|t| !t.trim().is_empty()) else {
        return OAuthError::invalid_request("the refresh_token parameter is required")
            .into_response();
    };
    match crate::accounts::refresh(state, refresh_token.trim(), metadata).await {
        Ok(pair) => super::accounts::tokens(pair),
        Err(error) => grant_failed(error, "the refresh token"),
    }
}

async fn code_grant(
    state: &AppState,
    headers: &HeaderMap,
    form: TokenRequest,
    metadata: Metadata,
) -> Response {
    use crate::accounts::oauth::ExchangeError;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let in_form = form.client_id.as_deref().zip(form.client_secret.as_deref());
    let client =
        match crate::oauth_clients::authenticated_client(&state.db, authorization, in_form).await {
            Ok(client) => client,
            Err(error) => return OAuthError::server_error(&error.into()).into_response(),
        };
    let Some(code) = form.code.filter(|c| !c.trim().is_empty()) else {
        return OAuthError::invalid_request("the code parameter is required").into_response();
    };
    let exchanged = crate::accounts::oauth::exchange(
        state,
        client,
        code.trim(),
        form.redirect_uri.as_deref(),
        form.code_verifier.as_deref(),
        metadata,
    )
    .await;
    match exchanged {
        Ok(tokens) => super::accounts::tokens(tokens),
        Err(ExchangeError::InvalidClient) => OAuthError::invalid_client().into_response(),
        Err(ExchangeError::InvalidGrant(why)) => {
            OAuthError::grant("invalid_grant", why).into_response()
        }
        Err(ExchangeError::App(error)) => grant_failed(error, "the code"),
    }
}

/// A grant the use case refused, in RFC 6749's shape.
fn grant_failed(error: crate::error::AppError, what: &str) -> Response {
    match error.status_and_code() {
        (status, _) if status.is_server_error() => OAuthError::server_error(&error).into_response(),
        // 429 keeps its status and headers: a client must back off.
        (StatusCode::TOO_MANY_REQUESTS, _) => error.into_response(),
        (_, code) => OAuthError::grant("invalid_grant", format!("{what} cannot be used ({code})"))
            .into_response(),
    }
}

/// What introspection tells about a token (RFC 7662 2.2).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Introspection {
    active: bool,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    claims: Option<Value>,
}

/// Whether an access token is active, and its claims (RFC 7662).
#[utoipa::path(post, path = "/oauth/introspect", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security(("bearer" = []), ("basic" = [])),
    description = "For services: a Bearer token with the `service` role, or HTTP basic auth with a client registered by `identity clients add`. An access token of a live session of an active account answers `active: true` with its claims; any other string answers exactly `{\"active\": false}`.",
    responses((status = 200, body = Introspection), (status = 400, body = OAuthError, description = "invalid_request"),
              (status = 401, body = OAuthError, description = "invalid_token: no service token or registered client")))]
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    match is_service(&state, &headers).await {
        Ok(true) => {}
        Ok(false) => return OAuthError::unauthorized().into_response(),
        Err(error) => return OAuthError::server_error(&error.into()).into_response(),
    }
    let token = match TokenForm::token(form) {
        Ok(token) => token,
        Err(error) => return error.into_response(),
    };
    let answer = match live_claims(&state, &token) {
        Some(claims) => {
            let mut claims = serde_json::to_value(&claims).unwrap_or_default();
            if let Some(object) = claims.as_object_mut() {
                object.insert("token_type".into(), json!("Bearer"));
                object.insert("client_id".into(), json!(state.config.audience));
            }
            Introspection {
                active: true,
                claims: Some(claims),
            }
        }
        None => Introspection {
            active: false,
            claims: None,
        },
    };
    Json(answer).into_response()
}

/// The claims of `token` if it is an access token still good for use:
/// signature, issuer, audience and expiry, then the revocation check.
pub(super) fn live_claims(state: &AppState, token: &str) -> Option<AccessClaims> {
    let claims = state.tokens.verify(token.trim()).ok()?;
    state.revocations.check(&claims).ok()?;
    Some(claims)
}

/// A live access token with the `service` role, or a registered client's
/// basic credentials.
async fn is_service(state: &AppState, headers: &HeaderMap) -> Result<bool, StoreError> {
    let Some(authorization) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(false);
    };
    match super::extract::bearer_token(authorization) {
        Some(token) => Ok(live_claims(state, token)
            .is_some_and(|claims| claims.roles.iter().any(|role| role == "service"))),
        None => crate::oauth_clients::authenticate(&state.db, authorization).await,
    }
}

/// Revoke a refresh or access token: its session ends (RFC 7009).
#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    description = "Holding the token is the proof (as for logout). A refresh token, or an access token, ends its session and every token of it at once. An unknown, expired or already revoked token answers 200 too (RFC 7009 2.2).",
    responses((status = 200, description = "revoked, or nothing to revoke"), (status = 400, body = OAuthError, description = "invalid_request")))]
pub async fn revoke(
    State(state): State<AppState>,
    metadata: Metadata,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let token = match TokenForm::token(form) {
        Ok(token) => token,
        Err(error) => return error.into_response(),
    };
    let revoked = if let Some(refresh) = RefreshToken::parse(&token) {
        crate::accounts::logout(&state, refresh, metadata).await
    } else if let Some(claims) = live_claims(&state, &token) {
        crate::accounts::end_session(&state, claims.sub, claims.sid, metadata).await
    } else {
        Ok(())
    };
    match revoked {
        Ok(()) | Err(crate::error::AppError::NotFound) => StatusCode::OK.into_response(),
        Err(error) => OAuthError::server_error(&error).into_response(),
    }
}

/// The discovery document (OpenID Connect Discovery 1.0 / RFC 8414).
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oauth",
    description = "The OpenID provider's metadata: the authorization, token, introspection and revocation endpoints, the keys, and what the tokens hold.",
    responses((status = 200, body = Object, description = "the provider's metadata")))]
pub async fn discovery(State(state): State<AppState>) -> Response {
    // `issuer` is the tokens' `iss` exactly; the URLs are built on it.
    let issuer = state.config.public_url.trim_end_matches('/');
    let mut response = Json(json!({
        "issuer": state.config.public_url,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "bearer"],
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "revocation_endpoint_auth_methods_supported": ["none"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": crate::accounts::oauth::SCOPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "authorization_response_iss_parameter_supported": true,
        "claims_supported": [
            "iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "jti", "sid", "roles", "amr",
            "preferred_username", "name", "locale", "email", "email_verified",
            "phone_number", "phone_number_verified"
        ],
        "service_documentation": format!("{issuer}/docs"),
    }))
    .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=300"),
    );
    response
}

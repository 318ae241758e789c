//! `/auth/oidc/...` (signing in through an OpenID provider) and
//! `/me/identities/...` (the identities linked to one's account).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;

use super::accounts::tokens;
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser, Caller};
use super::problem::Problem;
use super::validate::Fields;
use crate::accounts::{self, ClientInfo, LinkedIdentity, SignedIn};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Metadata;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![
        start,
        callback,
        exchange,
        id_token,
        identities,
        link,
        confirm_link,
        unlink
    ]
}

/// The cookie that binds a web sign-in to the browser that started it.
const FLOW_COOKIE: &str = "identity_oidc";

/// `Set-Cookie` of the flow cookie: `value` for the length of a flow, or
/// empty and expired to clear it. Only sent back to the sign-in paths;
/// `Lax`, so the provider's redirect (a top-level GET) carries it.
fn flow_cookie(state: &AppState, value: &str) -> Result<HeaderValue, AppError> {
    let max_age = if value.is_empty() {
        0
    } else {
        crate::oidc::STATE_TTL.as_secs()
    };
    let secure = if state.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{FLOW_COOKIE}={value}; Path=/api/v1/auth/oidc; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .map_err(AppError::internal)
}

/// The flow cookie the browser sent, if any.
fn browser_of(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == FLOW_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// A 302 to `location`, never cached (it carries a one-time code or state).
fn found(location: &str) -> Result<Response, AppError> {
    let location = HeaderValue::from_str(location).map_err(AppError::internal)?;
    let mut response = StatusCode::FOUND.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Debug, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
pub struct StartParams {
    /// The client's page to come back to; one of `IDENTITY_OIDC_REDIRECT_URIS`.
    redirect_uri: Option<String>,
}

fn redirect_uri(raw: Option<String>) -> Result<String, AppError> {
    let mut fields = Fields::default();
    let uri = fields.required("redirect_uri", raw.as_deref());
    fields.finish_with(|| uri)
}

/// Start a web sign-in at the provider: a redirect to it.
#[utoipa::path(get, path = "/auth/oidc/{provider}/start", tag = "auth", params(("provider" = String, Path, description = "e.g. `google`"), StartParams),
    description = "Authorization code flow with PKCE (S256), `state` and `nonce`. The provider sends the browser to `IDENTITY_PUBLIC_URL/api/v1/auth/oidc/{provider}/callback`; the state is single use and lasts 10 minutes.",
    responses((status = 302, description = "to the provider's authorization endpoint"),
              (status = 404, body = Problem, description = "no such provider is configured"),
              (status = 422, body = Problem, description = "redirect_uri missing or not allowed"),
              (status = 503, body = Problem, description = "provider_unavailable")))]
pub async fn start(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    ApiQuery(params): ApiQuery<StartParams>,
) -> Result<Response, AppError> {
    let redirect_uri = redirect_uri(params.redirect_uri)?;
    let started = accounts::oidc::start(&state, &provider, &redirect_uri, None).await?;
    let mut response = found(&started.url)?;
    let cookie = flow_cookie(&state, &started.browser)?;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    /// The provider's refusal (e.g. `access_denied`), instead of `code`:
    /// passed back to the client's `redirect_uri` as `error`.
    error: Option<String>,
}

/// Where the provider sends the browser back: a redirect to the client's
/// `redirect_uri` with a one-time `login_code` (or `linked={provider}`).
#[utoipa::path(get, path = "/auth/oidc/{provider}/callback", tag = "auth", params(("provider" = String, Path), CallbackParams),
    description = "Checks the state (single use, and for a sign-in the browser's `identity_oidc` cookie set by the start), exchanges the code, checks the ID token (signature, `iss`, `aud`, `exp`, `nonce`), then finds or creates the account. Tokens never travel in a URL: the `login_code` lasts 60 s and works once at `POST /auth/oidc/exchange`. A link flow returns a `link_code` for `POST /me/identities/{provider}/confirm`.",
    responses((status = 302, description = "to the client's redirect_uri, with `login_code`, `link_code` or the provider's `error`"),
              (status = 400, body = Problem, description = "invalid_state, invalid_authorization_code or invalid_id_token"),
              (status = 403, body = Problem, description = "provider_email_not_verified"),
              (status = 404, body = Problem), (status = 409, body = Problem, description = "identity_taken (linking)"),
              (status = 422, body = Problem), (status = 503, body = Problem, description = "provider_unavailable")))]
pub async fn callback(
    State(state): State<AppState>,
    metadata: Metadata,
    headers: axum::http::HeaderMap,
    ApiPath(provider): ApiPath<String>,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Result<Response, AppError> {
    let browser = browser_of(&headers);
    let browser = browser.as_deref();
    let mut fields = Fields::default();
    let sealed = fields.required("state", params.state.as_deref());
    let url = if let Some(error) = params.error.filter(|_| params.code.is_none()) {
        let sealed = fields.finish_with(|| sealed)?;
        accounts::oidc::callback_refused(&state, &provider, &sealed, browser, &error).await?
    } else {
        let code = fields.required("code", params.code.as_deref());
        let (code, sealed) = fields.finish_with(|| Some((code?, sealed?)))?;
        accounts::oidc::callback(&state, &provider, &code, &sealed, browser, metadata).await?
    };
    let mut response = found(&url)?;
    let cleared = flow_cookie(&state, "")?;
    response.headers_mut().insert(header::SET_COOKIE, cleared);
    Ok(response)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ExchangeRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    login_code: Option<String>,
}

/// Turn the callback's `login_code` into tokens.
#[utoipa::path(post, path = "/auth/oidc/exchange", tag = "auth", request_body = ExchangeRequest,
    responses((status = 200, body = SignedIn, description = "tokens, or with a second factor on an `mfa_token` for `POST /auth/mfa`"),
              (status = 400, body = Problem, description = "invalid_code: unknown, expired or used"),
              (status = 403, body = Problem, description = "account_deactivated"), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "account_locked")))]
pub async fn exchange(
    State(state): State<AppState>,
    client: ClientInfo,
    metadata: Metadata,
    ApiJson(body): ApiJson<ExchangeRequest>,
) -> Result<Response, AppError> {
    let mut fields = Fields::default();
    let code = fields.required("login_code", body.login_code.as_deref());
    let code = fields.finish_with(|| code)?;
    let signed_in = accounts::oidc::exchange(&state, &code, client, metadata).await;
    Ok(tokens(crate::instruments::sign_in("oidc", signed_in)?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct IdTokenRequest {
    /// An ID token the app obtained from the provider (e.g. Google
    /// Identity Services), for this service's client id.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    id_token: Option<String>,
    /// The nonce the app put in its request to the provider.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    nonce: Option<String>,
}

/// Sign in with an ID token a native app obtained itself.
#[utoipa::path(post, path = "/auth/oidc/{provider}/id-token", tag = "auth", params(("provider" = String, Path)), request_body = IdTokenRequest,
    description = "The ID token is checked as at the callback (signature, `iss`, `aud`, `exp`, `nonce`) and signs in once.",
    responses((status = 200, body = SignedIn, description = "tokens, or with a second factor on an `mfa_token` for `POST /auth/mfa`"),
              (status = 400, body = Problem, description = "invalid_id_token"),
              (status = 403, body = Problem, description = "provider_email_not_verified or account_deactivated"),
              (status = 404, body = Problem), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "account_locked"),
              (status = 503, body = Problem, description = "provider_unavailable")))]
pub async fn id_token(
    State(state): State<AppState>,
    client: ClientInfo,
    metadata: Metadata,
    ApiPath(provider): ApiPath<String>,
    ApiJson(body): ApiJson<IdTokenRequest>,
) -> Result<Response, AppError> {
    let mut fields = Fields::default();
    let token = fields.required("id_token", body.id_token.as_deref());
    let nonce = fields.required("nonce", body.nonce.as_deref());
    let (token, nonce) = fields.finish_with(|| Some((token?, nonce?)))?;
    let signed_in =
        accounts::oidc::sign_in_with_id_token(&state, &provider, &token, &nonce, client, metadata)
            .await;
    Ok(tokens(crate::instruments::sign_in("oidc", signed_in)?))
}

/// The identities at OpenID providers linked to the caller's account.
#[utoipa::path(get, path = "/me/identities", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = Vec<LinkedIdentity>), (status = 401, body = Problem)))]
pub async fn identities(
    State(state): State<AppState>,
    AuthUser(claims): AuthUser,
) -> Result<Json<Vec<LinkedIdentity>>, AppError> {
    Ok(Json(accounts::oidc::identities(&state, claims.sub).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LinkRequest {
    /// The client's page to come back to; one of `IDENTITY_OIDC_REDIRECT_URIS`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    redirect_uri: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorizationUrl {
    /// Send the browser here; it comes back to `redirect_uri` with a
    /// `link_code` for `POST /me/identities/{provider}/confirm`.
    pub authorization_url: String,
}

/// Start linking an identity at `provider` to the caller's account.
#[utoipa::path(post, path = "/me/identities/{provider}", tag = "account", params(("provider" = String, Path)), request_body = LinkRequest, security(("bearer" = [])),
    description = "The same flow as a sign-in, with a link intent: the callback links the identity to the caller's account (409 `identity_taken` if it is another account's, `provider_already_linked` if the account has another identity of this provider).",
    responses((status = 200, body = AuthorizationUrl), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem, description = "redirect_uri missing or not allowed"),
              (status = 503, body = Problem, description = "provider_unavailable")))]
pub async fn link(
    State(state): State<AppState>,
    AuthUser(claims): AuthUser,
    ApiPath(provider): ApiPath<String>,
    ApiJson(body): ApiJson<LinkRequest>,
) -> Result<Json<AuthorizationUrl>, AppError> {
    let redirect_uri = redirect_uri(body.redirect_uri)?;
    let started = accounts::oidc::start(&state, &provider, &redirect_uri, Some(claims.sub)).await?;
    Ok(Json(AuthorizationUrl {
        authorization_url: started.url,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ConfirmLinkRequest {
    /// From the link flow's return to `redirect_uri`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    link_code: Option<String>,
}

/// Finish linking: the person who started the link flow confirms the
/// identity the provider vouched for.
#[utoipa::path(post, path = "/me/identities/{provider}/confirm", tag = "account", params(("provider" = String, Path)), request_body = ConfirmLinkRequest, security(("bearer" = [])),
    description = "The `link_code` lasts 60 s, works once, and only for the account that started the flow: a link flow finished in someone else's browser attaches nothing.",
    responses((status = 200, body = Vec<LinkedIdentity>), (status = 400, body = Problem, description = "invalid_code"),
              (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "identity_taken or provider_already_linked"), (status = 422, body = Problem)))]
pub async fn confirm_link(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiPath(provider): ApiPath<String>,
    ApiJson(body): ApiJson<ConfirmLinkRequest>,
) -> Result<Json<Vec<LinkedIdentity>>, AppError> {
    let mut fields = Fields::default();
    let code = fields.required("link_code", body.link_code.as_deref());
    let code = fields.finish_with(|| code)?;
    accounts::oidc::confirm_link(&state, claims.sub, &provider, &code, metadata).await?;
    Ok(Json(accounts::oidc::identities(&state, claims.sub).await?))
}

/// Unlink the caller's identity at `provider`.
#[utoipa::path(delete, path = "/me/identities/{provider}", tag = "account", params(("provider" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "unlinked"), (status = 401, body = Problem),
              (status = 404, body = Problem, description = "no identity of this provider is linked"),
              (status = 409, body = Problem, description = "last_sign_in_method: no password and no other provider")))]
pub async fn unlink(
    State(state): State<AppState>,
    Caller { claims, metadata }: Caller,
    ApiPath(provider): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    accounts::oidc::unlink(&state, claims.sub, &provider, metadata).await?;
    Ok(StatusCode::NO_CONTENT)
}

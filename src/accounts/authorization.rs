//! The authorization-code grant, as an OpenID provider runs it (RFC 6749
//! 4.1, PKCE by RFC 7636, OpenID Connect Core 3.1): an application sends
//! the browser to `/oauth/authorize`, the person signs in on our page
//! (password, then the second factor if the account has one), the browser
//! goes back to the application with a code, and the application trades
//! the code at `/oauth/token` for an access token, a refresh token and an
//! ID token.
//!
//! Choices where the specifications leave them, as Keycloak, ZITADEL and
//! the OAuth 2.0 Security BCP make them:
//! - PKCE with `S256` is required of every request (OAuth 2.1); `plain` is
//!   refused. Only registered clients, with their secret at the token
//!   endpoint, and only their registered redirect URIs, compared exactly.
//!   A request whose client or redirect URI is not right is never sent
//!   anywhere (an error page instead); any other bad request goes back to
//!   the client with `error` and `state`, as RFC 6749 4.1.2.1 says.
//! - There is no single sign-on cookie: each authorization asks for the
//!   password (`prompt=none` answers `login_required`).
//! - The session starts when the password (and second factor) is right,
//!   as for `/api/v1/auth/login`, so `auth_time` is then. The code is that
//!   session's first refresh token together with what the request bound
//!   (client, redirect URI, PKCE challenge, nonce), sealed with a key of
//!   the server secret: nothing of it is stored, it cannot be read or
//!   forged, it runs out in [`CODE_TTL`], and it is single use through a
//!   one-time token in the codes table. The exchange rotates that refresh
//!   token, so the tokens the application receives are new. A code used a
//!   second time ends its session (RFC 6749 4.1.2: revoke what it gave).
//! - Scopes: `openid` (an ID token), `profile` (`preferred_username`,
//!   `name`, `locale`), `email` (`email`, `email_verified`) and `phone`
//!   (`phone_number`, `phone_number_verified`); other scopes are dropped
//!   from the grant and the answer says which were granted.

use std::time::Duration;

use aggregates::session::RevocationReason;
use aggregates::SessionCommand;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::TokenPair;
use crate::auth::codes::CodePurpose;
use crate::error::AppError;
use crate::oidc::Expiring;
use crate::state::AppState;
use crate::store::Metadata;

/// How long the sign-in page may stay open.
pub const REQUEST_TTL: Duration = Duration::from_secs(600);

/// How long a code may wait for its exchange.
pub const CODE_TTL: Duration = Duration::from_secs(60);

/// The scopes a grant can hold; others are dropped.
pub const SCOPES: [&str; 4] = ["openid", "profile", "email", "phone"];

/// Longest `state` and `nonce` taken (they come back verbatim).
const MAX_ECHO: usize = 512;

/// The raw query of `GET /oauth/authorize`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeParams {
    /// `code`.
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    /// One of the client's registered redirect URIs, exactly.
    pub redirect_uri: Option<String>,
    /// Space-separated; `openid` for an ID token.
    pub scope: Option<String>,
    /// Returned to the client unchanged.
    pub state: Option<String>,
    /// Put into the ID token unchanged.
    pub nonce: Option<String>,
    /// BASE64URL(SHA-256(code_verifier)), 43 characters.
    pub code_challenge: Option<String>,
    /// `S256`.
    pub code_challenge_method: Option<String>,
    /// `none` answers `login_required` (there is no sign-in cookie).
    pub prompt: Option<String>,
}

/// A checked authorization request, sealed into the sign-in page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub expires_at: DateTime<Utc>,
}

impl Expiring for AuthorizationRequest {
    fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
}

/// What a code holds (sealed; see the module doc).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizationCode {
    /// The one-time token's subject and value (single use).
    id: Uuid,
    token: String,
    client_id: String,
    redirect_uri: String,
    scope: Vec<String>,
    nonce: Option<String>,
    code_challenge: String,
    user_id: Uuid,
    session_id: Uuid,
    amr: Vec<String>,
    auth_time: i64,
    refresh_token: String,
    expires_at: DateTime<Utc>,
}

impl Expiring for AuthorizationCode {
    fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
}

/// Why an authorization request is refused.
#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or redirect URI is not right: nowhere safe to send the
    /// browser, so the page says it (RFC 6749 4.1.2.1).
    NotRedirectable(&'static str),
    /// Sent back to the client's redirect URI as `error`.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: &'static str,
    },
    Store(AppError),
}

/// Checks `GET /oauth/authorize`'s query.
pub async fn check_request(
    state: &AppState,
    params: AuthorizeParams,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let client_id = params
        .client_id
        .ok_or(AuthorizeError::NotRedirectable("client_id is missing"))?;
    let client = state
        .db
        .client(&client_id)
        .await
        .map_err(|e| AuthorizeError::Store(e.into()))?
        .ok_or(AuthorizeError::NotRedirectable(
            "the client is not registered",
        ))?;
    let redirect_uri = params
        .redirect_uri
        .ok_or(AuthorizeError::NotRedirectable("redirect_uri is missing"))?;
    if !client.redirect_uris.0.contains(&redirect_uri) {
        return Err(AuthorizeError::NotRedirectable(
            "redirect_uri is not one the client registered",
        ));
    }
    let client_state = params.state.filter(|s| !s.is_empty());
    let refuse = |error, description| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: client_state.clone(),
        error,
        description,
    };
    if client_state.as_ref().is_some_and(|s| s.len() > MAX_ECHO) {
        return Err(refuse("invalid_request", "state is too long"));
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type is missing")),
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only the code response type is offered",
            ))
        }
    }
    let challenge = params.code_challenge.unwrap_or_default();
    let s256 = params.code_challenge_method.as_deref() == Some("S256");
    if !s256 || challenge.len() != 43 || URL_SAFE_NO_PAD.decode(&challenge).is_err() {
        return Err(refuse(
            "invalid_request",
            "PKCE is required: code_challenge (43 characters) with code_challenge_method S256",
        ));
    }
    let nonce = params.nonce.filter(|n| !n.is_empty());
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_ECHO) {
        return Err(refuse("invalid_request", "nonce is too long"));
    }
    if params
        .prompt
        .as_deref()
        .is_some_and(|p| p.split(' ').any(|p| p == "none"))
    {
        return Err(refuse(
            "login_required",
            "every authorization asks for sign-in",
        ));
    }
    let scope = granted_scopes(params.scope.as_deref().unwrap_or(""));
    Ok(AuthorizationRequest {
        client_id,
        redirect_uri,
        scope,
        state: client_state,
        nonce,
        code_challenge: challenge,
        expires_at: Utc::now() + super::sessions::span(REQUEST_TTL),
    })
}

/// The known scopes of `requested`, each once, in [`SCOPES`] order.
fn granted_scopes(requested: &str) -> Vec<String> {
    let asked: Vec<&str> = requested.split(' ').collect();
    SCOPES
        .iter()
        .filter(|scope| asked.contains(scope))
        .map(|scope| (*scope).to_owned())
        .collect()
}

/// The sign-in page's copy of `request`, which only this server can open.
pub fn seal_request(state: &AppState, request: &AuthorizationRequest) -> String {
    state.oidc_states.seal(request)
}

/// The request a sign-in page posted back, if it is ours and not expired.
pub fn open_request(state: &AppState, sealed: &str) -> Option<AuthorizationRequest> {
    state.oidc_states.open(sealed, Utc::now())
}

/// Where the browser goes once `pair` signed in for `request`: the
/// redirect URI with the code and the client's state (and `iss`, RFC 9207).
pub async fn grant(
    state: &AppState,
    request: AuthorizationRequest,
    pair: TokenPair,
    amr: Vec<String>,
    user_id: Uuid,
) -> Result<String, AppError> {
    let id = Uuid::new_v4();
    let token = state
        .codes
        .issue_token(CodePurpose::AuthorizationCode, &id.to_string(), "")
        .await?;
    let code = AuthorizationCode {
        id,
        token: token.expose().to_owned(),
        client_id: request.client_id,
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope,
        nonce: request.nonce,
        code_challenge: request.code_challenge,
        user_id,
        session_id: pair.session_id,
        amr,
        auth_time: Utc::now().timestamp(),
        refresh_token: pair.refresh_token,
        expires_at: Utc::now() + super::sessions::span(CODE_TTL),
    };
    let sealed = state.oidc_states.seal(&code);
    Ok(back_to_client(
        state,
        &request.redirect_uri,
        &[("code", &sealed)],
        request.state.as_deref(),
    ))
}

/// `redirect_uri` with `pairs`, the client's `state` and our `iss`.
pub fn back_to_client(
    state: &AppState,
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    client_state: Option<&str>,
) -> String {
    // Registered URIs were parsed when registered.
    let Ok(mut url) = reqwest::Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if let Some(client_state) = client_state {
            query.append_pair("state", client_state);
        }
        query.append_pair("iss", state.tokens.issuer());
    }
    url.to_string()
}

/// What `/oauth/token` gives for a code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeTokens {
    #[serde(flatten)]
    pub pair: TokenPair,
    /// Present when the grant holds `openid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The granted scopes, space-separated.
    pub scope: String,
}

/// Why a code cannot be exchanged (RFC 6749 5.2).
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    InvalidGrant(&'static str),
    #[error(transparent)]
    App(#[from] AppError),
}

/// The ID token's claims (OpenID Connect Core 2 and 5.1).
#[derive(Debug, Serialize)]
struct IdTokenClaims {
    iss: String,
    sub: Uuid,
    aud: String,
    azp: String,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    sid: Uuid,
    amr: Vec<String>,
    #[serde(flatten)]
    profile: serde_json::Map<String, serde_json::Value>,
}

/// `grant_type=authorization_code`: `code` for tokens, for the client
/// `client_id` authenticated as, with the `redirect_uri` of the request and
/// the PKCE `verifier`.
pub async fn exchange(
    state: &AppState,
    client_id: Option<String>,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    metadata: Metadata,
) -> Result<CodeTokens, ExchangeError> {
    let client_id = client_id.ok_or(ExchangeError::InvalidClient)?;
    let code: AuthorizationCode =
        state
            .oidc_states
            .open(code, Utc::now())
            .ok_or(ExchangeError::InvalidGrant(
                "the code is not valid or has expired",
            ))?;
    if code.client_id != client_id {
        return Err(ExchangeError::InvalidGrant(
            "the code was issued to another client",
        ));
    }
    if redirect_uri != Some(code.redirect_uri.as_str()) {
        return Err(ExchangeError::InvalidGrant(
            "redirect_uri is not the one of the authorization request",
        ));
    }
    if !pkce_matches(verifier.unwrap_or(""), &code.code_challenge) {
        return Err(ExchangeError::InvalidGrant("code_verifier does not match"));
    }
    let spent = state
        .codes
        .consume(
            CodePurpose::AuthorizationCode,
            &code.id.to_string(),
            &code.token,
        )
        .await;
    if spent.is_err() {
        revoke_for_reuse(state, &code, metadata).await?;
        return Err(ExchangeError::InvalidGrant("the code was already used"));
    }
    let pair = super::refresh(state, &code.refresh_token, metadata).await?;
    let id_token = if code.scope.iter().any(|s| s == "openid") {
        Some(id_token(state, &code, &client_id).await?)
    } else {
        None
    };
    Ok(CodeTokens {
        pair,
        id_token,
        scope: code.scope.join(" "),
    })
}

/// RFC 7636 4.6: BASE64URL(SHA-256(verifier)) is the challenge; the
/// verifier is 43 to 128 unreserved characters.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// A second use of a code ends the session it began.
async fn revoke_for_reuse(
    state: &AppState,
    code: &AuthorizationCode,
    metadata: Metadata,
) -> Result<(), AppError> {
    tracing::warn!(session_id = %code.session_id, "authorization code reused; session revoked");
    let command = SessionCommand::RevokeSession {
        reason: RevocationReason::RefreshTokenReuse,
        at: Utc::now(),
    };
    let id = code.session_id.to_string();
    let committed = state.sessions.execute(&id, command, &metadata).await?;
    super::settle(state, committed.cursor).await;
    Ok(())
}

/// The ID token of `code`'s sign-in, with the claims its scopes grant.
async fn id_token(
    state: &AppState,
    code: &AuthorizationCode,
    client_id: &str,
) -> Result<String, AppError> {
    let scopes: Vec<&str> = code.scope.iter().map(String::as_str).collect();
    let profile = profile_claims(state, code.user_id, &scopes).await?;
    let now = Utc::now().timestamp();
    let claims = IdTokenClaims {
        iss: state.tokens.issuer().to_owned(),
        sub: code.user_id,
        aud: client_id.to_owned(),
        azp: client_id.to_owned(),
        exp: now + state.tokens.ttl().as_secs() as i64,
        iat: now,
        auth_time: code.auth_time,
        nonce: code.nonce.clone(),
        sid: code.session_id,
        amr: code.amr.clone(),
        profile,
    };
    // RS256: what OpenID Connect requires of every provider, and what
    // relying parties expect unless they registered another algorithm.
    state
        .tokens
        .sign(&claims, jsonwebtoken::Algorithm::RS256)
        .map_err(AppError::internal)
}

/// The standard claims (OpenID Connect Core 5.1) of `user_id` that
/// `scopes` grant: `profile` (`preferred_username`, `name`, `locale`),
/// `email` (`email`, `email_verified`), `phone` (`phone_number`,
/// `phone_number_verified`).
pub async fn profile_claims(
    state: &AppState,
    user_id: Uuid,
    scopes: &[&str],
) -> Result<serde_json::Map<String, serde_json::Value>, AppError> {
    let mut claims = serde_json::Map::new();
    let wants = |scope: &str| scopes.contains(&scope);
    if !(wants("profile") || wants("email") || wants("phone")) {
        return Ok(claims);
    }
    let me = super::cached_profile(state, user_id).await?;
    if wants("profile") {
        claims.insert("preferred_username".into(), me.username.clone().into());
        if let Some(name) = &me.display_name {
            claims.insert("name".into(), name.clone().into());
        }
        if let Some(locale) = &me.locale {
            claims.insert("locale".into(), locale.clone().into());
        }
    }
    if wants("email") {
        claims.insert("email".into(), me.email.clone().into());
        claims.insert("email_verified".into(), me.email_verified.into());
    }
    if let (true, Some(phone)) = (wants("phone"), &me.phone) {
        claims.insert("phone_number".into(), phone.clone().into());
        claims.insert("phone_number_verified".into(), me.phone_verified.into());
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_takes_the_verifier_whose_s256_is_the_challenge() {
        // The challenge computed apart, with Python's hashlib and base64.
        let verifier = "dBjftJeZ4CVP-mJ92K5JeWJ9Ycv3tZ7LTb0wKqJXUOw";
        let challenge = "FSVuHXTb7ty2ue25pEGPlSjDmR2O-6fbaZoeDZJfTTE";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mJ92K5JeWJ9Ycv3tZ7LTb0wKqJXUOx",
            challenge
        ));
        assert!(!pkce_matches("short", challenge));
        assert!(!pkce_matches(&format!("{verifier}!"), challenge));
    }

    #[test]
    fn only_known_scopes_are_granted_each_once() {
        assert_eq!(
            granted_scopes("email openid openid admin"),
            vec!["openid".to_owned(), "email".to_owned()]
        );
        assert!(granted_scopes("").is_empty());
    }
}

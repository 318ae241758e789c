//! Extractors that turn requests into trusted values, failing with our
//! problem responses instead of axum's plain-text rejections.

use aggregates::user::Role;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::request_context::current_request_id;
use crate::accounts::ClientInfo;
use crate::auth::AccessClaims;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{Actor, Metadata};

/// A JSON body; malformed JSON, wrong types, a missing content type, an
/// oversized body or a NUL character in any string become 4xx problems.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let value = match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => value,
            Err(rejection) => return Err(json_problem(rejection)),
        };
        if let Some(field) = super::text::nul_in_json(&value) {
            return Err(super::text::nul_problem(&field));
        }
        serde_json::from_value(value).map(Self).map_err(|e| {
            AppError::Validation(vec![crate::error::FieldError::new(
                "body",
                "invalid_type",
                e.to_string(),
            )])
        })
    }
}

/// Path parameters; a value that does not parse (a malformed id) or holds a
/// NUL character is 400 `invalid_path`, as a problem document.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        if super::text::nul_in_path(parts.uri.path()) {
            return Err(AppError::BadRequest {
                code: "invalid_path",
                detail: "the path contains a NUL character".to_owned(),
            });
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(AppError::BadRequest {
                code: "invalid_path",
                detail: rejection.body_text(),
            }),
        }
    }
}

/// Query parameters; a value of the wrong type or with a NUL character is a
/// 422 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let raw = parts.uri.query().unwrap_or_default();
        if let Some(field) = super::text::nul_in_query(raw) {
            return Err(super::text::nul_problem(&field));
        }
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Self)
            .map_err(|error| {
                let field = error.path().to_string();
                let field = if field == "." {
                    "query".to_owned()
                } else {
                    field
                };
                AppError::Validation(vec![crate::error::FieldError::new(
                    &field,
                    "invalid",
                    error.into_inner().to_string(),
                )])
            })
    }
}

fn json_problem(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(e) => AppError::BadRequest {
            code: "malformed_json",
            detail: e.body_text(),
        },
        JsonRejection::JsonDataError(e) => {
            AppError::Validation(vec![crate::error::FieldError::new(
                "body",
                "invalid_type",
                e.body_text(),
            )])
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
        other => AppError::BadRequest {
            code: "unreadable_body",
            detail: other.body_text(),
        },
    }
}

/// The token of an `Authorization` header's value in the Bearer scheme.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))
}

/// The caller of a Bearer-protected endpoint: a verified access token.
pub struct AuthUser(pub AccessClaims);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .ok_or(AppError::Unauthorized)?;
        let claims = state
            .tokens
            .verify(token.trim())
            .map_err(|_| AppError::Unauthorized)?;
        // A valid signature is not enough: the session may have ended or
        // the account been blocked since (an in-memory lookup, no query).
        if !state.config.bench_skip_revocation_check {
            state
                .revocations
                .check(&claims)
                .map_err(|_| AppError::TokenRevoked)?;
        }
        Ok(Self(claims))
    }
}

/// The client's IP as a string, by the trusted-proxy rule.
fn client_ip(parts: &Parts, state: &AppState) -> Option<String> {
    let peer = super::rate_limit::peer(&parts.extensions);
    super::rate_limit::client_ip(&parts.headers, peer, state.config.trusted_proxy_hops)
        .map(|ip| ip.to_string())
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        Ok(Self {
            user_agent,
            ip: client_ip(parts, state),
        })
    }
}

impl FromRequestParts<AppState> for Metadata {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Ok(Self {
            request_id: current_request_id(),
            ip: client_ip(parts, state),
            // The command's span, once it runs (`Metadata::traced`).
            ..Metadata::default()
        })
    }
}

/// A Bearer-authenticated caller and their request's metadata, with the
/// caller as its actor: what a handler acting on one's own account needs.
pub struct Caller {
    pub claims: AccessClaims,
    pub metadata: Metadata,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let AuthUser(claims) = AuthUser::from_request_parts(parts, state).await?;
        let mut metadata = Metadata::from_request_parts(parts, state).await?;
        metadata.actor = Some(crate::store::Actor::User(claims.sub));
        Ok(Self { claims, metadata })
    }
}

/// A set of roles any one of which grants access to a route.
pub trait RoleSet: Send + Sync + 'static {
    const ROLES: &'static [Role];
}

/// Role `admin`.
pub struct Admin;
impl RoleSet for Admin {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// Role `influencer`: managing one's own referral codes.
pub struct InfluencerRole;
impl RoleSet for InfluencerRole {
    const ROLES: &'static [Role] = &[Role::Influencer];
}

/// Role `service`: other services reporting conversions.
pub struct Service;
impl RoleSet for Service {
    const ROLES: &'static [Role] = &[Role::Service];
}

/// Role `auditor` or `admin`: reading account histories.
pub struct AuditorOrAdmin;
impl RoleSet for AuditorOrAdmin {
    const ROLES: &'static [Role] = &[Role::Auditor, Role::Admin];
}

/// Role `service` or `auditor`: reading the event feed.
pub struct ServiceOrAuditor;
impl RoleSet for ServiceOrAuditor {
    const ROLES: &'static [Role] = &[Role::Service, Role::Auditor];
}

/// Guards a route: no, bad or revoked token is 401, a token without one of
/// `R`'s roles is 403. Roles come from the access token, so a role change
/// takes effect at the next refresh.
pub struct RequireRole<R: RoleSet>(pub AccessClaims, std::marker::PhantomData<R>);

impl<R: RoleSet> FromRequestParts<AppState> for RequireRole<R> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let AuthUser(claims) = AuthUser::from_request_parts(parts, state).await?;
        if claims
            .roles
            .iter()
            .any(|role| R::ROLES.iter().any(|r| r.as_str() == role))
        {
            Ok(Self(claims, std::marker::PhantomData))
        } else {
            Err(AppError::Forbidden)
        }
    }
}

impl<R: RoleSet> RequireRole<R> {
    /// Event metadata naming the caller as the actor.
    pub fn actor_metadata(&self, mut metadata: Metadata) -> Metadata {
        metadata.actor = Some(Actor::User(self.0.sub));
        metadata
    }
}

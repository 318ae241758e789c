//! The one mapping from `AppError` to HTTP: `application/problem+json`
//! (RFC 9457) with a stable `code` and the request id.

use std::any::Any;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::request_context::current_request_id;
use crate::error::{AppError, FieldError};
use crate::telemetry::Chain;

/// The error body of every endpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`urn:identity:problem:<code>`).
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code.
    pub code: &'static str,
    pub request_id: Option<String>,
    /// Field errors, for `validation_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl AppError {
    pub(crate) fn status_and_code(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::Validation(_) => (S::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::BadRequest { code, .. } => (S::BAD_REQUEST, code),
            Self::Conflict { code, .. } => (S::CONFLICT, code),
            Self::Unprocessable { code, .. } => (S::UNPROCESSABLE_ENTITY, code),
            Self::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::HeadersTooLarge => (S::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large"),
            Self::UnsupportedMediaType => (S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Self::EmailTaken => (S::CONFLICT, "email_taken"),
            Self::UsernameTaken => (S::CONFLICT, "username_taken"),
            Self::CodeTaken => (S::CONFLICT, "code_taken"),
            Self::InvalidCode => (S::BAD_REQUEST, "invalid_code"),
            Self::TooManyAttempts => (S::TOO_MANY_REQUESTS, "too_many_attempts"),
            Self::RateLimited { .. } => (S::TOO_MANY_REQUESTS, "rate_limited"),
            Self::InvalidCredentials => (S::UNAUTHORIZED, "invalid_credentials"),
            Self::AccountLocked { .. } => (S::TOO_MANY_REQUESTS, "account_locked"),
            Self::LoginInProgress { .. } => (S::TOO_MANY_REQUESTS, "login_in_progress"),
            Self::AccountDeactivated => (S::FORBIDDEN, "account_deactivated"),
            Self::Forbidden => (S::FORBIDDEN, "forbidden"),
            Self::EmailNotVerified => (S::FORBIDDEN, "email_not_verified"),
            Self::InvalidRefreshToken => (S::UNAUTHORIZED, "invalid_refresh_token"),
            Self::InvalidMfaToken => (S::UNAUTHORIZED, "invalid_mfa_token"),
            Self::InvalidState => (S::BAD_REQUEST, "invalid_state"),
            Self::ProviderEmailNotVerified => (S::FORBIDDEN, "provider_email_not_verified"),
            Self::Unauthorized => (S::UNAUTHORIZED, "unauthorized"),
            Self::TokenRevoked => (S::UNAUTHORIZED, "token_revoked"),
            Self::NotFound => (S::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Contention => (S::SERVICE_UNAVAILABLE, "retry"),
            Self::Unavailable => (S::SERVICE_UNAVAILABLE, "not_ready"),
            Self::DatabaseUnavailable => (S::SERVICE_UNAVAILABLE, "unavailable"),
            Self::DependencyUnavailable { code, .. } => (S::SERVICE_UNAVAILABLE, code),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let this = match self {
            Self::Internal(error) if crate::error::is_database_unreachable(error.as_ref()) => {
                tracing::warn!(error = %Chain(error.as_ref()), "database unreachable");
                Self::DatabaseUnavailable
            }
            other => other,
        };
        let (status, code) = this.status_and_code();
        if let Self::Internal(error) = &this {
            tracing::error!(error = %Chain(error.as_ref()), "request failed");
        }
        let problem = Problem {
            type_uri: format!("urn:identity:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: this.to_string(),
            code,
            request_id: current_request_id(),
            errors: match &this {
                Self::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
        };
        let mut response = (status, axum::Json(problem)).into_response();
        this.insert_headers(response.headers_mut());
        response
    }
}

impl AppError {
    /// The headers an error answer carries besides its body: the problem
    /// content type, `WWW-Authenticate` for token problems, `Retry-After`
    /// (and the rate-limit headers) for answers a retry can fix.
    fn insert_headers(&self, headers: &mut axum::http::HeaderMap) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            Self::Unauthorized | Self::InvalidRefreshToken | Self::InvalidCredentials => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TokenRevoked => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            Self::RateLimited {
                retry_after,
                policy,
            } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.as_secs().max(1)),
                );
                super::rate_limit::insert_headers(headers, policy);
            }
            Self::AccountLocked { retry_after } | Self::LoginInProgress { retry_after } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.as_secs().max(1)),
                );
            }
            Self::Contention | Self::Unavailable | Self::DatabaseUnavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::DependencyUnavailable { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            }
            _ => {}
        }
    }
}

/// A handler panicked: answer like any internal error (the panic itself is
/// logged, its message is not returned).
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    AppError::internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

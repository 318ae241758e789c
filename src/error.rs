//! The service's error type: every way a request can fail, each with one
//! HTTP status and a stable problem `code` (mapping in `http::problem`).

use std::time::Duration;

use serde::Serialize;

/// One invalid field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// The request is valid but the resource's state refuses it (409).
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// A well-formed value the service cannot accept (422).
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("the request headers are too large (32 KiB at most)")]
    HeadersTooLarge,
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("this username is taken")]
    UsernameTaken,
    #[error("this referral code is taken")]
    CodeTaken,
    #[error("the code is wrong, expired, already used or replaced")]
    InvalidCode,
    #[error("too many wrong attempts for this code; request a new one")]
    TooManyAttempts,
    #[error("too many requests under the {policy} limit; retry later")]
    RateLimited {
        retry_after: Duration,
        policy: crate::ratelimit::Verdict,
    },
    #[error("the account is locked; retry later")]
    AccountLocked { retry_after: Duration },
    /// As many password checks of the account as the lockout allows are
    /// running; nothing is locked.
    #[error("other logins of this account are being checked; retry in a moment")]
    LoginInProgress { retry_after: Duration },
    #[error("the account is deactivated")]
    AccountDeactivated,
    #[error("this needs a role the caller does not have")]
    Forbidden,
    #[error("the identifier or password is wrong")]
    InvalidCredentials,
    #[error("the email address has not been verified yet")]
    EmailNotVerified,
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    /// Unknown, expired or already used.
    #[error("the mfa_token is not valid; sign in again")]
    InvalidMfaToken,
    /// A provider sign-in's `state`: unknown, forged, expired or used.
    #[error("the sign-in state is not valid; start again")]
    InvalidState,
    #[error("the OpenID provider has not verified an email address for this identity")]
    ProviderEmailNotVerified,
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("the session of this token has ended, or the account is locked or deactivated")]
    TokenRevoked,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the request conflicted with a concurrent one; retry")]
    Contention,
    #[error("the service is not ready")]
    Unavailable,
    #[error("the database is unreachable; retry shortly")]
    DatabaseUnavailable,
    /// An outside service the request needs (the SMS provider) failed or
    /// its circuit is open: 503, retry later.
    #[error("{detail}")]
    DependencyUnavailable { code: &'static str, detail: String },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// Wraps any unexpected failure; its cause chain is logged, not returned.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        Self::internal(error)
    }
}

/// Whether `error` says the database could not be reached or lost a race
/// (rather than that a statement failed): answered 503 with `Retry-After`,
/// since the same request will succeed once it is back.
pub fn is_database_unreachable(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(sqlx) = error.downcast_ref::<sqlx::Error>() {
            return projections::db_errors::is_transient(sqlx);
        }
        current = error.source();
    }
    false
}

impl From<crate::store::StoreError> for AppError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::internal(error)
    }
}

impl<E> From<crate::store::CommandError<E>> for AppError
where
    E: std::error::Error + Send + Sync + 'static + Into<AppError>,
{
    /// A refusal is answered as `crate::refusals` maps it; the store's own
    /// failures as contention or an internal error.
    fn from(error: crate::store::CommandError<E>) -> Self {
        use crate::store::{ClaimKind, CommandError};
        match error {
            CommandError::Claimed(ClaimKind::Email) => Self::EmailTaken,
            CommandError::Claimed(ClaimKind::Username) => Self::UsernameTaken,
            CommandError::Claimed(ClaimKind::ReferralCode) => Self::CodeTaken,
            // The use case checks the claim's owner before accruing; losing
            // it here means a concurrent accrual of the same conversion won.
            CommandError::Claimed(ClaimKind::ConversionAccrual | ClaimKind::ConversionReversal) => {
                Self::Contention
            }
            // A reference the ledger no longer remembers, or another's.
            CommandError::Claimed(ClaimKind::PayoutReference) => Self::Conflict {
                code: "payout_reference_reused",
                detail: "this payout reference was already used".to_owned(),
            },
            CommandError::Claimed(ClaimKind::ExternalIdentity) => Self::Conflict {
                code: "identity_taken",
                detail: "this identity is linked to another account".to_owned(),
            },
            CommandError::Claimed(ClaimKind::Phone) => Self::Conflict {
                code: "phone_taken",
                detail: "this phone number belongs to another account".to_owned(),
            },
            CommandError::Contention => Self::Contention,
            CommandError::Store(e) => Self::internal(e),
            CommandError::Domain(e) => e.into(),
        }
    }
}

impl<E: Into<AppError>> From<crate::auth::CodeError<E>> for AppError {
    /// A wrong, expired, used or replaced code is `invalid_code`, too many
    /// tries `too_many_attempts`; the follow-up's own failure as it maps.
    fn from(error: crate::auth::CodeError<E>) -> Self {
        use crate::auth::CodeError;
        match error {
            CodeError::Invalid => Self::InvalidCode,
            CodeError::TooManyAttempts => Self::TooManyAttempts,
            CodeError::Then(error) => error.into(),
            CodeError::Database(error) => error.into(),
        }
    }
}

impl From<crate::oidc::OidcError> for AppError {
    /// A provider that fails is a 503 the client may retry; what the
    /// provider or the client sent that does not check out is a 4xx.
    fn from(error: crate::oidc::OidcError) -> Self {
        use crate::oidc::OidcError;
        match error {
            OidcError::UnknownProvider(_) => Self::NotFound,
            OidcError::Unavailable(_) => Self::DependencyUnavailable {
                code: "provider_unavailable",
                detail: "the OpenID provider could not be reached; retry later".to_owned(),
            },
            OidcError::CodeRefused(_) => Self::BadRequest {
                code: "invalid_authorization_code",
                detail: error.to_string(),
            },
            OidcError::InvalidIdToken(_) => Self::BadRequest {
                code: "invalid_id_token",
                detail: error.to_string(),
            },
        }
    }
}

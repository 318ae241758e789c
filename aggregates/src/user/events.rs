//! Events of the `User` aggregate. Names are stable and namespaced
//! (`identity.user.<Event>`); a payload change bumps the version.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Role;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEvent {
    /// The account exists. Carries the personal data (email, username) that
    /// projections need; the password only as an argon2id PHC hash.
    UserRegistered {
        user_id: Uuid,
        username: String,
        email: String,
        password_hash: String,
        registered_at: DateTime<Utc>,
    },
    EmailVerificationCodeIssued {
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    EmailVerified {
        verified_at: DateTime<Utc>,
    },
    /// A password check was reserved (lockout accounting).
    PasswordCheckStarted {
        at: DateTime<Utc>,
    },
    LoginFailed {
        at: DateTime<Utc>,
        consecutive_failures: u32,
    },
    LoginSucceeded {
        at: DateTime<Utc>,
        session_id: Uuid,
    },
    /// `by` is `None` when the failure limit locked the account.
    AccountLocked {
        until: DateTime<Utc>,
        by: Option<String>,
        at: DateTime<Utc>,
    },
    AccountUnlocked {
        by: String,
        at: DateTime<Utc>,
    },
    RoleGranted {
        role: Role,
        by: String,
        at: DateTime<Utc>,
    },
    RoleRevoked {
        role: Role,
        by: String,
        at: DateTime<Utc>,
    },
    UserDeactivated {
        by: String,
        at: DateTime<Utc>,
    },
    UserReactivated {
        by: String,
        at: DateTime<Utc>,
    },
}

impl UserEvent {
    /// The bare event name, without namespace.
    pub fn name(&self) -> &'static str {
        match self {
            Self::UserRegistered { .. } => "UserRegistered",
            Self::EmailVerificationCodeIssued { .. } => "EmailVerificationCodeIssued",
            Self::EmailVerified { .. } => "EmailVerified",
            Self::PasswordCheckStarted { .. } => "PasswordCheckStarted",
            Self::LoginFailed { .. } => "LoginFailed",
            Self::LoginSucceeded { .. } => "LoginSucceeded",
            Self::AccountLocked { .. } => "AccountLocked",
            Self::AccountUnlocked { .. } => "AccountUnlocked",
            Self::RoleGranted { .. } => "RoleGranted",
            Self::RoleRevoked { .. } => "RoleRevoked",
            Self::UserDeactivated { .. } => "UserDeactivated",
            Self::UserReactivated { .. } => "UserReactivated",
        }
    }
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        format!("{}.user.{}", crate::EVENT_NAMESPACE, self.name())
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

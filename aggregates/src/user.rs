//! The `User` aggregate: one account, from registration on.
//!
//! Stream id: the user id. Commands never replay the whole history because
//! the store keeps a snapshot (see `src/store`); the state below is bounded
//! so the snapshot stays small.

mod aggregate;
mod commands;
mod events;
mod identifiers;
#[cfg(test)]
mod identifiers_tests;
mod identities;
#[cfg(test)]
mod identities_tests;
mod lockout;
mod mfa;
#[cfg(test)]
mod mfa_tests;
#[cfg(test)]
mod tests;

pub use aggregate::{Role, User, UserStatus};
pub use commands::UserCommand;
pub use events::{CodeChannel, LoginMethod, LoginRefusal, PasswordChangeMethod, UserEvent};
pub use identifiers::PendingEmail;
pub use identities::ExternalIdentity;
pub use lockout::LockoutPolicy;
pub use mfa::{SecondFactor, SecondFactorMethod, SecondFactorProof};

use chrono::{DateTime, Utc};

/// Why the `User` aggregate refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("the user is already registered")]
    AlreadyRegistered,
    #[error("no such user")]
    NotFound,
    #[error("the email address is already verified")]
    EmailAlreadyVerified,
    #[error("the account is locked until {until}")]
    AccountLocked { until: DateTime<Utc> },
    /// Not locked, but as many checks as the lockout allows are in flight:
    /// one of them ends (or locks the account) before `until`.
    #[error("other password checks of this account are in flight until {until}")]
    ChecksInFlight { until: DateTime<Utc> },
    #[error("the account is deactivated")]
    Deactivated,
    #[error("every account keeps the user role")]
    CannotRevokeUserRole,
    /// Only a verified, active account may reset its password.
    #[error("the account cannot reset its password")]
    ResetNotAllowed,
    #[error("the new password must differ from the current one")]
    PasswordReused,
    /// No sign-in code for an account that may not sign in that way (an
    /// unverified address, a deactivated account).
    #[error("the account cannot sign in by code")]
    SignInCodeNotAllowed,
    #[error("no phone number is waiting for verification")]
    NoPendingPhone,
    #[error("a second factor is already enabled")]
    TotpAlreadyEnabled,
    #[error("no TOTP enrollment was started")]
    NoTotpEnrollment,
    #[error("no second factor is enabled")]
    TotpNotEnabled,
    /// A TOTP code of a time step already used, or a used recovery code.
    #[error("this code was already used")]
    SecondFactorReplayed,
    #[error("another identity of this provider is linked to the account")]
    ProviderAlreadyLinked,
    #[error("no identity of this provider is linked to the account")]
    IdentityNotLinked,
    /// Unlinking would leave the account no way to sign in (no password,
    /// no other provider).
    #[error("this is the account's only way to sign in")]
    LastSignInMethod,
    #[error("the new email address is the current one")]
    SameEmail,
    /// No change asked for, or its code's time is up.
    #[error("no email change is waiting for confirmation")]
    NoPendingEmailChange,
    #[error("the new username is the current one")]
    SameUsername,
}

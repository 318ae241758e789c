//! Events of the `User` aggregate. Names are stable and namespaced
//! (`identity.user.<Event>`); a payload change bumps the version.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Role;

/// Why a login with the right password opened no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginRefusal {
    EmailNotVerified,
    AccountDeactivated,
}

/// How a person proved who they are at sign-in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    /// Events before version 2 of `LoginSucceeded` were all password logins.
    #[default]
    Password,
    /// A one-time code sent to the verified email address.
    EmailCode,
    /// A one-time code sent by SMS to the verified phone number.
    SmsCode,
}

/// Where a one-time sign-in code went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeChannel {
    Email,
    Sms,
}

/// How a password came to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordChangeMethod {
    /// With a code sent to the verified email address.
    Reset,
    /// Signed in, with the current password.
    Change,
}

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
    /// Version 2 added `method` (absent in version 1: a password).
    LoginSucceeded {
        at: DateTime<Utc>,
        session_id: Uuid,
        #[serde(default)]
        method: LoginMethod,
    },
    /// A one-time sign-in code went out by `channel` (the code is not in
    /// the event).
    SignInCodeIssued {
        channel: CodeChannel,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// The password was right but the account may not sign in (yet). Ends
    /// the reserved check without counting a failure: a correct password
    /// never locks an account.
    LoginRefused {
        at: DateTime<Utc>,
        reason: LoginRefusal,
    },
    /// A password-reset code went out (the code is not in the event).
    PasswordResetRequested {
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// The password hash was replaced. A reset also clears a lockout (it
    /// proves control of the mailbox): `lockout_cleared` says it did.
    PasswordChanged {
        password_hash: String,
        method: PasswordChangeMethod,
        lockout_cleared: bool,
        at: DateTime<Utc>,
    },
    /// `phone` (E.164) is on the account, waiting for its SMS code (which
    /// is in no event), valid until `expires_at`.
    PhoneAdded {
        phone: String,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// The pending phone was verified; it replaces `replaced`, the phone
    /// verified before, if any. A verified phone is unique across accounts.
    PhoneVerified {
        phone: String,
        replaced: Option<String>,
        at: DateTime<Utc>,
    },
    /// The phone is off the account: `phone` is the verified number it no
    /// longer holds (`None` when only an unverified one was pending).
    PhoneRemoved {
        phone: Option<String>,
        at: DateTime<Utc>,
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
    /// Every event name, for whoever must know them all without a value of
    /// each (the contract test of docs/events.md). Kept in step with
    /// [`UserEvent::name`] by the test below.
    pub const NAMES: &'static [&'static str] = &[
        "UserRegistered",
        "EmailVerificationCodeIssued",
        "EmailVerified",
        "PasswordCheckStarted",
        "LoginFailed",
        "LoginSucceeded",
        "SignInCodeIssued",
        "LoginRefused",
        "PasswordResetRequested",
        "PasswordChanged",
        "PhoneAdded",
        "PhoneVerified",
        "PhoneRemoved",
        "AccountLocked",
        "AccountUnlocked",
        "RoleGranted",
        "RoleRevoked",
        "UserDeactivated",
        "UserReactivated",
    ];

    /// The bare event name, without namespace.
    pub fn name(&self) -> &'static str {
        match self {
            Self::UserRegistered { .. } => "UserRegistered",
            Self::EmailVerificationCodeIssued { .. } => "EmailVerificationCodeIssued",
            Self::EmailVerified { .. } => "EmailVerified",
            Self::PasswordCheckStarted { .. } => "PasswordCheckStarted",
            Self::LoginFailed { .. } => "LoginFailed",
            Self::LoginSucceeded { .. } => "LoginSucceeded",
            Self::SignInCodeIssued { .. } => "SignInCodeIssued",
            Self::LoginRefused { .. } => "LoginRefused",
            Self::PasswordResetRequested { .. } => "PasswordResetRequested",
            Self::PasswordChanged { .. } => "PasswordChanged",
            Self::PhoneAdded { .. } => "PhoneAdded",
            Self::PhoneVerified { .. } => "PhoneVerified",
            Self::PhoneRemoved { .. } => "PhoneRemoved",
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
        match self {
            Self::LoginSucceeded { .. } => "2",
            _ => "1",
        }
        .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use super::{Role, UserEvent};

    /// One value of every variant. A new variant fails to compile in
    /// `covered` below until it gets a sample here and its name in `NAMES`.
    fn samples() -> Vec<UserEvent> {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let by = || "admin".to_owned();
        vec![
            UserEvent::UserRegistered {
                user_id: Uuid::from_u128(1),
                username: "alice".to_owned(),
                email: "alice@example.com".to_owned(),
                password_hash: "$argon2id$...".to_owned(),
                registered_at: at,
            },
            UserEvent::EmailVerificationCodeIssued {
                issued_at: at,
                expires_at: at,
            },
            UserEvent::EmailVerified { verified_at: at },
            UserEvent::PasswordCheckStarted { at },
            UserEvent::LoginFailed {
                at,
                consecutive_failures: 1,
            },
            UserEvent::LoginSucceeded {
                at,
                session_id: Uuid::from_u128(2),
                method: super::LoginMethod::EmailCode,
            },
            UserEvent::SignInCodeIssued {
                channel: super::CodeChannel::Email,
                at,
                expires_at: at,
            },
            UserEvent::LoginRefused {
                at,
                reason: super::LoginRefusal::EmailNotVerified,
            },
            UserEvent::PasswordResetRequested { at, expires_at: at },
            UserEvent::PasswordChanged {
                password_hash: "$argon2id$...".to_owned(),
                method: super::PasswordChangeMethod::Reset,
                lockout_cleared: true,
                at,
            },
            UserEvent::PhoneAdded {
                phone: "+4915123456789".to_owned(),
                at,
                expires_at: at,
            },
            UserEvent::PhoneVerified {
                phone: "+4915123456789".to_owned(),
                replaced: None,
                at,
            },
            UserEvent::PhoneRemoved { phone: None, at },
            UserEvent::AccountLocked {
                until: at,
                by: None,
                at,
            },
            UserEvent::AccountUnlocked { by: by(), at },
            UserEvent::RoleGranted {
                role: Role::Admin,
                by: by(),
                at,
            },
            UserEvent::RoleRevoked {
                role: Role::Admin,
                by: by(),
                at,
            },
            UserEvent::UserDeactivated { by: by(), at },
            UserEvent::UserReactivated { by: by(), at },
        ]
    }

    /// Exhaustive on purpose: no `_` arm.
    fn covered(event: &UserEvent) {
        match event {
            UserEvent::UserRegistered { .. }
            | UserEvent::EmailVerificationCodeIssued { .. }
            | UserEvent::EmailVerified { .. }
            | UserEvent::PasswordCheckStarted { .. }
            | UserEvent::LoginFailed { .. }
            | UserEvent::LoginSucceeded { .. }
            | UserEvent::SignInCodeIssued { .. }
            | UserEvent::LoginRefused { .. }
            | UserEvent::PasswordResetRequested { .. }
            | UserEvent::PasswordChanged { .. }
            | UserEvent::PhoneAdded { .. }
            | UserEvent::PhoneVerified { .. }
            | UserEvent::PhoneRemoved { .. }
            | UserEvent::AccountLocked { .. }
            | UserEvent::AccountUnlocked { .. }
            | UserEvent::RoleGranted { .. }
            | UserEvent::RoleRevoked { .. }
            | UserEvent::UserDeactivated { .. }
            | UserEvent::UserReactivated { .. } => {}
        }
    }

    #[test]
    fn names_lists_the_name_of_every_variant_once() {
        let samples = samples();
        samples.iter().for_each(covered);
        let named: BTreeSet<&str> = samples.iter().map(UserEvent::name).collect();
        let listed: BTreeSet<&str> = UserEvent::NAMES.iter().copied().collect();
        assert_eq!(named.len(), samples.len(), "one sample per variant");
        assert_eq!(listed.len(), UserEvent::NAMES.len(), "no name twice");
        assert_eq!(named, listed);
    }
}

//! Events of the `User` aggregate. Names are stable and namespaced
//! (`identity.user.<Event>`); a payload change bumps the version.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Role, SecondFactorMethod, SecondFactorProof};

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
    /// An ID token of an OpenID provider, for a linked identity.
    Oidc,
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
    /// Version 2 added `method` (absent in version 1: a password);
    /// version 3 `second_factor` (absent: none was asked for).
    LoginSucceeded {
        at: DateTime<Utc>,
        session_id: Uuid,
        #[serde(default)]
        method: LoginMethod,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        second_factor: Option<SecondFactorMethod>,
    },
    /// The first factor (`method`) was right, and the account has a second
    /// one: no session yet. Ends the reserved check without clearing the
    /// failure count (only a completed login does).
    SecondFactorRequired {
        method: LoginMethod,
        at: DateTime<Utc>,
    },
    /// A second factor was proved: a TOTP code at a time step later than
    /// any before, or an unused recovery code (by its keyed hash, never the
    /// code).
    SecondFactorVerified {
        proof: SecondFactorProof,
        remaining_recovery_codes: u32,
        at: DateTime<Utc>,
    },
    /// A TOTP secret was made and shown; it counts once confirmed. The
    /// secret is sealed (encrypted under a key derived from the server
    /// secret), never in plain text.
    TotpEnrollmentStarted {
        sealed_secret: String,
        at: DateTime<Utc>,
    },
    /// The pending secret's first code was right: TOTP is on. Carries the
    /// keyed hashes of the recovery codes (shown once, then only hashed)
    /// and the step of the confirming code, which is used up.
    TotpEnabled {
        step: u64,
        recovery_codes: Vec<String>,
        at: DateTime<Utc>,
    },
    /// New recovery codes replace the old ones (keyed hashes only).
    RecoveryCodesReplaced {
        recovery_codes: Vec<String>,
        at: DateTime<Utc>,
    },
    /// The second factor is off: `by` names the admin who removed it, or
    /// is `None` when the person did (with password and code).
    TotpDisabled {
        by: Option<String>,
        at: DateTime<Utc>,
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
    /// The profile changed; only what changed is set (`None`: unchanged).
    ProfileUpdated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        locale: Option<String>,
        at: DateTime<Utc>,
    },
    /// A change of the email address to `new_email` was asked for (with
    /// the password); a code went to it, valid until `expires_at`. Nothing
    /// changes until it is confirmed. (When the address belongs to another
    /// account the code is never sent, so it cannot be confirmed; the
    /// request is recorded alike so that it answers alike.)
    EmailChangeRequested {
        new_email: String,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// The address changed: `new_email` (verified by the code) is claimed
    /// and `old_email` released, in this one commit.
    EmailChanged {
        old_email: String,
        new_email: String,
        at: DateTime<Utc>,
    },
    /// The username changed (the new one claimed in this commit); the old
    /// one stays reserved to this account until `old_reserved_until`, so
    /// nobody can take it to pose as the person.
    UsernameChanged {
        old_username: String,
        username: String,
        old_reserved_until: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// An identity at an OpenID provider was linked; `(issuer, subject)`
    /// is unique across accounts. `claimed_unverified`: the account's email
    /// had never been verified and the provider verified it, so the account
    /// became the provider user's and its password was removed.
    ExternalIdentityLinked {
        provider: String,
        issuer: String,
        subject: String,
        email: Option<String>,
        claimed_unverified: bool,
        at: DateTime<Utc>,
    },
    ExternalIdentityUnlinked {
        provider: String,
        issuer: String,
        subject: String,
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
        "SecondFactorRequired",
        "SecondFactorVerified",
        "TotpEnrollmentStarted",
        "TotpEnabled",
        "RecoveryCodesReplaced",
        "TotpDisabled",
        "SignInCodeIssued",
        "LoginRefused",
        "PasswordResetRequested",
        "PasswordChanged",
        "PhoneAdded",
        "PhoneVerified",
        "PhoneRemoved",
        "ProfileUpdated",
        "EmailChangeRequested",
        "EmailChanged",
        "UsernameChanged",
        "ExternalIdentityLinked",
        "ExternalIdentityUnlinked",
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
            Self::SecondFactorRequired { .. } => "SecondFactorRequired",
            Self::SecondFactorVerified { .. } => "SecondFactorVerified",
            Self::TotpEnrollmentStarted { .. } => "TotpEnrollmentStarted",
            Self::TotpEnabled { .. } => "TotpEnabled",
            Self::RecoveryCodesReplaced { .. } => "RecoveryCodesReplaced",
            Self::TotpDisabled { .. } => "TotpDisabled",
            Self::SignInCodeIssued { .. } => "SignInCodeIssued",
            Self::LoginRefused { .. } => "LoginRefused",
            Self::PasswordResetRequested { .. } => "PasswordResetRequested",
            Self::PasswordChanged { .. } => "PasswordChanged",
            Self::PhoneAdded { .. } => "PhoneAdded",
            Self::PhoneVerified { .. } => "PhoneVerified",
            Self::PhoneRemoved { .. } => "PhoneRemoved",
            Self::ProfileUpdated { .. } => "ProfileUpdated",
            Self::EmailChangeRequested { .. } => "EmailChangeRequested",
            Self::EmailChanged { .. } => "EmailChanged",
            Self::UsernameChanged { .. } => "UsernameChanged",
            Self::ExternalIdentityLinked { .. } => "ExternalIdentityLinked",
            Self::ExternalIdentityUnlinked { .. } => "ExternalIdentityUnlinked",
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
            Self::LoginSucceeded { .. } => "3",
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
                second_factor: Some(super::SecondFactorMethod::Totp),
            },
            UserEvent::SecondFactorRequired {
                method: super::LoginMethod::Password,
                at,
            },
            UserEvent::SecondFactorVerified {
                proof: super::SecondFactorProof::Totp { step: 59_000_000 },
                remaining_recovery_codes: 10,
                at,
            },
            UserEvent::TotpEnrollmentStarted {
                sealed_secret: "sealed".to_owned(),
                at,
            },
            UserEvent::TotpEnabled {
                step: 59_000_000,
                recovery_codes: vec!["hash".to_owned()],
                at,
            },
            UserEvent::RecoveryCodesReplaced {
                recovery_codes: vec!["hash".to_owned()],
                at,
            },
            UserEvent::TotpDisabled { by: None, at },
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
            UserEvent::ProfileUpdated {
                display_name: Some("Alice".to_owned()),
                locale: None,
                at,
            },
            UserEvent::EmailChangeRequested {
                new_email: "alice@example.org".to_owned(),
                at,
                expires_at: at,
            },
            UserEvent::EmailChanged {
                old_email: "alice@example.com".to_owned(),
                new_email: "alice@example.org".to_owned(),
                at,
            },
            UserEvent::UsernameChanged {
                old_username: "alice".to_owned(),
                username: "alice2".to_owned(),
                old_reserved_until: at,
                at,
            },
            UserEvent::ExternalIdentityLinked {
                provider: "google".to_owned(),
                issuer: "https://accounts.google.com".to_owned(),
                subject: "1234".to_owned(),
                email: Some("alice@example.com".to_owned()),
                claimed_unverified: false,
                at,
            },
            UserEvent::ExternalIdentityUnlinked {
                provider: "google".to_owned(),
                issuer: "https://accounts.google.com".to_owned(),
                subject: "1234".to_owned(),
                at,
            },
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
            | UserEvent::SecondFactorRequired { .. }
            | UserEvent::SecondFactorVerified { .. }
            | UserEvent::TotpEnrollmentStarted { .. }
            | UserEvent::TotpEnabled { .. }
            | UserEvent::RecoveryCodesReplaced { .. }
            | UserEvent::TotpDisabled { .. }
            | UserEvent::SignInCodeIssued { .. }
            | UserEvent::LoginRefused { .. }
            | UserEvent::PasswordResetRequested { .. }
            | UserEvent::PasswordChanged { .. }
            | UserEvent::PhoneAdded { .. }
            | UserEvent::PhoneVerified { .. }
            | UserEvent::PhoneRemoved { .. }
            | UserEvent::ProfileUpdated { .. }
            | UserEvent::EmailChangeRequested { .. }
            | UserEvent::EmailChanged { .. }
            | UserEvent::UsernameChanged { .. }
            | UserEvent::ExternalIdentityLinked { .. }
            | UserEvent::ExternalIdentityUnlinked { .. }
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

//! State and rules of one account.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::lockout::Lockout;
use super::{
    CodeChannel, LockoutPolicy, LoginMethod, LoginRefusal, PasswordChangeMethod, SecondFactor,
    SecondFactorProof, UserCommand, UserError, UserEvent,
};

/// Roles known to the service. `User` is implicit for every account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Admin,
    Auditor,
    Influencer,
    Service,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::User,
        Role::Admin,
        Role::Auditor,
        Role::Influencer,
        Role::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
            Self::Auditor => "auditor",
            Self::Influencer => "influencer",
            Self::Service => "service",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Nothing registered under this id yet.
    #[default]
    Unregistered,
    Active,
    /// Cannot log in or refresh until reactivated.
    Deactivated,
}

/// The account. Kept small and bounded: it is snapshotted on every commit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Option<Uuid>,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub email_verified: bool,
    pub status: UserStatus,
    pub roles: BTreeSet<Role>,
    pub created_at: Option<DateTime<Utc>>,
    pub lockout: Lockout,
    /// The verified phone (E.164), unique across accounts.
    #[serde(default)]
    pub phone: Option<String>,
    /// A phone added and waiting for its SMS code.
    #[serde(default)]
    pub pending_phone: Option<String>,
    /// The TOTP second factor and its recovery codes.
    #[serde(default)]
    pub mfa: SecondFactor,
    /// Identities at OpenID providers, one per provider.
    #[serde(default)]
    pub identities: Vec<super::ExternalIdentity>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    /// An email address asked for and waiting for its code.
    #[serde(default)]
    pub pending_email: Option<super::PendingEmail>,
}

impl User {
    fn ensure_registered(&self) -> Result<(), UserError> {
        match self.status {
            UserStatus::Unregistered => Err(UserError::NotFound),
            UserStatus::Active | UserStatus::Deactivated => Ok(()),
        }
    }

    pub(super) fn ensure_active(&self) -> Result<(), UserError> {
        self.ensure_registered()?;
        match self.status {
            UserStatus::Active => Ok(()),
            _ => Err(UserError::Deactivated),
        }
    }

    /// Why a right first factor opens no session, if it does not.
    fn login_refusal(&self) -> Option<LoginRefusal> {
        if !self.email_verified {
            Some(LoginRefusal::EmailNotVerified)
        } else if self.status == UserStatus::Deactivated {
            Some(LoginRefusal::AccountDeactivated)
        } else {
            None
        }
    }

    /// A right password (or sign-in code, or provider's word): a session,
    /// a refusal, or, with a second factor on, the wait for it.
    fn complete_first_factor(
        &self,
        at: DateTime<Utc>,
        session_id: Uuid,
        method: LoginMethod,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        Ok(vec![match self.login_refusal() {
            Some(reason) => UserEvent::LoginRefused { at, reason },
            None if self.mfa.enabled() => UserEvent::SecondFactorRequired { method, at },
            None => UserEvent::LoginSucceeded {
                at,
                session_id,
                method,
                second_factor: None,
            },
        }])
    }

    fn complete_second_factor(
        &self,
        proof: SecondFactorProof,
        session_id: Uuid,
        method: LoginMethod,
        at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        if let Some(reason) = self.login_refusal() {
            return Ok(vec![UserEvent::LoginRefused { at, reason }]);
        }
        let second_factor = Some(proof.method());
        Ok(vec![
            self.mfa.verify(proof, at)?,
            UserEvent::LoginSucceeded {
                at,
                session_id,
                method,
                second_factor,
            },
        ])
    }

    /// The lock in force at `at`, if any.
    pub fn locked_until(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.lockout.locked_at(at)
    }

    fn verification(
        &self,
        at: DateTime<Utc>,
        code_expires_at: Option<DateTime<Utc>>,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        if self.email_verified {
            return Err(UserError::EmailAlreadyVerified);
        }
        Ok(vec![match code_expires_at {
            Some(expires_at) => UserEvent::EmailVerificationCodeIssued {
                issued_at: at,
                expires_at,
            },
            None => UserEvent::EmailVerified { verified_at: at },
        }])
    }

    fn start_check(
        &self,
        at: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        if let Some(until) = self.lockout.locked_at(at) {
            return Err(UserError::AccountLocked { until });
        }
        if let Some(until) = self.lockout.blocked_until(at, policy) {
            return Err(UserError::ChecksInFlight { until });
        }
        Ok(vec![UserEvent::PasswordCheckStarted { at }])
    }

    fn failure(
        &self,
        at: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        let consecutive_failures = self.lockout.effective_failures(at) + 1;
        let mut events = vec![UserEvent::LoginFailed {
            at,
            consecutive_failures,
        }];
        if consecutive_failures >= policy.max_failures && self.locked_until(at).is_none() {
            events.push(UserEvent::AccountLocked {
                until: at + policy.lock_duration,
                by: None,
                at,
            });
        }
        Ok(events)
    }

    fn request_reset(
        &self,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        if !self.email_verified || self.status != UserStatus::Active {
            return Err(UserError::ResetNotAllowed);
        }
        Ok(vec![UserEvent::PasswordResetRequested { at, expires_at }])
    }

    fn issue_sign_in_code(
        &self,
        channel: CodeChannel,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        let verified = match channel {
            CodeChannel::Email => self.email_verified,
            CodeChannel::Sms => self.phone.is_some(),
        };
        if !verified || self.status != UserStatus::Active {
            return Err(UserError::SignInCodeNotAllowed);
        }
        Ok(vec![UserEvent::SignInCodeIssued {
            channel,
            at,
            expires_at,
        }])
    }

    fn phone(&self, command: UserCommand) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        if self.status != UserStatus::Active {
            return Err(UserError::Deactivated);
        }
        Ok(match command {
            UserCommand::AddPhone {
                phone,
                at,
                expires_at,
            } => vec![UserEvent::PhoneAdded {
                phone: phone.as_str().to_owned(),
                at,
                expires_at,
            }],
            UserCommand::VerifyPhone { at } => {
                let phone = self
                    .pending_phone
                    .clone()
                    .ok_or(UserError::NoPendingPhone)?;
                let replaced = self.phone.clone().filter(|old| *old != phone);
                vec![UserEvent::PhoneVerified {
                    phone,
                    replaced,
                    at,
                }]
            }
            UserCommand::RemovePhone { at } => {
                if self.phone.is_none() && self.pending_phone.is_none() {
                    return Ok(vec![]);
                }
                vec![UserEvent::PhoneRemoved {
                    phone: self.phone.clone(),
                    at,
                }]
            }
            _ => vec![],
        })
    }

    fn change_password(
        &self,
        password_hash: String,
        method: PasswordChangeMethod,
        reuses_current: bool,
        at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        if reuses_current {
            return Err(UserError::PasswordReused);
        }
        if method == PasswordChangeMethod::Reset {
            if self.status != UserStatus::Active {
                return Err(UserError::ResetNotAllowed);
            }
            // A reset lifts the failure limit's lock, never an admin's.
            if let Some(until) = self.lockout.admin_lock_at(at) {
                return Err(UserError::AccountLocked { until });
            }
        }
        let locked = self.locked_until(at).is_some() || self.lockout.consecutive_failures > 0;
        Ok(vec![UserEvent::PasswordChanged {
            password_hash,
            method,
            lockout_cleared: method == PasswordChangeMethod::Reset && locked,
            at,
        }])
    }

    fn set_roles(
        &self,
        wanted: BTreeSet<Role>,
        by: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        if !wanted.contains(&Role::User) {
            return Err(UserError::CannotRevokeUserRole);
        }
        let granted = wanted
            .difference(&self.roles)
            .map(|&role| UserEvent::RoleGranted {
                role,
                by: by.clone(),
                at,
            });
        let revoked = self
            .roles
            .difference(&wanted)
            .map(|&role| UserEvent::RoleRevoked {
                role,
                by: by.clone(),
                at,
            });
        Ok(granted.chain(revoked).collect())
    }

    fn set_status(
        &self,
        active: bool,
        by: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        Ok(match (self.status, active) {
            (UserStatus::Active, false) => vec![UserEvent::UserDeactivated { by, at }],
            (UserStatus::Deactivated, true) => vec![UserEvent::UserReactivated { by, at }],
            _ => vec![],
        })
    }

    fn decide(&self, command: UserCommand) -> Result<Vec<UserEvent>, UserError> {
        match command {
            UserCommand::RegisterUser {
                user_id,
                username,
                email,
                password_hash,
                at,
                code_expires_at,
            } => {
                if self.status != UserStatus::Unregistered {
                    return Err(UserError::AlreadyRegistered);
                }
                Ok(vec![
                    UserEvent::UserRegistered {
                        user_id,
                        username: username.as_str().to_owned(),
                        email: email.as_str().to_owned(),
                        password_hash,
                        registered_at: at,
                    },
                    UserEvent::EmailVerificationCodeIssued {
                        issued_at: at,
                        expires_at: code_expires_at,
                    },
                ])
            }
            UserCommand::UpdateProfile {
                display_name,
                locale,
                at,
            } => {
                self.ensure_active()?;
                let changed = |new: Option<String>, old: &Option<String>| {
                    new.filter(|value| Some(value) != old.as_ref())
                };
                let display_name = changed(
                    display_name.map(|n| n.as_str().to_owned()),
                    &self.display_name,
                );
                let locale = changed(locale.map(|l| l.as_str().to_owned()), &self.locale);
                if display_name.is_none() && locale.is_none() {
                    return Ok(vec![]);
                }
                Ok(vec![UserEvent::ProfileUpdated {
                    display_name,
                    locale,
                    at,
                }])
            }
            command @ (UserCommand::RequestEmailChange { .. }
            | UserCommand::ConfirmEmailChange { .. }
            | UserCommand::ChangeUsername { .. }) => self.change_identifier(command),
            UserCommand::RegisterExternalUser {
                user_id,
                username,
                email,
                identity,
            } => {
                if self.status != UserStatus::Unregistered {
                    return Err(UserError::AlreadyRegistered);
                }
                let at = identity.linked_at;
                Ok(vec![
                    UserEvent::UserRegistered {
                        user_id,
                        username: username.as_str().to_owned(),
                        email: email.as_str().to_owned(),
                        // No password: the provider is the way in.
                        password_hash: String::new(),
                        registered_at: at,
                    },
                    UserEvent::EmailVerified { verified_at: at },
                    super::identities::linked(identity, false),
                ])
            }
            UserCommand::LinkExternalIdentity {
                identity,
                claim_unverified,
            } => {
                self.ensure_registered()?;
                self.link(identity, claim_unverified)
            }
            UserCommand::UnlinkExternalIdentity { provider, at } => {
                self.ensure_registered()?;
                self.unlink(&provider, at)
            }
            UserCommand::RecordVerificationCodeIssued { at, expires_at } => {
                self.verification(at, Some(expires_at))
            }
            UserCommand::VerifyEmail { at } => self.verification(at, None),
            UserCommand::StartPasswordCheck { at, policy } => self.start_check(at, &policy),
            UserCommand::RecordLoginFailure { at, policy } => self.failure(at, &policy),
            UserCommand::IssueSignInCode {
                channel,
                at,
                expires_at,
            } => self.issue_sign_in_code(channel, at, expires_at),
            UserCommand::CompletePasswordCheck {
                at,
                session_id,
                method,
            } => self.complete_first_factor(at, session_id, method),
            UserCommand::VerifySecondFactor {
                proof,
                session_id,
                method,
                at,
            } => self.complete_second_factor(proof, session_id, method, at),
            UserCommand::StartTotpEnrollment { sealed_secret, at } => {
                self.ensure_active()?;
                self.mfa.start(sealed_secret, at)
            }
            UserCommand::ConfirmTotp {
                step,
                recovery_codes,
                at,
            } => {
                self.ensure_active()?;
                self.mfa.confirm(step, recovery_codes, at)
            }
            UserCommand::ReplaceRecoveryCodes { recovery_codes, at } => {
                self.ensure_active()?;
                self.mfa.replace_codes(recovery_codes, at)
            }
            UserCommand::DisableTotp { by, step, at } => {
                self.ensure_registered()?;
                self.mfa.disable(by, step, at)
            }
            UserCommand::RequestPasswordReset { at, expires_at } => {
                self.request_reset(at, expires_at)
            }
            UserCommand::ChangePassword {
                password_hash,
                method,
                reuses_current,
                at,
            } => self.change_password(password_hash, method, reuses_current, at),
            command @ (UserCommand::AddPhone { .. }
            | UserCommand::VerifyPhone { .. }
            | UserCommand::RemovePhone { .. }) => self.phone(command),
            UserCommand::LockAccount { until, by, at } => {
                self.ensure_registered()?;
                Ok(vec![UserEvent::AccountLocked {
                    until,
                    by: Some(by),
                    at,
                }])
            }
            UserCommand::UnlockAccount { by, at } => {
                self.ensure_registered()?;
                let locked =
                    self.locked_until(at).is_some() || self.lockout.consecutive_failures > 0;
                Ok(if locked {
                    vec![UserEvent::AccountUnlocked { by, at }]
                } else {
                    vec![]
                })
            }
            UserCommand::GrantRole { role, by, at } => {
                self.ensure_registered()?;
                Ok(if self.roles.contains(&role) {
                    vec![]
                } else {
                    vec![UserEvent::RoleGranted { role, by, at }]
                })
            }
            UserCommand::SetRoles { roles, by, at } => self.set_roles(roles, by, at),
            UserCommand::DeactivateUser { by, at } => self.set_status(false, by, at),
            UserCommand::ReactivateUser { by, at } => self.set_status(true, by, at),
        }
    }
}

impl Aggregate for User {
    const TYPE: &'static str = "user";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;
    type Services = ();

    async fn handle(
        &mut self,
        command: UserCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), UserError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: UserEvent) {
        match event {
            UserEvent::UserRegistered {
                user_id,
                username,
                email,
                password_hash,
                registered_at,
            } => {
                self.id = Some(user_id);
                self.username = username;
                self.email = email;
                self.password_hash = password_hash;
                self.status = UserStatus::Active;
                self.roles = BTreeSet::from([Role::User]);
                self.created_at = Some(registered_at);
            }
            UserEvent::EmailVerificationCodeIssued { .. } => {}
            UserEvent::EmailVerified { .. } => self.email_verified = true,
            UserEvent::PasswordCheckStarted { at } => self.lockout.check_started(at),
            UserEvent::LoginFailed {
                consecutive_failures,
                ..
            } => {
                self.lockout.check_finished();
                self.lockout.consecutive_failures = consecutive_failures;
            }
            UserEvent::LoginSucceeded { .. } => self.lockout.reset(),
            UserEvent::SecondFactorRequired { .. } => self.lockout.check_finished(),
            event @ (UserEvent::SecondFactorVerified { .. } | UserEvent::TotpEnabled { .. }) => {
                self.mfa.apply(&event)
            }
            // These follow a right password, whose reserved check ends here
            // as a login's does; an admin's removal checked no password.
            event @ (UserEvent::TotpEnrollmentStarted { .. }
            | UserEvent::RecoveryCodesReplaced { .. }
            | UserEvent::TotpDisabled { .. }) => {
                if !matches!(event, UserEvent::TotpDisabled { by: Some(_), .. }) {
                    self.lockout.reset();
                }
                self.mfa.apply(&event);
            }
            UserEvent::LoginRefused { .. } => self.lockout.reset(),
            UserEvent::PasswordResetRequested { .. } | UserEvent::SignInCodeIssued { .. } => {}
            UserEvent::PasswordChanged {
                password_hash,
                method,
                lockout_cleared,
                ..
            } => {
                self.password_hash = password_hash;
                // A change follows a right current password (its reserved
                // check ends here, as a login's does); a reset may lift
                // the failure limit's lock.
                if lockout_cleared || method == PasswordChangeMethod::Change {
                    self.lockout.reset();
                }
            }
            UserEvent::PhoneAdded { phone, .. } => self.pending_phone = Some(phone),
            UserEvent::PhoneVerified { phone, .. } => {
                self.phone = Some(phone);
                self.pending_phone = None;
            }
            UserEvent::PhoneRemoved { .. } => {
                self.phone = None;
                self.pending_phone = None;
            }
            UserEvent::AccountLocked { until, by, .. } => {
                self.lockout.locked_until = Some(until);
                self.lockout.by_admin = by.is_some();
            }
            UserEvent::ProfileUpdated {
                display_name,
                locale,
                ..
            } => {
                self.display_name = display_name.or(self.display_name.take());
                self.locale = locale.or(self.locale.take());
            }
            event @ (UserEvent::ExternalIdentityLinked { .. }
            | UserEvent::ExternalIdentityUnlinked { .. }) => self.apply_identity(event),
            event @ (UserEvent::EmailChangeRequested { .. }
            | UserEvent::EmailChanged { .. }
            | UserEvent::UsernameChanged { .. }) => self.apply_identifier(event),
            UserEvent::AccountUnlocked { .. } => self.lockout.reset(),
            UserEvent::RoleGranted { role, .. } => {
                self.roles.insert(role);
            }
            UserEvent::RoleRevoked { role, .. } => {
                self.roles.remove(&role);
            }
            UserEvent::UserDeactivated { .. } => self.status = UserStatus::Deactivated,
            UserEvent::UserReactivated { .. } => self.status = UserStatus::Active,
        }
    }
}

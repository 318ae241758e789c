//! `user_directory`: one row per account with the profile served by `/me`
//! and searched by admins.

use aggregates::UserEvent;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::projector::{aggregate_uuid, decode, Change, Projection, ProjectionError};
use crate::StoredEvent;

pub struct UserDirectory;

/// One write to `user_directory`, keyed by `user_id`; every change but the
/// first stamps `updated_at` with `at`.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectoryChange {
    Registered {
        user_id: Uuid,
        username: String,
        email: String,
        at: DateTime<Utc>,
    },
    EmailVerified {
        user_id: Uuid,
        at: DateTime<Utc>,
    },
    /// Locked until a time, or `None` when the lock ends.
    LockedUntil {
        user_id: Uuid,
        until: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    /// Adds `role` to the set (kept sorted, without duplicates).
    RoleAdded {
        user_id: Uuid,
        role: String,
        at: DateTime<Utc>,
    },
    RoleRemoved {
        user_id: Uuid,
        role: String,
        at: DateTime<Utc>,
    },
    Status {
        user_id: Uuid,
        status: &'static str,
        at: DateTime<Utc>,
    },
    /// The number most recently added, and whether it is verified.
    Phone {
        user_id: Uuid,
        phone: Option<String>,
        verified: bool,
        at: DateTime<Utc>,
    },
    /// The address changed (verified by its code).
    Email {
        user_id: Uuid,
        email: String,
        at: DateTime<Utc>,
    },
    Username {
        user_id: Uuid,
        username: String,
        at: DateTime<Utc>,
    },
    /// What changed of the profile (`None`: unchanged).
    Profile {
        user_id: Uuid,
        display_name: Option<String>,
        locale: Option<String>,
        at: DateTime<Utc>,
    },
}

impl Projection for UserDirectory {
    fn name(&self) -> &'static str {
        crate::USER_DIRECTORY
    }

    fn tables(&self) -> &'static [&'static str] {
        &["user_directory"]
    }

    fn changes(&self, event: &StoredEvent) -> Result<Vec<Change>, ProjectionError> {
        if event.aggregate_type != "user" {
            return Ok(vec![]);
        }
        let user_id = aggregate_uuid(event)?;
        let change = match decode::<UserEvent>(event)? {
            UserEvent::UserRegistered {
                username,
                email,
                registered_at,
                ..
            } => DirectoryChange::Registered {
                user_id,
                username,
                email,
                at: registered_at,
            },
            UserEvent::EmailVerified { verified_at } => DirectoryChange::EmailVerified {
                user_id,
                at: verified_at,
            },
            UserEvent::AccountLocked { until, at, .. } => DirectoryChange::LockedUntil {
                user_id,
                until: Some(until),
                at,
            },
            // A right password ends any lock count, refused or not.
            UserEvent::AccountUnlocked { at, .. }
            | UserEvent::LoginSucceeded { at, .. }
            | UserEvent::LoginRefused { at, .. } => DirectoryChange::LockedUntil {
                user_id,
                until: None,
                at,
            },
            // A reset proves control of the mailbox and ends a lockout; so
            // does an account taken over from whoever never verified it.
            UserEvent::PasswordChanged {
                lockout_cleared: true,
                at,
                ..
            }
            | UserEvent::ExternalIdentityLinked {
                claimed_unverified: true,
                at,
                ..
            } => DirectoryChange::LockedUntil {
                user_id,
                until: None,
                at,
            },
            UserEvent::PhoneAdded { phone, at, .. } => DirectoryChange::Phone {
                user_id,
                phone: Some(phone),
                verified: false,
                at,
            },
            UserEvent::PhoneVerified { phone, at, .. } => DirectoryChange::Phone {
                user_id,
                phone: Some(phone),
                verified: true,
                at,
            },
            UserEvent::PhoneRemoved { at, .. } => DirectoryChange::Phone {
                user_id,
                phone: None,
                verified: false,
                at,
            },
            UserEvent::ProfileUpdated {
                display_name,
                locale,
                at,
            } => DirectoryChange::Profile {
                user_id,
                display_name,
                locale,
                at,
            },
            UserEvent::EmailChanged { new_email, at, .. } => DirectoryChange::Email {
                user_id,
                email: new_email,
                at,
            },
            UserEvent::UsernameChanged { username, at, .. } => DirectoryChange::Username {
                user_id,
                username,
                at,
            },
            UserEvent::RoleGranted { role, at, .. } => DirectoryChange::RoleAdded {
                user_id,
                role: role.as_str().to_owned(),
                at,
            },
            UserEvent::RoleRevoked { role, at, .. } => DirectoryChange::RoleRemoved {
                user_id,
                role: role.as_str().to_owned(),
                at,
            },
            UserEvent::UserDeactivated { at, .. } => DirectoryChange::Status {
                user_id,
                status: "deactivated",
                at,
            },
            UserEvent::UserReactivated { at, .. } => DirectoryChange::Status {
                user_id,
                status: "active",
                at,
            },
            UserEvent::EmailVerificationCodeIssued { .. }
            | UserEvent::PasswordCheckStarted { .. }
            | UserEvent::LoginFailed { .. }
            | UserEvent::PasswordResetRequested { .. }
            | UserEvent::SignInCodeIssued { .. }
            | UserEvent::EmailChangeRequested { .. }
            | UserEvent::PasswordChanged {
                lockout_cleared: false,
                ..
            }
            | UserEvent::SecondFactorRequired { .. }
            | UserEvent::SecondFactorVerified { .. }
            | UserEvent::TotpEnrollmentStarted { .. }
            | UserEvent::TotpEnabled { .. }
            | UserEvent::RecoveryCodesReplaced { .. }
            | UserEvent::TotpDisabled { .. }
            | UserEvent::ExternalIdentityLinked {
                claimed_unverified: false,
                ..
            }
            | UserEvent::ExternalIdentityUnlinked { .. } => return Ok(vec![]),
        };
        Ok(vec![Change::Directory(change)])
    }
}

//! `login_lookup`: normalized email, username and verified phone to the
//! user id, roles and status that login needs, in one indexed row.

use aggregates::UserEvent;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::projector::{aggregate_uuid, decode, Change, Projection, ProjectionError};
use crate::StoredEvent;

pub struct LoginLookup;

/// One write to `login_lookup`, keyed by `user_id`.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginChange {
    Registered {
        user_id: Uuid,
        email: String,
        username_normalized: String,
    },
    EmailVerified {
        user_id: Uuid,
    },
    /// Adds `role` to the set (kept sorted, without duplicates).
    RoleAdded {
        user_id: Uuid,
        role: String,
    },
    RoleRemoved {
        user_id: Uuid,
        role: String,
    },
    Status {
        user_id: Uuid,
        status: &'static str,
    },
    /// The verified phone (E.164), or `None` once it is removed.
    Phone {
        user_id: Uuid,
        phone: Option<String>,
    },
    /// The address changed (the new one verified by its code).
    Email {
        user_id: Uuid,
        email: String,
    },
    /// The username changed; the old one no longer signs in.
    Username {
        user_id: Uuid,
        username_normalized: String,
    },
    /// An admin's lock until a time, or `None` when lifted.
    AdminLock {
        user_id: Uuid,
        until: Option<DateTime<Utc>>,
    },
}

impl Projection for LoginLookup {
    fn name(&self) -> &'static str {
        crate::LOGIN_LOOKUP
    }

    fn tables(&self) -> &'static [&'static str] {
        &["login_lookup"]
    }

    fn changes(&self, event: &StoredEvent) -> Result<Vec<Change>, ProjectionError> {
        if event.aggregate_type != "user" {
            return Ok(vec![]);
        }
        let user_id = aggregate_uuid(event)?;
        let change = match decode::<UserEvent>(event)? {
            UserEvent::UserRegistered {
                username, email, ..
            } => LoginChange::Registered {
                user_id,
                email,
                username_normalized: username.to_ascii_lowercase(),
            },
            UserEvent::EmailVerified { .. } => LoginChange::EmailVerified { user_id },
            UserEvent::RoleGranted { role, .. } => LoginChange::RoleAdded {
                user_id,
                role: role.as_str().to_owned(),
            },
            UserEvent::RoleRevoked { role, .. } => LoginChange::RoleRemoved {
                user_id,
                role: role.as_str().to_owned(),
            },
            UserEvent::UserDeactivated { .. } => LoginChange::Status {
                user_id,
                status: "deactivated",
            },
            UserEvent::UserReactivated { .. } => LoginChange::Status {
                user_id,
                status: "active",
            },
            // Only an admin's lock stops refreshes; the failure limit's
            // stops new password logins alone (see `auth::revocations`).
            UserEvent::AccountLocked {
                until, by: Some(_), ..
            } => LoginChange::AdminLock {
                user_id,
                until: Some(until),
            },
            UserEvent::PhoneVerified { phone, .. } => LoginChange::Phone {
                user_id,
                phone: Some(phone),
            },
            UserEvent::PhoneRemoved { .. } => LoginChange::Phone {
                user_id,
                phone: None,
            },
            UserEvent::EmailChanged { new_email, .. } => LoginChange::Email {
                user_id,
                email: new_email,
            },
            UserEvent::UsernameChanged { username, .. } => LoginChange::Username {
                user_id,
                username_normalized: username.to_ascii_lowercase(),
            },
            UserEvent::AccountUnlocked { .. } => LoginChange::AdminLock {
                user_id,
                until: None,
            },
            _ => return Ok(vec![]),
        };
        Ok(vec![Change::Login(change)])
    }
}

//! State and rules of one account.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{UserCommand, UserError, UserEvent};

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
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
            Self::Auditor => "auditor",
            Self::Influencer => "influencer",
            Self::Service => "service",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Nothing registered under this id yet.
    #[default]
    Unregistered,
    Active,
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
}

impl User {
    fn ensure_registered(&self) -> Result<(), UserError> {
        match self.status {
            UserStatus::Unregistered => Err(UserError::NotFound),
            UserStatus::Active => Ok(()),
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
        let events = match command {
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
                vec![
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
                ]
            }
            UserCommand::RecordVerificationCodeIssued { at, expires_at } => {
                self.ensure_registered()?;
                if self.email_verified {
                    return Err(UserError::EmailAlreadyVerified);
                }
                vec![UserEvent::EmailVerificationCodeIssued {
                    issued_at: at,
                    expires_at,
                }]
            }
            UserCommand::VerifyEmail { at } => {
                self.ensure_registered()?;
                if self.email_verified {
                    return Err(UserError::EmailAlreadyVerified);
                }
                vec![UserEvent::EmailVerified { verified_at: at }]
            }
        };
        for event in events {
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
        }
    }
}

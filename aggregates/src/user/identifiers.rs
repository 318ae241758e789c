//! Changing the identifiers a person signs in with: the email address (a
//! code to the new one; it changes only when confirmed) and the username
//! (at once, the old one reserved to the account for a while).
//!
//! Both follow a right password (the edge checks it under the lockout), so
//! the event that records the request ends the reserved check as a login
//! does. Uniqueness is the store's: `EmailChanged` claims the new address
//! and releases the old one, `UsernameChanged` claims the new username and
//! holds the old one until `old_reserved_until` (see `src/store/claims.rs`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{User, UserCommand, UserError, UserEvent};

/// An address asked for and waiting for its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEmail {
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

impl User {
    /// Decides `RequestEmailChange`, `ConfirmEmailChange` and
    /// `ChangeUsername`.
    pub(super) fn change_identifier(
        &self,
        command: UserCommand,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_active()?;
        Ok(match command {
            UserCommand::RequestEmailChange {
                new_email,
                at,
                expires_at,
            } => {
                if new_email.as_str() == self.email {
                    return Err(UserError::SameEmail);
                }
                vec![UserEvent::EmailChangeRequested {
                    new_email: new_email.as_str().to_owned(),
                    at,
                    expires_at,
                }]
            }
            UserCommand::ConfirmEmailChange { at } => {
                let pending = self
                    .pending_email
                    .as_ref()
                    .filter(|pending| at <= pending.expires_at)
                    .ok_or(UserError::NoPendingEmailChange)?;
                vec![UserEvent::EmailChanged {
                    old_email: self.email.clone(),
                    new_email: pending.email.clone(),
                    at,
                }]
            }
            UserCommand::ChangeUsername {
                username,
                old_reserved_until,
                at,
            } => {
                if username.as_str() == self.username {
                    return Err(UserError::SameUsername);
                }
                vec![UserEvent::UsernameChanged {
                    old_username: self.username.clone(),
                    username: username.as_str().to_owned(),
                    old_reserved_until,
                    at,
                }]
            }
            _ => vec![],
        })
    }

    /// Applies the events decided above.
    pub(super) fn apply_identifier(&mut self, event: UserEvent) {
        match event {
            UserEvent::EmailChangeRequested {
                new_email,
                expires_at,
                ..
            } => {
                self.lockout.reset();
                self.pending_email = Some(PendingEmail {
                    email: new_email,
                    expires_at,
                });
            }
            UserEvent::EmailChanged { new_email, .. } => {
                self.email = new_email;
                // The code sent to it proved the mailbox.
                self.email_verified = true;
                self.pending_email = None;
            }
            UserEvent::UsernameChanged { username, .. } => {
                self.lockout.reset();
                self.username = username;
            }
            _ => {}
        }
    }
}

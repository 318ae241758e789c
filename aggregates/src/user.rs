//! The `User` aggregate: one account, from registration on.
//!
//! Stream id: the user id. The stream stays short-lived in cost because the
//! store keeps a snapshot (see `src/store`), so commands never replay the
//! whole history.

mod aggregate;
mod commands;
mod events;
#[cfg(test)]
mod tests;

pub use aggregate::{Role, User, UserStatus};
pub use commands::UserCommand;
pub use events::UserEvent;

/// Why the `User` aggregate refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("the user is already registered")]
    AlreadyRegistered,
    #[error("no such user")]
    NotFound,
    #[error("the email address is already verified")]
    EmailAlreadyVerified,
}

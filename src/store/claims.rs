//! Uniqueness that spans aggregates (one account per email, per username).
//!
//! An event that takes a unique value declares a [`Claim`]; the repository
//! inserts the claim rows in the same transaction as the event. Two
//! concurrent registrations with one email both reach the insert; the second
//! waits for the first to commit, finds the row taken and rolls back, so
//! exactly one of them exists afterwards and nothing is left half-written.

use aggregates::{Audit, Session, User, UserEvent};

use super::StoredAggregate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClaimKind {
    Email,
    Username,
}

impl ClaimKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Username => "username",
        }
    }
}

/// A unique value an event takes for its aggregate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Claim {
    pub kind: ClaimKind,
    /// The normalized value (lower-cased).
    pub value: String,
}

impl StoredAggregate for User {
    const SCHEMA_VERSION: i32 = 1;

    fn claims(event: &UserEvent) -> Vec<Claim> {
        match event {
            UserEvent::UserRegistered {
                email, username, ..
            } => vec![
                Claim {
                    kind: ClaimKind::Email,
                    value: email.clone(),
                },
                Claim {
                    kind: ClaimKind::Username,
                    value: username.to_ascii_lowercase(),
                },
            ],
            _ => vec![],
        }
    }
}

impl StoredAggregate for Session {
    const SCHEMA_VERSION: i32 = 1;
}

impl StoredAggregate for Audit {
    const SCHEMA_VERSION: i32 = 1;
}

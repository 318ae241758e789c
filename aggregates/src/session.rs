//! The `Session` aggregate: one login, its rotating refresh token and its end.
//!
//! Stream id: the session id. A session that is refreshed every few minutes
//! for 30 days gets thousands of events; the state below stays bounded (only
//! the last [`RECENT_TOKENS`] token hashes are kept) and the store snapshots
//! it, so refresh number 5,000 costs what refresh number 1 costs.

mod aggregate;
mod commands;
mod events;
#[cfg(test)]
mod tests;

pub use aggregate::{Session, SessionStatus, RECENT_TOKENS};
pub use commands::SessionCommand;
pub use events::{RevocationReason, SessionEvent};

/// Why the `Session` aggregate refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the session already exists")]
    AlreadyStarted,
    #[error("no such session")]
    NotFound,
    #[error("the session has been revoked")]
    Revoked,
    #[error("the refresh token has expired")]
    Expired,
    #[error("the refresh token is not known to this session")]
    UnknownToken,
}

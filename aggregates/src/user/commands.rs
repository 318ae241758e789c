//! Commands accepted by the `User` aggregate. Every value is already
//! validated (value objects) and every clock reading is supplied by the caller.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::values::{Email, Username};

#[derive(Debug, Clone)]
pub enum UserCommand {
    /// Create the account. `password_hash` is a PHC string (argon2id). A
    /// verification code goes out with it, valid until `code_expires_at`.
    RegisterUser {
        user_id: Uuid,
        username: Username,
        email: Email,
        password_hash: String,
        at: DateTime<Utc>,
        code_expires_at: DateTime<Utc>,
    },
    /// Note that a verification code went out. The code itself is kept
    /// (hashed) outside the event store; this records only that it happened.
    RecordVerificationCodeIssued {
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// Mark the email verified; the caller has checked the code.
    VerifyEmail { at: DateTime<Utc> },
}

//! Commands accepted by the `User` aggregate. Every value is already
//! validated (value objects) and every clock reading is supplied by the caller.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::ExternalIdentity;
use super::{
    CodeChannel, LockoutPolicy, LoginMethod, PasswordChangeMethod, Role, SecondFactorProof,
};
use crate::values::{DisplayName, Email, Locale, Phone, Username};

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
    /// Change what the person says about themselves; `None` keeps a field.
    UpdateProfile {
        display_name: Option<DisplayName>,
        locale: Option<Locale>,
        at: DateTime<Utc>,
    },
    /// Ask to change the email address to `new_email`; a code goes to it
    /// (kept, hashed, outside the event store), valid until `expires_at`.
    /// The caller checked the password (the reserved check ends here).
    RequestEmailChange {
        new_email: Email,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// The code sent to the pending address was right: it becomes the
    /// account's (verified).
    ConfirmEmailChange {
        at: DateTime<Utc>,
    },
    /// Change the username; the old one stays reserved to this account
    /// until `old_reserved_until`. The caller checked the password (the
    /// reserved check ends here).
    ChangeUsername {
        username: Username,
        old_reserved_until: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// Create an account for a person an OpenID provider vouches for: its
    /// verified email, a derived username, no password, the identity
    /// linked.
    RegisterExternalUser {
        user_id: Uuid,
        username: Username,
        email: Email,
        identity: ExternalIdentity,
    },
    /// Link an identity at an OpenID provider. `claim_unverified`: the
    /// provider verified the account's email, so an account whose owner
    /// never did becomes the provider user's (see `identities`).
    LinkExternalIdentity {
        identity: ExternalIdentity,
        claim_unverified: bool,
    },
    UnlinkExternalIdentity {
        provider: String,
        at: DateTime<Utc>,
    },
    /// Note that a verification code went out. The code itself is kept
    /// (hashed) outside the event store; this records only that it happened.
    RecordVerificationCodeIssued {
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// Mark the email verified; the caller has checked the code.
    VerifyEmail {
        at: DateTime<Utc>,
    },
    /// Reserve one password check; refused while locked (see `lockout`).
    StartPasswordCheck {
        at: DateTime<Utc>,
        policy: LockoutPolicy,
    },
    /// The reserved check failed; locks the account at the limit.
    RecordLoginFailure {
        at: DateTime<Utc>,
        policy: LockoutPolicy,
    },
    /// The reserved check found the right password. The account decides
    /// what that means: `LoginSucceeded` (open `session_id` next) when it
    /// may sign in, `LoginRefused` when its email is unverified or it is
    /// deactivated. Either ends the reservation; neither counts a failure.
    CompletePasswordCheck {
        at: DateTime<Utc>,
        session_id: Uuid,
        method: LoginMethod,
    },
    /// Note that a one-time sign-in code went out by `channel` (the code is
    /// kept, hashed, outside the event store). Only an active account with
    /// that channel verified gets one. Redeeming it is a reserved check
    /// like a password's (`StartPasswordCheck`, then `RecordLoginFailure`
    /// or `CompletePasswordCheck`), so wrong codes count toward the lockout.
    IssueSignInCode {
        channel: CodeChannel,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// The first factor's session is waiting for the second: `proof` was
    /// matched at the edge (a TOTP code's step, a recovery code's hash).
    /// The account decides whether it is new: `SecondFactorVerified` and
    /// `LoginSucceeded` (open `session_id` next), or a refusal.
    VerifySecondFactor {
        proof: SecondFactorProof,
        session_id: Uuid,
        method: LoginMethod,
        at: DateTime<Utc>,
    },
    /// Show a new TOTP secret (sealed at the edge); it counts once
    /// confirmed. The caller checked the password (the reserved check ends
    /// here).
    StartTotpEnrollment {
        sealed_secret: String,
        at: DateTime<Utc>,
    },
    /// The pending secret's code matched at `step`: turn TOTP on, with the
    /// recovery codes' keyed hashes.
    ConfirmTotp {
        step: u64,
        recovery_codes: Vec<String>,
        at: DateTime<Utc>,
    },
    /// Replace the recovery codes (the caller checked the password).
    ReplaceRecoveryCodes {
        recovery_codes: Vec<String>,
        at: DateTime<Utc>,
    },
    /// Turn the second factor off: by the person (`by` none; password and
    /// a code at `step` checked) or by an admin.
    DisableTotp {
        by: Option<String>,
        step: Option<u64>,
        at: DateTime<Utc>,
    },
    /// Note that a password-reset code went out (the code itself is kept,
    /// hashed, outside the event store). Only a verified, active account
    /// gets one.
    RequestPasswordReset {
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// Replace the password hash. The caller proved the right to (a reset
    /// code, or the current password) and checked whether the new password
    /// is the current one (`reuses_current`: only argon2 can tell).
    ChangePassword {
        password_hash: String,
        method: PasswordChangeMethod,
        reuses_current: bool,
        at: DateTime<Utc>,
    },
    /// Put `phone` on the account, unverified; an SMS code goes out with
    /// it (kept, hashed, outside the event store). A verified phone stays
    /// the account's until this one is verified.
    AddPhone {
        phone: Phone,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// The pending phone's code was right: it becomes the account's phone.
    VerifyPhone {
        at: DateTime<Utc>,
    },
    /// Take the phone (verified or pending) off the account.
    RemovePhone {
        at: DateTime<Utc>,
    },
    /// An admin locks the account until `until`.
    LockAccount {
        until: DateTime<Utc>,
        by: String,
        at: DateTime<Utc>,
    },
    /// An admin lifts a lock (and clears the failure count).
    UnlockAccount {
        by: String,
        at: DateTime<Utc>,
    },
    /// Add one role, keeping the others; nothing happens if it is held.
    /// Decided against the current roles, so a concurrent change of other
    /// roles is never undone (unlike a `SetRoles` built from a stale read).
    GrantRole {
        role: Role,
        by: String,
        at: DateTime<Utc>,
    },
    /// Replace the roles; `user` is always kept.
    SetRoles {
        roles: BTreeSet<Role>,
        by: String,
        at: DateTime<Utc>,
    },
    DeactivateUser {
        by: String,
        at: DateTime<Utc>,
    },
    ReactivateUser {
        by: String,
        at: DateTime<Utc>,
    },
}

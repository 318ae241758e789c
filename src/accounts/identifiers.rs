//! Changing the identifiers a person signs in with, while signed in.
//!
//! Email (OWASP: re-authenticate, verify the new address, notify the old
//! one), as Keycloak's "update email" and Ory Kratos's settings flow do:
//! - `POST /me/email` checks the password (a wrong one counts toward the
//!   lockout), records the request and mails a code to the new address;
//!   nothing changes yet. An address another account uses gets no code but
//!   the same 202, and its owner a notice that someone tried, so the
//!   endpoint finds no accounts. The code is issued either way (and never
//!   sent when the address is taken), so both paths do the same work.
//! - `POST /me/email/verify` with the code makes the address the account's
//!   at once: the new address claimed and the old released in one commit
//!   (`409 email_taken` if another account verified it meanwhile). A notice
//!   goes to the old address; sessions go on. Login by the old address
//!   stops, by the new one starts.
//! - Asking for a code is limited per account (before the password check)
//!   and per target address (the codes-per-address quota and the resend
//!   cooldown every code flow has, once the password was right, so a
//!   mistyped password does not start the cooldown).
//!
//! Username: `PUT /me/username` checks the password and moves the claim in
//! one commit; the old username stays reserved to the account for
//! `IDENTITY_USERNAME_RESERVATION_DAYS` (the account may take it back;
//! nobody else may take it until then) and no longer signs in. Changing
//! only the case is allowed and reserves nothing.

use aggregates::values::{Email, Username};
use aggregates::{UserCommand, UserEvent};
use chrono::Utc;
use tracing::Instrument;
use uuid::Uuid;

use crate::auth::codes::CodePurpose;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{ClaimKind, Metadata};
use crate::telemetry::Chain;

/// `POST /me/email`: a code to `new_email` (or, when another account uses
/// it, a notice to that account), the same 202 either way.
pub async fn request_email_change(
    state: &AppState,
    user_id: Uuid,
    new_email: Email,
    password: &str,
    metadata: Metadata,
) -> Result<(), AppError> {
    let id = user_id.to_string();
    let limit = state.config.rate_limits.email_codes_per_address;
    state.limit("email-change-account", &id, limit).await?;
    let (user, _) = state.users.load(&id).await?;
    if user.email == new_email.as_str() {
        return Err(aggregates::UserError::SameEmail.into());
    }
    super::login::check_password(state, user_id, password, &metadata).await?;
    // After the password: a mistyped one must not start the cooldown.
    limit_codes_to(state, &new_email).await?;
    let owner = state
        .db
        .claim_owner(ClaimKind::Email, new_email.as_str())
        .await?;
    let taken = owner.is_some_and(|owner| owner != id);
    let code = state.codes.issue(CodePurpose::EmailChange, &id).await?;
    let ttl = state.codes.ttl();
    let now = Utc::now();
    let command = UserCommand::RequestEmailChange {
        new_email: new_email.clone(),
        at: now,
        expires_at: now + chrono::Duration::seconds(ttl.as_secs() as i64),
    };
    super::on_account(state, user_id, command, &metadata).await?;
    let mailer = state.mailer.clone();
    let to = new_email.as_str().to_owned();
    let send = async move {
        let sent = if taken {
            mailer.send_email_in_use(&to).await
        } else {
            mailer.send_email_change_code(&to, code.expose(), ttl).await
        };
        if let Err(error) = sent {
            tracing::error!(%user_id, error = %Chain(&error), "email-change mail was not sent");
        }
    };
    tokio::spawn(send.instrument(tracing::Span::current()));
    Ok(())
}

/// The quota of codes to the address and its cooldown, which start
/// whoever owns the address, so a 429 tells nothing.
async fn limit_codes_to(state: &AppState, new_email: &Email) -> Result<(), AppError> {
    let limit = state.config.rate_limits.email_codes_per_address;
    state
        .limit("email-codes", new_email.as_str(), limit)
        .await?;
    let to = new_email.as_str();
    super::code_flow::start_cooldown(state, "email-change", to, "email-change-cooldown").await
}

/// `POST /me/email/verify`: the code makes the pending address the
/// account's; the old address is told.
pub async fn confirm_email_change(
    state: &AppState,
    user_id: Uuid,
    code: &str,
    metadata: Metadata,
) -> Result<(), AppError> {
    let confirm = || UserCommand::ConfirmEmailChange { at: Utc::now() };
    let purpose = CodePurpose::EmailChange;
    let events =
        super::redeem_on_account(state, purpose, user_id, code, confirm, &metadata).await?;
    for event in events {
        if let UserEvent::EmailChanged {
            old_email,
            new_email,
            ..
        } = event
        {
            notify_old_address(state, old_email, new_email);
        }
    }
    Ok(())
}

fn notify_old_address(state: &AppState, old_email: String, new_email: String) {
    let mailer = state.mailer.clone();
    let send = async move {
        if let Err(error) = mailer.send_email_changed(&old_email, &new_email).await {
            tracing::error!(error = %Chain(&error), "email-changed notice was not sent");
        }
    };
    tokio::spawn(send.instrument(tracing::Span::current()));
}

/// `PUT /me/username`: the password checked, then the claim moved; the
/// old name reserved to the account.
pub async fn change_username(
    state: &AppState,
    user_id: Uuid,
    username: Username,
    password: &str,
    metadata: Metadata,
) -> Result<(), AppError> {
    let id = user_id.to_string();
    let (user, _) = state.users.load(&id).await?;
    if user.username == username.as_str() {
        return Err(aggregates::UserError::SameUsername.into());
    }
    // Answered before the password is checked: taken names are public
    // anyway (registration says so), and a doomed change should cost no
    // argon2 work and leave no reserved check behind. A race past this
    // point is settled by the claim in the commit.
    let owner = state
        .db
        .claim_owner(ClaimKind::Username, &username.normalized())
        .await?;
    if owner.is_some_and(|owner| owner != id) {
        return Err(AppError::UsernameTaken);
    }
    super::login::check_password(state, user_id, password, &metadata).await?;
    let now = Utc::now();
    let command = UserCommand::ChangeUsername {
        username,
        old_reserved_until: now + state.config.username_reservation,
        at: now,
    };
    super::on_account(state, user_id, command, &metadata).await?;
    Ok(())
}

//! Use cases of the account lifecycle: what happens between an HTTP request
//! (already parsed into value objects) and the aggregates. Each returns
//! `AppError`, whose mapping to HTTP lives in `http::problem`.

mod authorization;
mod code_flow;
mod external;
mod identifiers;
mod leaving;
mod login;
mod mfa;
mod password;
mod passwordless;
mod phone;
mod profile;
mod refresh;
mod register;
mod sessions;
pub mod timing;
mod verification;

pub use external::{LinkedIdentity, LOGIN_CODE_TTL};
pub mod oauth {
    //! The authorization-code grant of `/oauth/authorize` and `/oauth/token`.
    pub use super::authorization::*;
}
pub use identifiers::{change_username, confirm_email_change, request_email_change};
pub use leaving::deactivate_self;
pub use login::{login, Identifier};
pub mod oidc {
    //! The provider sign-in use cases, by their own names.
    pub use super::external::{
        callback, callback_refused, confirm_link, exchange, identities, sign_in_with_id_token,
        start, unlink, Started,
    };
}
pub use mfa::{
    complete_second_factor, confirm_totp, disable_totp, replace_recovery_codes, start_totp,
    MfaChallenge, RecoveryCodes, SecondFactorAnswer, SignedIn, TotpEnrollment, MFA_TOKEN_TTL,
};
pub use password::{change_password, confirm_reset, request_reset, RESET_CODE_TTL};
pub use passwordless::{request_sign_in_code, sign_in_with_code};
pub use phone::{add_phone, remove_phone, verify_phone};
pub use profile::{cached_profile, profile, update_profile, Me};
pub use refresh::{logout, refresh, RefreshAccount};
pub use register::{register, NewAccount, Profile};
pub use sessions::{
    end_session, list_sessions, logout_all, revoke_all_sessions, revoke_other_sessions,
    start_session, Amr, ClientInfo, SessionView, TokenPair,
};
pub use verification::{resend_verification, verify_email};

use projections::Cursor;

use crate::error::AppError;
use crate::state::AppState;

/// Looks up the account a normalized email or username belongs to.
pub(crate) async fn find_login(
    state: &AppState,
    identifier: &Identifier,
) -> Result<Option<LoginRow>, AppError> {
    use crate::store::hot::{LOGIN_BY_EMAIL, LOGIN_BY_PHONE, LOGIN_BY_USERNAME};
    let (sql, value) = match identifier {
        Identifier::Email(email) => (LOGIN_BY_EMAIL, email.as_str().to_owned()),
        Identifier::Phone(phone) => (LOGIN_BY_PHONE, phone.as_str().to_owned()),
        Identifier::Username(name) => (LOGIN_BY_USERNAME, name.to_ascii_lowercase()),
    };
    Ok(crate::store::on_either!(&state.db, pool => {
        sqlx::query_as::<_, LoginRow>(sql)
            .bind(value)
            .fetch_optional(pool)
            .await
    })?)
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct LoginRow {
    pub user_id: uuid::Uuid,
    pub email: String,
    pub email_verified: bool,
    pub roles: crate::store::Roles,
}

/// Runs `command` on the account `user_id` and waits for the read models to
/// show it (read-your-writes for the caller's next request).
pub(crate) async fn on_account(
    state: &AppState,
    user_id: uuid::Uuid,
    command: aggregates::UserCommand,
    metadata: &crate::store::Metadata,
) -> Result<aggregates::User, AppError> {
    let committed = state
        .users
        .execute(&user_id.to_string(), command, metadata)
        .await?;
    settle(state, committed.cursor).await;
    Ok(committed.state)
}

/// Redeems `code` of `purpose` on the account `user_id` by running the
/// command it unlocks (built when the code is right; the code is put back
/// if the command fails), then waits for the read models. Answers the
/// events recorded.
pub(crate) async fn redeem_on_account(
    state: &AppState,
    purpose: crate::auth::codes::CodePurpose,
    user_id: uuid::Uuid,
    code: &str,
    command: impl FnOnce() -> aggregates::UserCommand,
    metadata: &crate::store::Metadata,
) -> Result<Vec<aggregates::UserEvent>, AppError> {
    let id = user_id.to_string();
    let run = || state.users.execute(&id, command(), metadata);
    let committed = state.codes.redeem(purpose, &id, code, run).await?;
    settle(state, committed.cursor).await;
    Ok(committed.events)
}

/// Waits for the projections to show `cursor` (read-your-writes).
pub(crate) async fn settle(state: &AppState, cursor: Option<Cursor>) {
    state.projections.wait_for(cursor).await;
}

//! The TOTP second factor: enrollment, the second step of a sign-in,
//! recovery codes, removal.
//!
//! Any first factor (password, sign-in code, OpenID provider) of an account
//! with TOTP on ends in `SecondFactorRequired` and an `mfa_token` instead
//! of tokens. The token is single use and lasts [`MFA_TOKEN_TTL`]; it is a
//! one-time code of its own purpose (kept as a MAC, like every code) under
//! an id of its own, so two sign-ins of one account (two devices) do not
//! disturb each other. It names its account and first factor in the clear
//! before the random part (the MAC covers both, so neither can be
//! changed). A wrong TOTP or recovery code does not use the token up (the
//! person may mistype); it is a failed check of the account's lockout, as
//! a wrong password is, so guessing ends at the lockout limit.

use std::time::Duration;

use aggregates::user::{LoginMethod, SecondFactorProof};
use aggregates::{User, UserCommand, UserError};
use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use super::sessions::{start_session, Amr, ClientInfo, TokenPair};
use crate::auth::codes::CodePurpose;
use crate::auth::CodeError;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{Actor, CommandError, Committed, Metadata};

/// How long a first factor waits for the second.
pub const MFA_TOKEN_TTL: Duration = Duration::from_secs(300);

/// The answer to a right first factor when a second one is needed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MfaChallenge {
    /// Always `true`.
    pub mfa_required: bool,
    /// Send it to `POST /auth/mfa` with a code; single use.
    pub mfa_token: String,
    /// Seconds until `mfa_token` expires.
    pub expires_in: u64,
    /// What `POST /auth/mfa` takes: `totp`, `recovery_code`.
    pub methods: Vec<&'static str>,
}

/// What a right first factor gives: tokens, or the wait for the second.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SignedIn {
    Tokens(TokenPair),
    SecondFactor(MfaChallenge),
}

/// What the person gives as the second factor.
#[derive(Debug, Clone)]
pub enum SecondFactorAnswer {
    Totp(String),
    RecoveryCode(String),
}

/// A first factor was right: tokens when the account signed in, the
/// challenge when it waits for a second factor, the refusal otherwise.
pub(super) async fn after_first_factor(
    state: &AppState,
    committed: Committed<User>,
    session_id: Uuid,
    method: LoginMethod,
    client: ClientInfo,
    metadata: Metadata,
) -> Result<SignedIn, AppError> {
    if let Some(refused) = committed.events.iter().find_map(super::login::refusal) {
        return Err(refused);
    }
    let user_id = committed.state.id.ok_or(AppError::NotFound)?;
    if committed
        .events
        .iter()
        .any(|e| matches!(e, aggregates::UserEvent::SecondFactorRequired { .. }))
    {
        return Ok(SignedIn::SecondFactor(
            challenge(state, user_id, method).await?,
        ));
    }
    let roles = super::refresh::roles(&committed.state);
    let amr = Amr::of(method, None);
    let pair = start_session(state, user_id, session_id, roles, amr, client, metadata).await?;
    Ok(SignedIn::Tokens(pair))
}

/// Issues the `mfa_token` of `user_id`'s sign-in by `method`.
pub(super) async fn challenge(
    state: &AppState,
    user_id: Uuid,
    method: LoginMethod,
) -> Result<MfaChallenge, AppError> {
    let id = Uuid::new_v4();
    let prefix = format!("{}.{}.", user_id.simple(), method_name(method));
    let token = state
        .codes
        .issue_token(CodePurpose::SecondFactor, &id.to_string(), &prefix)
        .await?;
    Ok(MfaChallenge {
        mfa_required: true,
        mfa_token: format!("{}.{}", id.simple(), token.expose()),
        expires_in: MFA_TOKEN_TTL.as_secs(),
        methods: vec!["totp", "recovery_code"],
    })
}

fn method_name(method: LoginMethod) -> &'static str {
    match method {
        LoginMethod::Password => "password",
        LoginMethod::EmailCode => "email_code",
        LoginMethod::SmsCode => "sms_code",
        LoginMethod::Oidc => "oidc",
    }
}

/// `id.user.method.random` into its id, its account, its first factor and
/// the part the MAC was made of (`user.method.random`).
fn parse_token(token: &str) -> Option<(Uuid, Uuid, LoginMethod, &str)> {
    let (id, mac_part) = token.trim().split_once('.')?;
    let (user, rest) = mac_part.split_once('.')?;
    let (method, _) = rest.split_once('.')?;
    let method = [
        LoginMethod::Password,
        LoginMethod::EmailCode,
        LoginMethod::SmsCode,
        LoginMethod::Oidc,
    ]
    .into_iter()
    .find(|m| method_name(*m) == method)?;
    Some((
        Uuid::try_parse(id).ok()?,
        Uuid::try_parse(user).ok()?,
        method,
        mac_part,
    ))
}

/// `POST /auth/mfa`: the second factor of the sign-in `mfa_token` began.
pub async fn complete_second_factor(
    state: &AppState,
    mfa_token: &str,
    answer: SecondFactorAnswer,
    client: ClientInfo,
    mut metadata: Metadata,
) -> Result<TokenPair, AppError> {
    let (token_id, user_id, method, mac_part) =
        parse_token(mfa_token).ok_or(AppError::InvalidMfaToken)?;
    metadata.actor.get_or_insert(Actor::User(user_id));
    let session_id = Uuid::now_v7();
    let proved = state
        .codes
        .redeem(
            CodePurpose::SecondFactor,
            &token_id.to_string(),
            mac_part,
            || prove(state, user_id, method, &answer, session_id, &metadata),
        )
        .await;
    let committed = match proved {
        Ok(committed) => committed,
        Err(CodeError::Invalid | CodeError::TooManyAttempts) => {
            return Err(AppError::InvalidMfaToken)
        }
        Err(CodeError::Then(error)) => return Err(error),
        Err(CodeError::Database(error)) => return Err(error.into()),
    };
    if let Some(refused) = committed.events.iter().find_map(super::login::refusal) {
        return Err(refused);
    }
    let roles = super::refresh::roles(&committed.state);
    let amr = Amr::of(method, Some(answer_method(&answer)));
    start_session(state, user_id, session_id, roles, amr, client, metadata).await
}

fn answer_method(answer: &SecondFactorAnswer) -> aggregates::user::SecondFactorMethod {
    match answer {
        SecondFactorAnswer::Totp(_) => aggregates::user::SecondFactorMethod::Totp,
        SecondFactorAnswer::RecoveryCode(_) => aggregates::user::SecondFactorMethod::RecoveryCode,
    }
}

/// Under a reserved check of the lockout: matches the answer and records
/// the login, or counts a failure.
async fn prove(
    state: &AppState,
    user_id: Uuid,
    method: LoginMethod,
    answer: &SecondFactorAnswer,
    session_id: Uuid,
    metadata: &Metadata,
) -> Result<Committed<User>, AppError> {
    let id = user_id.to_string();
    let user = super::login::reserve_check(state, &id, metadata).await?;
    let Some(proof) = match_answer(state, user_id, &user, answer)? else {
        return Err(failure(state, &id, metadata).await);
    };
    let verify = UserCommand::VerifySecondFactor {
        proof,
        session_id,
        method,
        at: Utc::now(),
    };
    match state.users.execute(&id, verify, metadata).await {
        // Another request used the same code a moment ago.
        Err(CommandError::Domain(UserError::SecondFactorReplayed)) => {
            Err(failure(state, &id, metadata).await)
        }
        other => Ok(other?),
    }
}

/// The proof `answer` is for `user`, or `None` when it is wrong (or used).
fn match_answer(
    state: &AppState,
    user_id: Uuid,
    user: &User,
    answer: &SecondFactorAnswer,
) -> Result<Option<SecondFactorProof>, AppError> {
    let Some(sealed) = &user.mfa.totp_secret else {
        return Ok(None);
    };
    Ok(match answer {
        SecondFactorAnswer::Totp(code) => state
            .totp
            .matching_step(user_id, sealed, code, now_secs(), user.mfa.last_used_step)
            .map_err(AppError::internal)?
            .map(|step| SecondFactorProof::Totp { step }),
        SecondFactorAnswer::RecoveryCode(code) => {
            let hash = state.totp.recovery_hash(user_id, code);
            user.mfa
                .recovery_codes
                .contains(&hash)
                .then_some(SecondFactorProof::RecoveryCode { hash })
        }
    })
}

/// A wrong second factor: a failed check (the lock at the limit).
async fn failure(state: &AppState, id: &str, metadata: &Metadata) -> AppError {
    match super::login::record_failure(state, id, metadata).await {
        Ok(()) => AppError::InvalidCode,
        Err(error) => error,
    }
}

fn now_secs() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or_default()
}

/// What enrollment shows, once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TotpEnrollment {
    /// Base32, for typing into an authenticator app by hand.
    pub secret: String,
    pub otpauth_uri: String,
    /// The `otpauth_uri` as an SVG QR code.
    pub qr_svg: String,
}

/// Recovery codes, shown once: each signs in once in place of a TOTP code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// `POST /me/mfa/totp`: a new secret to confirm (the password checked).
pub async fn start_totp(
    state: &AppState,
    user_id: Uuid,
    password: &str,
    metadata: Metadata,
) -> Result<TotpEnrollment, AppError> {
    let user = super::login::check_password(state, user_id, password, &metadata).await?;
    let enrollment = state
        .totp
        .enroll(user_id, &user.username)
        .map_err(AppError::internal)?;
    let command = UserCommand::StartTotpEnrollment {
        sealed_secret: enrollment.sealed,
        at: Utc::now(),
    };
    super::on_account(state, user_id, command, &metadata).await?;
    Ok(TotpEnrollment {
        secret: enrollment.secret,
        otpauth_uri: enrollment.otpauth_uri,
        qr_svg: enrollment.qr_svg,
    })
}

/// `POST /me/mfa/totp/confirm`: the pending secret's first code turns
/// TOTP on; answers the recovery codes.
pub async fn confirm_totp(
    state: &AppState,
    user_id: Uuid,
    code: &str,
    metadata: Metadata,
) -> Result<RecoveryCodes, AppError> {
    let id = user_id.to_string();
    let (user, _) = state.users.load(&id).await?;
    if user.mfa.enabled() {
        return Err(UserError::TotpAlreadyEnabled.into());
    }
    let sealed = user
        .mfa
        .pending_secret
        .as_deref()
        .ok_or(UserError::NoTotpEnrollment)?;
    let step = state
        .totp
        .matching_step(user_id, sealed, code, now_secs(), 0)
        .map_err(AppError::internal)?
        .ok_or(AppError::InvalidCode)?;
    let (codes, hashes) = state.totp.recovery_codes(user_id);
    let command = UserCommand::ConfirmTotp {
        step,
        recovery_codes: hashes,
        at: Utc::now(),
    };
    super::on_account(state, user_id, command, &metadata).await?;
    Ok(RecoveryCodes {
        recovery_codes: codes,
    })
}

/// `POST /me/mfa/recovery-codes`: new codes replace the old (the password
/// checked).
pub async fn replace_recovery_codes(
    state: &AppState,
    user_id: Uuid,
    password: &str,
    metadata: Metadata,
) -> Result<RecoveryCodes, AppError> {
    super::login::check_password(state, user_id, password, &metadata).await?;
    let (codes, hashes) = state.totp.recovery_codes(user_id);
    let command = UserCommand::ReplaceRecoveryCodes {
        recovery_codes: hashes,
        at: Utc::now(),
    };
    super::on_account(state, user_id, command, &metadata).await?;
    Ok(RecoveryCodes {
        recovery_codes: codes,
    })
}

/// `DELETE /me/mfa/totp`: off, with the password and a current code (a
/// wrong code counts toward the lockout).
pub async fn disable_totp(
    state: &AppState,
    user_id: Uuid,
    password: &str,
    code: &str,
    metadata: Metadata,
) -> Result<(), AppError> {
    let id = user_id.to_string();
    let user = super::login::check_password(state, user_id, password, &metadata).await?;
    let answer = SecondFactorAnswer::Totp(code.to_owned());
    let step = match match_answer(state, user_id, &user, &answer)? {
        Some(SecondFactorProof::Totp { step }) => step,
        _ if !user.mfa.enabled() => return Err(UserError::TotpNotEnabled.into()),
        _ => return Err(failure(state, &id, &metadata).await),
    };
    let command = UserCommand::DisableTotp {
        by: None,
        step: Some(step),
        at: Utc::now(),
    };
    super::on_account(state, user_id, command, &metadata).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mfa_token_names_its_account_and_first_factor() {
        let (id, user) = (Uuid::from_u128(1), Uuid::from_u128(7));
        let token = format!("{}.{}.email_code.abc", id.simple(), user.simple());
        let (parsed_id, parsed, method, mac_part) = parse_token(&token).unwrap();
        assert_eq!((parsed_id, parsed), (id, user));
        assert_eq!(method, LoginMethod::EmailCode);
        assert_eq!(mac_part, format!("{}.email_code.abc", user.simple()));
        assert!(parse_token("nonsense").is_none());
        let root = format!("{}.{}.root.abc", id.simple(), user.simple());
        assert!(parse_token(&root).is_none());
    }
}

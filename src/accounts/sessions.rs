//! Opening sessions (the token pair) and listing or ending a user's sessions.

use aggregates::session::RevocationReason;
use aggregates::user::{LoginMethod, SecondFactorMethod};
use aggregates::{SessionCommand, SessionError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::RefreshToken;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{on_either, CommandError, Metadata, Start};

/// Who is calling, as recorded on a new session.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// What a successful login, verification or refresh returns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
    pub session_id: Uuid,
}

/// How a session was signed into: the access tokens' `amr` claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Amr(pub Vec<String>);

impl Amr {
    /// RFC 8176 names where there is one (`pwd`, `otp`, `mfa`), ours for
    /// the rest.
    pub fn of(first: LoginMethod, second: Option<SecondFactorMethod>) -> Self {
        let first = match first {
            LoginMethod::Password => "pwd",
            LoginMethod::EmailCode => "email_code",
            LoginMethod::SmsCode => "sms_code",
            LoginMethod::Oidc => "oidc",
        };
        let mut names = vec![first.to_owned()];
        if let Some(second) = second {
            names.push(
                match second {
                    SecondFactorMethod::Totp => "otp",
                    SecondFactorMethod::RecoveryCode => "recovery_code",
                }
                .to_owned(),
            );
            names.push("mfa".to_owned());
        }
        Self(names)
    }
}

impl TokenPair {
    pub(super) fn new(
        state: &AppState,
        user: Uuid,
        session: Uuid,
        roles: Vec<String>,
        amr: Vec<String>,
        refresh: &RefreshToken,
    ) -> Result<Self, AppError> {
        let access_token = state
            .tokens
            .issue(user, session, roles, amr)
            .map_err(AppError::internal)?;
        Ok(Self {
            access_token,
            token_type: "Bearer",
            expires_in: state.tokens.ttl().as_secs(),
            refresh_token: refresh.expose(),
            refresh_expires_in: state.config.tokens.refresh_ttl.as_secs(),
            session_id: session,
        })
    }
}

/// Converts a configured duration for timestamp arithmetic.
pub(crate) fn span(duration: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// Opens a new session for a user whose credentials were just checked.
pub async fn start_session(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
    roles: Vec<String>,
    amr: Amr,
    client: ClientInfo,
    metadata: Metadata,
) -> Result<TokenPair, AppError> {
    let refresh = RefreshToken::generate(session_id);
    let now = Utc::now();
    let command = SessionCommand::StartSession {
        session_id,
        user_id,
        refresh_token_hash: refresh.hash(),
        user_agent: client.user_agent,
        ip: client.ip,
        amr: amr.0.clone(),
        at: now,
        expires_at: now + span(state.config.tokens.refresh_ttl),
    };
    // The id was just made (a UUID v7): a new stream, nothing to load.
    let committed = state
        .sessions
        .execute_from(
            &session_id.to_string(),
            Start::new_stream(),
            command,
            &metadata,
        )
        .await?;
    super::settle(state, committed.cursor).await;
    TokenPair::new(state, user_id, session_id, roles, amr.0, &refresh)
}

/// One entry of `GET /auth/sessions`.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Whether this is the session of the token used to ask.
    #[sqlx(default)]
    pub current: bool,
}

/// The user's open sessions, newest first.
pub async fn list_sessions(
    state: &AppState,
    user_id: Uuid,
    current: Uuid,
) -> Result<Vec<SessionView>, AppError> {
    let mut sessions: Vec<SessionView> = on_either!(&state.db, pool => {
        sqlx::query_as(crate::store::hot::SESSIONS_OF_USER)
        .bind(user_id)
        .bind(Utc::now())
        .fetch_all(pool)
        .await
    })?;
    for session in &mut sessions {
        session.current = session.id == current;
    }
    Ok(sessions)
}

/// Revokes every open session of the user (logout-all).
pub async fn logout_all(
    state: &AppState,
    user_id: Uuid,
    metadata: Metadata,
) -> Result<(), AppError> {
    revoke_all_sessions(state, user_id, RevocationReason::LogoutAll, metadata).await
}

/// Revokes every session of the user that the session list knows of.
///
/// A session opened concurrently (not yet projected) can escape this sweep;
/// for deactivation that does not matter, because refresh also checks that
/// the account is active.
pub async fn revoke_all_sessions(
    state: &AppState,
    user_id: Uuid,
    reason: RevocationReason,
    metadata: Metadata,
) -> Result<(), AppError> {
    revoke_sessions(state, user_id, None, reason, metadata).await
}

/// Revokes every session of the user but `keep` (the caller's, when a
/// signed-in person changed the password): reason `password_changed`.
pub async fn revoke_other_sessions(
    state: &AppState,
    user_id: Uuid,
    keep: Option<Uuid>,
    metadata: Metadata,
) -> Result<(), AppError> {
    let reason = RevocationReason::PasswordChanged;
    revoke_sessions(state, user_id, keep, reason, metadata).await
}

async fn revoke_sessions(
    state: &AppState,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: RevocationReason,
    metadata: Metadata,
) -> Result<(), AppError> {
    let ids: Vec<Uuid> = on_either!(&state.db, pool => {
        sqlx::query_scalar(
            "SELECT session_id FROM user_sessions WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await
    })?;
    let mut last = None;
    for id in ids.into_iter().filter(|id| Some(*id) != keep) {
        let command = SessionCommand::RevokeSession {
            reason,
            at: Utc::now(),
        };
        match state
            .sessions
            .execute(&id.to_string(), command, &metadata)
            .await
        {
            Ok(committed) => last = committed.cursor.or(last),
            Err(CommandError::Domain(SessionError::NotFound)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    super::settle(state, last).await;
    Ok(())
}

/// Ends one of `user_id`'s own sessions (a lost phone's): its refresh token
/// fails from then on, its access tokens at once. Someone else's session,
/// or one that never was, is 404; an already ended one is left as it is.
pub async fn end_session(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
    metadata: Metadata,
) -> Result<(), AppError> {
    let id = session_id.to_string();
    let (session, _) = state.sessions.load(&id).await?;
    if session.user_id != Some(user_id) {
        return Err(AppError::NotFound);
    }
    let command = SessionCommand::RevokeSession {
        reason: RevocationReason::EndedByUser,
        at: Utc::now(),
    };
    // Revoking an ended session records nothing (the aggregate's no-op).
    let committed = state.sessions.execute(&id, command, &metadata).await?;
    super::settle(state, committed.cursor).await;
    Ok(())
}

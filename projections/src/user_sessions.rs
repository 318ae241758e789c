//! `user_sessions`: each user's sessions with when they were last used, for
//! `/auth/sessions` and logout-all.

use aggregates::SessionEvent;
use async_trait::async_trait;
use sqlx::PgConnection;

use crate::projector::{aggregate_uuid, decode, Projection, ProjectionError};
use crate::StoredEvent;

pub struct UserSessions;

#[async_trait]
impl Projection for UserSessions {
    fn name(&self) -> &'static str {
        "user_sessions"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["user_sessions"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if event.aggregate_type != "session" {
            return Ok(());
        }
        let session_id = aggregate_uuid(event)?;
        match decode::<SessionEvent>(event)? {
            SessionEvent::SessionStarted {
                user_id,
                user_agent,
                ip,
                started_at,
                expires_at,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO user_sessions (session_id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
                     VALUES ($1, $2, $3, $3, $4, $5, $6)",
                )
                .bind(session_id)
                .bind(user_id)
                .bind(started_at)
                .bind(expires_at)
                .bind(user_agent)
                .bind(ip)
                .execute(conn)
                .await?;
            }
            SessionEvent::RefreshTokenRotated {
                rotated_at,
                expires_at,
                ..
            } => {
                sqlx::query(
                    "UPDATE user_sessions SET last_used_at = $2, expires_at = $3 WHERE session_id = $1",
                )
                .bind(session_id)
                .bind(rotated_at)
                .bind(expires_at)
                .execute(conn)
                .await?;
            }
            SessionEvent::SessionRevoked { revoked_at, .. } => {
                sqlx::query("UPDATE user_sessions SET revoked_at = $2 WHERE session_id = $1")
                    .bind(session_id)
                    .bind(revoked_at)
                    .execute(conn)
                    .await?;
            }
            SessionEvent::RefreshTokenReuseDetected { .. } => {}
        }
        Ok(())
    }
}

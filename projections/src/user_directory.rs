//! `user_directory`: one row per account with the profile served by `/me`
//! and searched by admins.

use aggregates::UserEvent;
use async_trait::async_trait;
use sqlx::PgConnection;

use crate::projector::{aggregate_uuid, decode, Projection, ProjectionError};
use crate::StoredEvent;

pub struct UserDirectory;

#[async_trait]
impl Projection for UserDirectory {
    fn name(&self) -> &'static str {
        "user_directory"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["user_directory"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if event.aggregate_type != "user" {
            return Ok(());
        }
        let user_id = aggregate_uuid(event)?;
        match decode::<UserEvent>(event)? {
            UserEvent::UserRegistered {
                username,
                email,
                registered_at,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO user_directory (user_id, username, email, email_verified, roles, status, created_at, updated_at)
                     VALUES ($1, $2, $3, false, ARRAY['user'], 'active', $4, $4)",
                )
                .bind(user_id)
                .bind(username)
                .bind(email)
                .bind(registered_at)
                .execute(conn)
                .await?;
            }
            UserEvent::EmailVerified { verified_at } => {
                sqlx::query(
                    "UPDATE user_directory SET email_verified = true, updated_at = $2 WHERE user_id = $1",
                )
                .bind(user_id)
                .bind(verified_at)
                .execute(conn)
                .await?;
            }
            UserEvent::AccountLocked { until, at, .. } => {
                update(conn, user_id, "locked_until = $2", until, at).await?;
            }
            UserEvent::AccountUnlocked { at, .. } => {
                update(conn, user_id, "locked_until = NULL", at, at).await?;
            }
            // A right password ends any lock count, refused or not.
            UserEvent::LoginSucceeded { at, .. } | UserEvent::LoginRefused { at, .. } => {
                update(conn, user_id, "locked_until = NULL", at, at).await?;
            }
            UserEvent::RoleGranted { role, at, .. } => {
                let set = "roles = ARRAY(SELECT DISTINCT r FROM unnest(array_append(roles, $2)) r ORDER BY r)";
                update(conn, user_id, set, role.as_str(), at).await?;
            }
            UserEvent::RoleRevoked { role, at, .. } => {
                update(
                    conn,
                    user_id,
                    "roles = array_remove(roles, $2)",
                    role.as_str(),
                    at,
                )
                .await?;
            }
            UserEvent::UserDeactivated { at, .. } => {
                update(conn, user_id, "status = $2", "deactivated", at).await?;
            }
            UserEvent::UserReactivated { at, .. } => {
                update(conn, user_id, "status = $2", "active", at).await?;
            }
            UserEvent::EmailVerificationCodeIssued { .. }
            | UserEvent::PasswordCheckStarted { .. }
            | UserEvent::LoginFailed { .. } => {}
        }
        Ok(())
    }
}

/// Sets `assignment` (which may use `$2`) on one row and stamps `updated_at`.
async fn update<T>(
    conn: &mut PgConnection,
    user_id: uuid::Uuid,
    assignment: &str,
    value: T,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ProjectionError>
where
    T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
{
    sqlx::query(&format!(
        "UPDATE user_directory SET {assignment}, updated_at = $3 WHERE user_id = $1"
    ))
    .bind(user_id)
    .bind(value)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

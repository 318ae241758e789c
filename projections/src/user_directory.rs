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
            UserEvent::EmailVerificationCodeIssued { .. } => {}
        }
        Ok(())
    }
}

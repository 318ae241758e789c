//! `login_lookup`: normalized email and username to the user id, password
//! hash and status that login needs, in one indexed row.

use aggregates::UserEvent;
use async_trait::async_trait;
use sqlx::PgConnection;

use crate::projector::{aggregate_uuid, decode, Projection, ProjectionError};
use crate::StoredEvent;

pub struct LoginLookup;

#[async_trait]
impl Projection for LoginLookup {
    fn name(&self) -> &'static str {
        "login_lookup"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["login_lookup"]
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
                password_hash,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO login_lookup (user_id, email, username_normalized, password_hash, email_verified, roles, status)
                     VALUES ($1, $2, $3, $4, false, ARRAY['user'], 'active')",
                )
                .bind(user_id)
                .bind(email)
                .bind(username.to_ascii_lowercase())
                .bind(password_hash)
                .execute(conn)
                .await?;
            }
            UserEvent::EmailVerified { .. } => {
                sqlx::query("UPDATE login_lookup SET email_verified = true WHERE user_id = $1")
                    .bind(user_id)
                    .execute(conn)
                    .await?;
            }
            UserEvent::EmailVerificationCodeIssued { .. } => {}
        }
        Ok(())
    }
}

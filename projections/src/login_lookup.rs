//! `login_lookup`: normalized email and username to the user id, roles and
//! status that login needs, in one indexed row.

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
                username, email, ..
            } => {
                sqlx::query(
                    "INSERT INTO login_lookup (user_id, email, username_normalized, email_verified, roles, status)
                     VALUES ($1, $2, $3, false, ARRAY['user'], 'active')",
                )
                .bind(user_id)
                .bind(email)
                .bind(username.to_ascii_lowercase())
                .execute(conn)
                .await?;
            }
            UserEvent::EmailVerified { .. } => {
                sqlx::query("UPDATE login_lookup SET email_verified = true WHERE user_id = $1")
                    .bind(user_id)
                    .execute(conn)
                    .await?;
            }
            UserEvent::RoleGranted { role, .. } => {
                let set = "roles = ARRAY(SELECT DISTINCT r FROM unnest(array_append(roles, $2)) r ORDER BY r)";
                set_column(conn, user_id, set, role.as_str()).await?;
            }
            UserEvent::RoleRevoked { role, .. } => {
                set_column(
                    conn,
                    user_id,
                    "roles = array_remove(roles, $2)",
                    role.as_str(),
                )
                .await?;
            }
            UserEvent::UserDeactivated { .. } => {
                set_column(conn, user_id, "status = $2", "deactivated").await?;
            }
            UserEvent::UserReactivated { .. } => {
                set_column(conn, user_id, "status = $2", "active").await?;
            }
            // Only an admin's lock stops refreshes; the failure limit's
            // stops new password logins alone (see `auth::revocations`).
            UserEvent::AccountLocked {
                until, by: Some(_), ..
            } => {
                sqlx::query("UPDATE login_lookup SET admin_locked_until = $2 WHERE user_id = $1")
                    .bind(user_id)
                    .bind(until)
                    .execute(conn)
                    .await?;
            }
            UserEvent::AccountUnlocked { .. } => {
                sqlx::query("UPDATE login_lookup SET admin_locked_until = NULL WHERE user_id = $1")
                    .bind(user_id)
                    .execute(conn)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

async fn set_column(
    conn: &mut PgConnection,
    user_id: uuid::Uuid,
    assignment: &str,
    value: &str,
) -> Result<(), ProjectionError> {
    sqlx::query(&format!(
        "UPDATE login_lookup SET {assignment} WHERE user_id = $1"
    ))
    .bind(user_id)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(())
}

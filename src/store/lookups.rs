//! Lookups in the read models that operator commands need before they can
//! name an aggregate.

use std::sync::Arc;

use projections::Projector;
use uuid::Uuid;

use super::database::on_either;
use super::{Database, StoreError};

impl Database {
    /// The account with this (normalized) email, after bringing
    /// `login_lookup` up to the head of the log: an operator command sees
    /// every registration even with no server running.
    pub async fn user_id_by_email(&self, email: &str) -> anyhow::Result<Option<Uuid>> {
        let lookup = Projector::new(
            self.projection_store(),
            vec![Arc::new(projections::login_lookup::LoginLookup)],
        )
        .await?;
        lookup.catch_up().await?;
        let found = on_either!(self, pool => {
            sqlx::query_scalar("SELECT user_id FROM login_lookup WHERE email = $1")
                .bind(email)
                .fetch_optional(pool)
                .await
        });
        Ok(found.map_err(StoreError::from)?)
    }
}

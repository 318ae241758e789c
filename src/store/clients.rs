//! Registered OAuth clients as stored: id and secret hash, on either
//! backend. What they are for: `oauth_clients`.

use chrono::{DateTime, Utc};

use super::{on_either, Database, StoreError};

/// A client's row, without its secret.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct StoredClient {
    pub client_id: String,
    pub created_at: DateTime<Utc>,
}

impl Database {
    /// Registers `client_id` with `secret_hash`; false when the id is
    /// taken (nothing changes then).
    pub async fn add_client(
        &self,
        client_id: &str,
        secret_hash: &[u8],
    ) -> Result<bool, StoreError> {
        let added = on_either!(self, pool => {
            sqlx::query("INSERT INTO oauth_clients (client_id, secret_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT (client_id) DO NOTHING")
                .bind(client_id)
                .bind(secret_hash)
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(added == 1)
    }

    /// The stored hash of `client_id`'s secret, if it is registered.
    pub async fn client_secret_hash(&self, client_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(on_either!(self, pool => {
            sqlx::query_scalar("SELECT secret_hash FROM oauth_clients WHERE client_id = $1")
                .bind(client_id)
                .fetch_optional(pool)
                .await
        })?)
    }

    /// Every registered client, oldest first.
    pub async fn clients(&self) -> Result<Vec<StoredClient>, StoreError> {
        Ok(on_either!(self, pool => {
            sqlx::query_as("SELECT client_id, created_at FROM oauth_clients ORDER BY created_at, client_id")
                .fetch_all(pool)
                .await
        })?)
    }

    /// Removes `client_id`; false when it was not registered.
    pub async fn remove_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let removed = on_either!(self, pool => {
            sqlx::query("DELETE FROM oauth_clients WHERE client_id = $1")
                .bind(client_id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(removed == 1)
    }
}

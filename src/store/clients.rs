//! Registered OAuth clients as stored: id, secret hash and redirect URIs
//! (a JSON array), on either backend. What they are for: `oauth_clients`.

use chrono::{DateTime, Utc};

use super::{on_either, Database, StoreError};

/// A client's row, without its secret.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct StoredClient {
    pub client_id: String,
    #[sqlx(try_from = "String")]
    pub redirect_uris: RedirectUris,
    pub created_at: DateTime<Utc>,
}

/// A client's redirect URIs, stored as a JSON array of exact URIs (text on
/// both backends, so one statement serves both).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct RedirectUris(pub Vec<String>);

impl TryFrom<String> for RedirectUris {
    type Error = serde_json::Error;

    fn try_from(stored: String) -> Result<Self, Self::Error> {
        serde_json::from_str(&stored).map(Self)
    }
}

impl Database {
    /// Registers `client_id` with `secret_hash` and `redirect_uris`; false
    /// when the id is taken (nothing changes then).
    pub async fn add_client(
        &self,
        client_id: &str,
        secret_hash: &[u8],
        redirect_uris: &[String],
    ) -> Result<bool, StoreError> {
        let uris = serde_json::to_string(redirect_uris)?;
        let added = on_either!(self, pool => {
            sqlx::query("INSERT INTO oauth_clients (client_id, secret_hash, redirect_uris, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (client_id) DO NOTHING")
                .bind(client_id)
                .bind(secret_hash)
                .bind(&uris)
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

    /// The client `client_id`, if it is registered.
    pub async fn client(&self, client_id: &str) -> Result<Option<StoredClient>, StoreError> {
        Ok(on_either!(self, pool => {
            sqlx::query_as("SELECT client_id, redirect_uris, created_at FROM oauth_clients WHERE client_id = $1")
                .bind(client_id)
                .fetch_optional(pool)
                .await
        })?)
    }

    /// Every registered client, oldest first.
    pub async fn clients(&self) -> Result<Vec<StoredClient>, StoreError> {
        Ok(on_either!(self, pool => {
            sqlx::query_as("SELECT client_id, redirect_uris, created_at FROM oauth_clients ORDER BY created_at, client_id")
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

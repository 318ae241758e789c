//! JWT signing keys as stored (public half, sealed private half), on
//! either backend. What they are and how they are sealed: `auth::keys`.

use super::{postgres, sqlite, Database, StoreError};

/// A signing key's row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredKey {
    pub kid: String,
    pub public_key: Vec<u8>,
    #[sqlx(rename = "sealed_private_key")]
    pub sealed: Vec<u8>,
}

impl Database {
    /// The keys in use, newest (the active one) first; when there are none,
    /// the one `create` makes is stored and returned. Instances starting
    /// together agree on one: the check and the insert hold a lock.
    pub async fn signing_keys_or_create<E: From<StoreError>>(
        &self,
        create: impl FnOnce() -> Result<StoredKey, E> + Send,
    ) -> Result<Vec<StoredKey>, E> {
        match self {
            Self::Postgres(pool) => postgres::keys::load_or_create(pool, create).await,
            Self::Sqlite(pool) => sqlite::keys::load_or_create(pool, create).await,
        }
    }
}

//! JWT signing keys as stored (public half, sealed private half), on
//! either backend. What they are, how they are sealed and when each signs:
//! `auth::keys`.

use chrono::{DateTime, Utc};

use super::{postgres, sqlite, Database, StoreError};

/// Newest first, as [`PUBLISHED`] reads them.
pub(super) fn newest_first(keys: &mut [StoredKey]) {
    keys.sort_by_key(|key| std::cmp::Reverse(key.created_at));
}

/// A signing key's row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredKey {
    pub kid: String,
    /// The JWS algorithm (`EdDSA`, `RS256`).
    pub algorithm: String,
    pub public_key: Vec<u8>,
    #[sqlx(rename = "sealed_private_key")]
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// When it starts signing; `None`: from its creation (a first key).
    pub activates_at: Option<DateTime<Utc>>,
    /// When it leaves the JWKS (every token it signed has expired by then).
    pub retired_at: Option<DateTime<Utc>>,
}

/// A rotation: the new keys (one per algorithm), and when the keys they
/// replace leave the JWKS.
pub struct Rotation {
    pub keys: Vec<StoredKey>,
    pub retire_replaced_at: DateTime<Utc>,
}

/// The published keys (not retired at `$1`), newest first.
pub(super) const PUBLISHED: &str =
    "SELECT kid, algorithm, public_key, sealed_private_key, created_at, activates_at, retired_at
      FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1
     ORDER BY created_at DESC";

/// Schedules the retirement of every key not retiring yet (`$1`).
pub(super) const RETIRE_REPLACED: &str =
    "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL";

/// Stores a new key: `(kid, algorithm, public, sealed, created_at,
/// activates_at)`.
pub(super) const INSERT: &str = "INSERT INTO signing_keys (kid, algorithm, public_key, sealed_private_key, created_at, activates_at)
     VALUES ($1, $2, $3, $4, $5, $6)";

/// Inserts `$key` (a [`StoredKey`]) on the transaction `$tx`; the same
/// statement on either backend's connection type.
macro_rules! insert_key {
    ($tx:expr, $key:expr) => {
        sqlx::query($crate::store::keys::INSERT)
            .bind(&$key.kid)
            .bind(&$key.algorithm)
            .bind(&$key.public_key)
            .bind(&$key.sealed)
            .bind($key.created_at)
            .bind($key.activates_at)
            .execute(&mut *$tx)
            .await
            .map(|_| ())
    };
}
pub(super) use insert_key;

/// The rotation on a locked transaction `$tx` whose published keys are
/// `$keys`: nothing unless `$due` says the newest is old enough, else the
/// replaced keys' retirement and the new key; evaluates to the result of
/// `rotate` (the backends' `rotate` commit or roll back around it).
macro_rules! rotate_on {
    ($tx:expr, $keys:expr, $due:expr, $rotate:expr, $db:expr) => {{
        if !$keys.first().is_none_or(|newest| $due(newest.created_at)) {
            None
        } else {
            let rotation = $rotate()?;
            sqlx::query($crate::store::keys::RETIRE_REPLACED)
                .bind(rotation.retire_replaced_at)
                .execute(&mut *$tx)
                .await
                .map_err($db)?;
            for key in &rotation.keys {
                $crate::store::keys::insert_key!($tx, key).map_err($db)?;
            }
            Some(rotation.keys)
        }
    }};
}
pub(super) use rotate_on;

impl Database {
    /// The published keys, newest first, with those `create` makes from
    /// them stored and added (the first keys, or the first of an algorithm
    /// added later). Instances starting together agree on one set: the
    /// check and the insert hold a lock.
    pub async fn signing_keys_or_create<E: From<StoreError>>(
        &self,
        create: impl FnOnce(&[StoredKey]) -> Result<Vec<StoredKey>, E> + Send,
    ) -> Result<Vec<StoredKey>, E> {
        match self {
            Self::Postgres(pool) => postgres::keys::load_or_create(pool, create).await,
            Self::Sqlite(pool) => sqlite::keys::load_or_create(pool, create).await,
        }
    }

    /// The published keys, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        Ok(super::on_either!(self, pool => {
            sqlx::query_as(PUBLISHED).bind(Utc::now()).fetch_all(pool).await
        })?)
    }

    /// Adds the keys `rotate` makes, if `due` says so of the newest key's
    /// creation time, and schedules the retirement of the keys they
    /// replace; under the same lock as creation, so instances rotating
    /// together add one set. Answers the new keys, if any were made.
    pub async fn rotate_signing_key<E: From<StoreError>>(
        &self,
        due: impl FnOnce(DateTime<Utc>) -> bool + Send,
        rotate: impl FnOnce() -> Result<Rotation, E> + Send,
    ) -> Result<Option<Vec<StoredKey>>, E> {
        match self {
            Self::Postgres(pool) => postgres::keys::rotate(pool, due, rotate).await,
            Self::Sqlite(pool) => sqlite::keys::rotate(pool, due, rotate).await,
        }
    }
}

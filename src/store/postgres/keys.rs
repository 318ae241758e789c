//! Signing keys on PostgreSQL: created under an advisory lock, so
//! instances starting together create one.

use sqlx::PgPool;

use crate::store::keys::StoredKey;
use crate::store::StoreError;

pub async fn load_or_create<E: From<StoreError>>(
    pool: &PgPool,
    create: impl FnOnce() -> Result<StoredKey, E>,
) -> Result<Vec<StoredKey>, E> {
    let db = |error: sqlx::Error| E::from(StoreError::from(error));
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('identity:signing-keys'))")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let mut keys: Vec<StoredKey> = sqlx::query_as(
        "SELECT kid, public_key, sealed_private_key FROM signing_keys
          WHERE retired_at IS NULL ORDER BY created_at DESC",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    if keys.is_empty() {
        let key = create()?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, public_key, sealed_private_key) VALUES ($1, 'EdDSA', $2, $3)",
        )
        .bind(&key.kid)
        .bind(&key.public_key)
        .bind(&key.sealed)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        keys.push(key);
    }
    tx.commit().await.map_err(db)?;
    Ok(keys)
}

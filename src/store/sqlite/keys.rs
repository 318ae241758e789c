//! Signing keys on SQLite: the check and the insert share one write
//! transaction.

use chrono::Utc;
use sqlx::SqlitePool;

use super::turns::turn;
use crate::store::keys::StoredKey;
use crate::store::StoreError;

pub async fn load_or_create<E: From<StoreError>>(
    pool: &SqlitePool,
    create: impl FnOnce() -> Result<StoredKey, E>,
) -> Result<Vec<StoredKey>, E> {
    let db = |error: sqlx::Error| E::from(StoreError::from(error));
    let _turn = turn(pool).await;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
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
            "INSERT INTO signing_keys (kid, algorithm, public_key, sealed_private_key, created_at)
             VALUES (?1, 'EdDSA', ?2, ?3, ?4)",
        )
        .bind(&key.kid)
        .bind(&key.public_key)
        .bind(&key.sealed)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        keys.push(key);
    }
    tx.commit().await.map_err(db)?;
    Ok(keys)
}

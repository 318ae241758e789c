//! Signing keys on PostgreSQL: created and rotated under an advisory lock,
//! so instances doing either together do it once.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::store::keys::{insert_key, newest_first, rotate_on, Rotation, StoredKey, PUBLISHED};
use crate::store::StoreError;

fn db<E: From<StoreError>>(error: sqlx::Error) -> E {
    E::from(StoreError::from(error))
}

async fn locked_keys(tx: &mut PgConnection) -> Result<Vec<StoredKey>, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('identity:signing-keys'))")
        .execute(&mut *tx)
        .await?;
    sqlx::query_as(PUBLISHED)
        .bind(Utc::now())
        .fetch_all(&mut *tx)
        .await
}

pub async fn load_or_create<E: From<StoreError>>(
    pool: &PgPool,
    create: impl FnOnce(&[StoredKey]) -> Result<Vec<StoredKey>, E>,
) -> Result<Vec<StoredKey>, E> {
    let mut tx = pool.begin().await.map_err(db)?;
    let mut keys = locked_keys(&mut tx).await.map_err(db)?;
    let added = create(&keys)?;
    if added.is_empty() {
        // Nothing to write: no commit needed to end the read.
        return Ok(keys);
    }
    for key in &added {
        insert_key!(tx, key).map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    keys.extend(added);
    newest_first(&mut keys);
    Ok(keys)
}

pub async fn rotate<E: From<StoreError>>(
    pool: &PgPool,
    due: impl FnOnce(DateTime<Utc>) -> bool,
    rotate: impl FnOnce() -> Result<Rotation, E>,
) -> Result<Option<Vec<StoredKey>>, E> {
    let mut tx = pool.begin().await.map_err(db)?;
    let keys = locked_keys(&mut tx).await.map_err(db)?;
    let added = rotate_on!(tx, keys, due, rotate, db);
    tx.commit().await.map_err(db)?;
    Ok(added)
}

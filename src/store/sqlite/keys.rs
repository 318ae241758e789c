//! Signing keys on SQLite: the check and the write share one write
//! transaction (creation and rotation alike).

use chrono::{DateTime, Utc};
use sqlx::{SqliteConnection, SqlitePool};

use super::turns::turn;
use crate::store::keys::{insert_key, rotate_on, Rotation, StoredKey, PUBLISHED};
use crate::store::StoreError;

fn db<E: From<StoreError>>(error: sqlx::Error) -> E {
    E::from(StoreError::from(error))
}

async fn published(tx: &mut SqliteConnection) -> Result<Vec<StoredKey>, sqlx::Error> {
    sqlx::query_as(PUBLISHED)
        .bind(Utc::now())
        .fetch_all(&mut *tx)
        .await
}

pub async fn load_or_create<E: From<StoreError>>(
    pool: &SqlitePool,
    create: impl FnOnce() -> Result<StoredKey, E>,
) -> Result<Vec<StoredKey>, E> {
    let _turn = turn(pool).await;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
    let mut keys = published(&mut tx).await.map_err(db)?;
    if keys.is_empty() {
        let key = create()?;
        insert_key!(tx, key).map_err(db)?;
        keys.push(key);
    }
    tx.commit().await.map_err(db)?;
    Ok(keys)
}

pub async fn rotate<E: From<StoreError>>(
    pool: &SqlitePool,
    due: impl FnOnce(DateTime<Utc>) -> bool,
    rotate: impl FnOnce() -> Result<Rotation, E>,
) -> Result<Option<StoredKey>, E> {
    let _turn = turn(pool).await;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
    let keys = published(&mut tx).await.map_err(db)?;
    let added = rotate_on!(tx, keys, due, rotate, db);
    tx.commit().await.map_err(db)?;
    Ok(added)
}

//! Signing keys on SQLite: the check and the write share one write
//! transaction (creation and rotation alike).

use chrono::{DateTime, Utc};
use sqlx::{SqliteConnection, SqlitePool};

use super::turns::turn;
use crate::store::keys::{insert_key, newest_first, rotate_on, Rotation, StoredKey, PUBLISHED};
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
    create: impl FnOnce(&[StoredKey]) -> Result<Vec<StoredKey>, E>,
) -> Result<Vec<StoredKey>, E> {
    let _turn = turn(pool).await;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
    let mut keys = published(&mut tx).await.map_err(db)?;
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
    pool: &SqlitePool,
    due: impl FnOnce(DateTime<Utc>) -> bool,
    rotate: impl FnOnce() -> Result<Rotation, E>,
) -> Result<Option<Vec<StoredKey>>, E> {
    let _turn = turn(pool).await;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
    let keys = published(&mut tx).await.map_err(db)?;
    let added = rotate_on!(tx, keys, due, rotate, db);
    tx.commit().await.map_err(db)?;
    Ok(added)
}

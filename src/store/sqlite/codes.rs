//! One-time codes on SQLite; one instance, so expiry is judged by its own
//! clock.

use std::time::Duration;

use chrono::Utc;
use sqlx::SqlitePool;

use super::turns::turn;
use crate::store::codes::{judge, StoredCode, Taken};
use crate::store::StoreError;

pub async fn put(
    pool: &SqlitePool,
    purpose: &str,
    subject: &str,
    mac: &[u8],
    ttl: Duration,
) -> Result<(), StoreError> {
    let _turn = turn(pool).await;
    let now = Utc::now();
    let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    sqlx::query(
        "INSERT INTO one_time_codes (purpose, subject, code_mac, expires_at, failed_attempts, created_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5)
         ON CONFLICT (purpose, subject) DO UPDATE
            SET code_mac = excluded.code_mac, expires_at = excluded.expires_at,
                failed_attempts = 0, created_at = excluded.created_at",
    )
    .bind(purpose)
    .bind(subject)
    .bind(mac)
    .bind(expires_at)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn take(
    pool: &SqlitePool,
    purpose: &str,
    subject: &str,
    max_attempts: i32,
    matches: impl FnOnce(&[u8]) -> bool,
) -> Result<Taken, StoreError> {
    let _turn = turn(pool).await;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let row: Option<StoredCode> = sqlx::query_as(
        "SELECT code_mac, expires_at, failed_attempts FROM one_time_codes
          WHERE purpose = ?1 AND subject = ?2",
    )
    .bind(purpose)
    .bind(subject)
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.map(|code| {
        let expired = code.expires_at <= Utc::now();
        (code, expired)
    });
    let taken = judge(row, max_attempts, matches);
    let statement = match taken {
        Taken::Code(_) => "DELETE FROM one_time_codes WHERE purpose = ?1 AND subject = ?2",
        Taken::Wrong => {
            "UPDATE one_time_codes SET failed_attempts = failed_attempts + 1
              WHERE purpose = ?1 AND subject = ?2"
        }
        Taken::Missing | Taken::Exhausted => return Ok(taken),
    };
    sqlx::query(statement)
        .bind(purpose)
        .bind(subject)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(taken)
}

pub async fn restore(
    pool: &SqlitePool,
    purpose: &str,
    subject: &str,
    code: &StoredCode,
) -> Result<(), StoreError> {
    let _turn = turn(pool).await;
    sqlx::query(
        "INSERT INTO one_time_codes (purpose, subject, code_mac, expires_at, failed_attempts, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (purpose, subject) DO NOTHING",
    )
    .bind(purpose)
    .bind(subject)
    .bind(&code.code_mac)
    .bind(code.expires_at)
    .bind(code.failed_attempts)
    .bind(Utc::now())
    .execute(pool)
    .await?;
    Ok(())
}

//! One-time codes on PostgreSQL; expiry is judged by the database clock,
//! which every instance shares.

use std::time::Duration;

use sqlx::PgPool;

use crate::store::codes::{judge, StoredCode, Taken};
use crate::store::StoreError;

pub async fn put(
    pool: &PgPool,
    purpose: &str,
    subject: &str,
    mac: &[u8],
    ttl: Duration,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO one_time_codes (purpose, subject, code_mac, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))
         ON CONFLICT (purpose, subject) DO UPDATE
            SET code_mac = EXCLUDED.code_mac, expires_at = EXCLUDED.expires_at,
                failed_attempts = 0, created_at = now()",
    )
    .bind(purpose)
    .bind(subject)
    .bind(mac)
    .bind(ttl.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn take(
    pool: &PgPool,
    purpose: &str,
    subject: &str,
    max_attempts: i32,
    matches: impl FnOnce(&[u8]) -> bool,
) -> Result<Taken, StoreError> {
    let mut tx = pool.begin().await?;
    let row: Option<(Vec<u8>, chrono::DateTime<chrono::Utc>, i32, bool)> = sqlx::query_as(
        "SELECT code_mac, expires_at, failed_attempts, expires_at <= now() FROM one_time_codes
          WHERE purpose = $1 AND subject = $2 FOR UPDATE",
    )
    .bind(purpose)
    .bind(subject)
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.map(|(code_mac, expires_at, failed_attempts, expired)| {
        let code = StoredCode {
            code_mac,
            expires_at,
            failed_attempts,
        };
        (code, expired)
    });
    let taken = judge(row, max_attempts, matches);
    let statement = match taken {
        Taken::Code(_) => "DELETE FROM one_time_codes WHERE purpose = $1 AND subject = $2",
        Taken::Wrong => {
            "UPDATE one_time_codes SET failed_attempts = failed_attempts + 1
              WHERE purpose = $1 AND subject = $2"
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
    pool: &PgPool,
    purpose: &str,
    subject: &str,
    code: &StoredCode,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO one_time_codes (purpose, subject, code_mac, expires_at, failed_attempts)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (purpose, subject) DO NOTHING",
    )
    .bind(purpose)
    .bind(subject)
    .bind(&code.code_mac)
    .bind(code.expires_at)
    .bind(code.failed_attempts)
    .execute(pool)
    .await?;
    Ok(())
}

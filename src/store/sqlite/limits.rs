//! Cooldowns and rate-limit counters on SQLite, timed by the one
//! instance's clock; each decision is one write transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::turns::turn;
use crate::store::limits::left;
use crate::store::StoreError;

pub async fn start_cooldown(
    pool: &SqlitePool,
    key: &str,
    period: Duration,
) -> Result<Option<Duration>, StoreError> {
    let _turn = turn(pool).await;
    let now = Utc::now();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let until: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT until FROM cooldowns WHERE key = ?1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(until) = until.filter(|until| *until > now) {
        let seconds = (until - now).num_milliseconds() as f64 / 1000.0;
        return Ok(Some(left(seconds)));
    }
    let until = now + chrono::Duration::from_std(period).unwrap_or(chrono::Duration::MAX);
    sqlx::query(
        "INSERT INTO cooldowns (key, until) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET until = excluded.until",
    )
    .bind(key)
    .bind(until)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(None)
}

pub async fn count_hit(
    pool: &SqlitePool,
    key: &str,
    window: Duration,
) -> Result<(i32, f64), StoreError> {
    let _turn = turn(pool).await;
    let now = Utc::now().timestamp_millis() as f64 / 1000.0;
    let window = window.as_secs().max(1) as f64;
    let start = (now / window).floor() * window;
    let hits: i32 = sqlx::query_scalar(
        "INSERT INTO rate_limit_counters (key, window_start, hits) VALUES (?1, ?2, 1)
         ON CONFLICT (key) DO UPDATE
            SET hits = CASE WHEN window_start = excluded.window_start THEN hits + 1 ELSE 1 END,
                window_start = excluded.window_start
         RETURNING hits",
    )
    .bind(key)
    .bind(start as i64)
    .fetch_one(pool)
    .await?;
    Ok((hits, start + window - now))
}

pub async fn prune_expired(pool: &SqlitePool) -> Result<u64, StoreError> {
    let _turn = turn(pool).await;
    let day_ago = Utc::now().timestamp() - 24 * 3600;
    // An expired cooldown or code answers as a missing one does.
    let now = Utc::now();
    let counters = sqlx::query("DELETE FROM rate_limit_counters WHERE window_start < ?1")
        .bind(day_ago)
        .execute(pool)
        .await?;
    // Times are RFC 3339 text of one format: they compare as they sort.
    let cooldowns = sqlx::query("DELETE FROM cooldowns WHERE until < ?1")
        .bind(now)
        .execute(pool)
        .await?;
    let codes = sqlx::query("DELETE FROM one_time_codes WHERE expires_at < ?1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(counters.rows_affected() + cooldowns.rows_affected() + codes.rows_affected())
}

//! Cooldowns and rate-limit counters on PostgreSQL, timed by the database
//! clock every instance shares.

use std::time::Duration;

use sqlx::PgPool;

use crate::store::limits::left;
use crate::store::StoreError;

pub async fn start_cooldown(
    pool: &PgPool,
    key: &str,
    period: Duration,
) -> Result<Option<Duration>, StoreError> {
    let started: Option<bool> = sqlx::query_scalar(
        "INSERT INTO cooldowns (key, until) VALUES ($1, now() + make_interval(secs => $2))
         ON CONFLICT (key) DO UPDATE SET until = EXCLUDED.until WHERE cooldowns.until <= now()
         RETURNING true",
    )
    .bind(key)
    .bind(period.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    if started.is_some() {
        return Ok(None);
    }
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT GREATEST(EXTRACT(EPOCH FROM until - now()), 0)::float8 FROM cooldowns WHERE key = $1",
    )
    .bind(key)
    .fetch_optional(pool)
    .await?;
    Ok(Some(left(seconds.unwrap_or(0.0))))
}

pub async fn count_hit(
    pool: &PgPool,
    key: &str,
    window: Duration,
) -> Result<(i32, f64), StoreError> {
    Ok(sqlx::query_as(
        "WITH w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / $2) * $2) AS start)
         INSERT INTO rate_limit_counters AS c (key, window_start, hits)
         SELECT $1, w.start, 1 FROM w
         ON CONFLICT (key) DO UPDATE
            SET hits = CASE WHEN c.window_start = EXCLUDED.window_start THEN c.hits + 1 ELSE 1 END,
                window_start = EXCLUDED.window_start
         RETURNING hits, extract(epoch FROM window_start + make_interval(secs => $2) - now())::float8",
    )
    .bind(key)
    .bind(window.as_secs_f64())
    .fetch_one(pool)
    .await?)
}

pub async fn prune_expired(pool: &PgPool) -> Result<u64, StoreError> {
    let mut pruned = 0;
    for statement in [
        "DELETE FROM rate_limit_counters WHERE window_start < now() - interval '1 day'",
        // An expired cooldown or code answers as a missing one does.
        "DELETE FROM cooldowns WHERE until < now()",
        "DELETE FROM one_time_codes WHERE expires_at < now()",
    ] {
        pruned += sqlx::query(statement).execute(pool).await?.rows_affected();
    }
    Ok(pruned)
}

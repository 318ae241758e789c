//! "Not again within N seconds", shared by every instance through Postgres.
//!
//! Keys are HMACs of what they guard (an email address, say), so the table
//! holds no personal data in the clear.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::PgPool;
use zeroize::Zeroizing;

#[derive(Clone)]
pub struct Cooldowns {
    pool: PgPool,
    key: Zeroizing<[u8; 32]>,
}

impl Cooldowns {
    pub fn new(pool: PgPool, key: Zeroizing<[u8; 32]>) -> Self {
        Self { pool, key }
    }

    /// Starts a cooldown of `period` on `subject` unless one is running;
    /// returns the time left of the running one.
    pub async fn try_start(
        &self,
        scope: &str,
        subject: &str,
        period: Duration,
    ) -> Result<Option<Duration>, sqlx::Error> {
        let key = self.key(scope, subject);
        let started: Option<bool> = sqlx::query_scalar(
            "INSERT INTO cooldowns (key, until) VALUES ($1, now() + make_interval(secs => $2))
             ON CONFLICT (key) DO UPDATE SET until = EXCLUDED.until WHERE cooldowns.until <= now()
             RETURNING true",
        )
        .bind(&key)
        .bind(period.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        if started.is_some() {
            return Ok(None);
        }
        let left: Option<f64> = sqlx::query_scalar(
            "SELECT GREATEST(EXTRACT(EPOCH FROM until - now()), 0)::float8 FROM cooldowns WHERE key = $1",
        )
        .bind(&key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(Some(Duration::from_secs_f64(
            left.unwrap_or(0.0).ceil().max(1.0),
        )))
    }

    fn key(&self, scope: &str, subject: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&*self.key).expect("HMAC takes any key length");
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(subject.as_bytes());
        format!("{scope}:{}", hex::encode(mac.finalize().into_bytes()))
    }
}

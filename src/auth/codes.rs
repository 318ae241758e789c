//! One-time codes (6 digits) for email verification and, later, passwordless
//! login and password reset.
//!
//! Stored only as HMAC-SHA256(derived server key, purpose, subject, code):
//! with a million possible codes a plain hash would fall to brute force, a
//! keyed one does not without the secret. Codes never enter the event log.
//! A new code for the same purpose and subject replaces the old one.

use std::future::Future;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use sqlx::PgPool;
use zeroize::Zeroizing;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    EmailVerification,
}

impl CodePurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::EmailVerification => "email_verification",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodeError<E> {
    /// Wrong, expired, already used or replaced.
    #[error("the code is not valid")]
    Invalid,
    #[error("too many wrong attempts for this code")]
    TooManyAttempts,
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The follow-up action failed; the code was kept.
    #[error(transparent)]
    Then(E),
}

/// A freshly issued code, to be sent and then dropped.
pub struct IssuedCode(Zeroizing<String>);

impl IssuedCode {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for IssuedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedCode(<redacted>)")
    }
}

#[derive(Clone)]
pub struct OneTimeCodes {
    pool: PgPool,
    key: Zeroizing<[u8; 32]>,
    ttl: Duration,
    max_attempts: i32,
}

impl OneTimeCodes {
    pub fn new(pool: PgPool, key: Zeroizing<[u8; 32]>, ttl: Duration, max_attempts: i32) -> Self {
        Self {
            pool,
            key,
            ttl,
            max_attempts,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Creates a code for `subject`, replacing any earlier one.
    pub async fn issue(
        &self,
        purpose: CodePurpose,
        subject: &str,
    ) -> Result<IssuedCode, sqlx::Error> {
        let code = Zeroizing::new(format!(
            "{:06}",
            rand::rngs::OsRng.gen_range(0..1_000_000u32)
        ));
        let mac = self.mac(purpose, subject, &code);
        sqlx::query(
            "INSERT INTO one_time_codes (purpose, subject, code_mac, expires_at)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4))
             ON CONFLICT (purpose, subject) DO UPDATE
                SET code_mac = EXCLUDED.code_mac, expires_at = EXCLUDED.expires_at,
                    failed_attempts = 0, created_at = now()",
        )
        .bind(purpose.as_str())
        .bind(subject)
        .bind(mac)
        .bind(self.ttl.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(IssuedCode(code))
    }

    /// Checks `code`; if it is right, runs `then` while holding the code, and
    /// consumes the code only if `then` succeeds. A wrong code counts against
    /// the attempt limit; once the limit is reached even the right code is
    /// refused.
    pub async fn redeem<T, E, F, Fut>(
        &self,
        purpose: CodePurpose,
        subject: &str,
        code: &str,
        then: F,
    ) -> Result<T, CodeError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut tx = self.pool.begin().await?;
        let row: Option<(Vec<u8>, bool, i32)> = sqlx::query_as(
            "SELECT code_mac, expires_at <= now(), failed_attempts FROM one_time_codes
              WHERE purpose = $1 AND subject = $2 FOR UPDATE",
        )
        .bind(purpose.as_str())
        .bind(subject)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((stored, expired, failed_attempts)) = row else {
            return Err(CodeError::Invalid);
        };
        if failed_attempts >= self.max_attempts {
            return Err(CodeError::TooManyAttempts);
        }
        if expired {
            return Err(CodeError::Invalid);
        }
        if !self.matches(purpose, subject, code, &stored) {
            sqlx::query(
                "UPDATE one_time_codes SET failed_attempts = failed_attempts + 1
                  WHERE purpose = $1 AND subject = $2",
            )
            .bind(purpose.as_str())
            .bind(subject)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Err(CodeError::Invalid);
        }
        let value = then().await.map_err(CodeError::Then)?;
        sqlx::query("DELETE FROM one_time_codes WHERE purpose = $1 AND subject = $2")
            .bind(purpose.as_str())
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(value)
    }

    fn hmac(&self, purpose: CodePurpose, subject: &str, code: &str) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&*self.key).expect("HMAC takes any key length");
        for part in [purpose.as_str(), subject, code] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac
    }

    fn mac(&self, purpose: CodePurpose, subject: &str, code: &str) -> Vec<u8> {
        self.hmac(purpose, subject, code)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    /// Constant-time comparison against the stored MAC.
    fn matches(&self, purpose: CodePurpose, subject: &str, code: &str, stored: &[u8]) -> bool {
        self.hmac(purpose, subject, code.trim())
            .verify_slice(stored)
            .is_ok()
    }
}

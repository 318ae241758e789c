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

/// A code's row as it was when taken, to put it back.
struct TakenCode {
    code_mac: Vec<u8>,
    expires_at: chrono::DateTime<chrono::Utc>,
    failed_attempts: i32,
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
    /// The follow-up action failed; the code was put back.
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

    /// Checks `code`; if it is right, takes it and runs `then`, and puts it
    /// back if `then` fails (unless a newer code replaced it meanwhile). A
    /// wrong code counts against the attempt limit; once the limit is
    /// reached even the right code is refused.
    ///
    /// The code's row is locked only while it is checked and taken, not
    /// while `then` runs: `then` needs a connection of its own, and holding
    /// one per verification while waiting for a second would stall every
    /// verification once the pool is exhausted. Two concurrent tries of the
    /// right code still succeed once: the second finds it taken. A crash
    /// between taking the code and putting it back loses it; the user asks
    /// for a new one.
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
        let taken = self.take(purpose, subject, code).await?;
        match then().await {
            Ok(value) => Ok(value),
            Err(error) => {
                if let Err(db) = self.put_back(purpose, subject, &taken).await {
                    tracing::warn!(error = %db, "could not put back a one-time code");
                }
                Err(CodeError::Then(error))
            }
        }
    }

    /// Checks `code` under the row's lock and deletes it if it is right.
    async fn take<E>(
        &self,
        purpose: CodePurpose,
        subject: &str,
        code: &str,
    ) -> Result<TakenCode, CodeError<E>> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(TakenCode, bool)> = sqlx::query_as(
            "SELECT code_mac, expires_at, failed_attempts, expires_at <= now() FROM one_time_codes
              WHERE purpose = $1 AND subject = $2 FOR UPDATE",
        )
        .bind(purpose.as_str())
        .bind(subject)
        .fetch_optional(&mut *tx)
        .await?
        .map(|(code_mac, expires_at, failed_attempts, expired)| {
            let taken = TakenCode {
                code_mac,
                expires_at,
                failed_attempts,
            };
            (taken, expired)
        });
        let Some((taken, expired)) = row else {
            return Err(CodeError::Invalid);
        };
        if taken.failed_attempts >= self.max_attempts {
            return Err(CodeError::TooManyAttempts);
        }
        if expired {
            return Err(CodeError::Invalid);
        }
        let right = self.matches(purpose, subject, code, &taken.code_mac);
        let statement = if right {
            "DELETE FROM one_time_codes WHERE purpose = $1 AND subject = $2"
        } else {
            "UPDATE one_time_codes SET failed_attempts = failed_attempts + 1
              WHERE purpose = $1 AND subject = $2"
        };
        sqlx::query(statement)
            .bind(purpose.as_str())
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if right {
            Ok(taken)
        } else {
            Err(CodeError::Invalid)
        }
    }

    /// Restores a taken code, unless a new one was issued since.
    async fn put_back(
        &self,
        purpose: CodePurpose,
        subject: &str,
        taken: &TakenCode,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO one_time_codes (purpose, subject, code_mac, expires_at, failed_attempts)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (purpose, subject) DO NOTHING",
        )
        .bind(purpose.as_str())
        .bind(subject)
        .bind(&taken.code_mac)
        .bind(taken.expires_at)
        .bind(taken.failed_attempts)
        .execute(&self.pool)
        .await?;
        Ok(())
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

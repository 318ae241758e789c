//! Rate limits shared by every instance, kept in Postgres.
//!
//! Why Postgres and not NATS KV: every instance already holds a Postgres
//! pool, an `INSERT .. ON CONFLICT .. RETURNING` counts a hit atomically in
//! one round trip, and the Debian NATS server (2.9) lacks per-key TTLs. Two
//! instances hitting one key serialize on its row, so together they never
//! let more than the quota through in a window.
//!
//! Windows are fixed (aligned to multiples of their length): simple and
//! exact within a window; a client may spend one quota at the end of a
//! window and the next at the start of the following one.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::store::{Database, StoreError};

/// `quota` hits per `window`; a quota of 0 turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub quota: u32,
    pub window: Duration,
}

impl Limit {
    pub const fn new(quota: u32, window_secs: u64) -> Self {
        Self {
            quota,
            window: Duration::from_secs(window_secs),
        }
    }
}

/// Parses `QUOTA/WINDOW_SECONDS`, e.g. `100/60`.
impl FromStr for Limit {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let (quota, window) = raw.split_once('/').ok_or("expected QUOTA/SECONDS")?;
        let quota = quota.trim().parse().map_err(|_| "bad quota")?;
        let window: u64 = window.trim().parse().map_err(|_| "bad window")?;
        if window == 0 {
            return Err("the window must be at least one second".to_owned());
        }
        Ok(Self::new(quota, window))
    }
}

/// The limits this service applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Every `/api/v1` request, per client IP.
    pub api_per_ip: Limit,
    /// Login attempts per identifier (known or not).
    pub login_per_identifier: Limit,
    /// Registrations per client IP.
    pub register_per_ip: Limit,
    /// Email-code requests per address (on top of the resend cooldown);
    /// the same quota holds for SMS codes per phone number.
    pub email_codes_per_address: Limit,
    /// Texts (SMS cost money) asked for per client IP, and per account.
    pub sms_per_ip_and_account: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            api_per_ip: Limit::new(100, 60),
            login_per_identifier: Limit::new(5, 15 * 60),
            register_per_ip: Limit::new(10, 3600),
            email_codes_per_address: Limit::new(5, 3600),
            sms_per_ip_and_account: Limit::new(10, 3600),
        }
    }
}

/// The state of one limit after a hit: what the `RateLimit` headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub policy: &'static str,
    pub limit: Limit,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset: u64,
    pub allowed: bool,
}

impl Verdict {
    /// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
    pub fn policy_header(&self) -> String {
        format!(
            "\"{}\";q={};w={}",
            self.policy,
            self.limit.quota,
            self.limit.window.as_secs()
        )
    }

    /// `RateLimit`.
    pub fn state_header(&self) -> String {
        format!("\"{}\";r={};t={}", self.policy, self.remaining, self.reset)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} per {}s)",
            self.policy,
            self.limit.quota,
            self.limit.window.as_secs()
        )
    }
}

#[derive(Clone)]
pub struct RateLimiter {
    db: Database,
    key: Zeroizing<[u8; 32]>,
}

impl RateLimiter {
    pub fn new(db: impl Into<Database>, key: Zeroizing<[u8; 32]>) -> Self {
        Self { db: db.into(), key }
    }

    /// Counts one hit of `subject` against `limit`; `None` when the limit is
    /// off.
    pub async fn hit(
        &self,
        policy: &'static str,
        subject: &str,
        limit: Limit,
    ) -> Result<Option<Verdict>, StoreError> {
        if limit.quota == 0 {
            return Ok(None);
        }
        let (hits, reset) = self
            .db
            .count_hit(&self.key(policy, subject), limit.window)
            .await?;
        let hits = u32::try_from(hits).unwrap_or(u32::MAX);
        Ok(Some(Verdict {
            policy,
            limit,
            remaining: limit.quota.saturating_sub(hits),
            reset: reset.ceil().max(1.0) as u64,
            allowed: hits <= limit.quota,
        }))
    }

    /// Drops counters of windows long past, and expired cooldowns and
    /// one-time codes (see `Database::prune_expired`).
    pub async fn purge(&self) -> Result<u64, StoreError> {
        self.db.prune_expired().await
    }

    /// Purges every `period` until `shutdown` changes, so the counters,
    /// cooldowns and codes tables hold only live rows however many clients
    /// come and go.
    /// Every instance may run it: deleting what is past is idempotent.
    pub async fn purge_every(
        self,
        period: std::time::Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                _ = shutdown.changed() => return,
            }
            match self.purge().await {
                Ok(purged) => tracing::debug!(purged, "rate-limit counters purged"),
                Err(error) => {
                    tracing::warn!(error = %crate::telemetry::Chain(&error), "purging rate-limit counters failed")
                }
            }
        }
    }

    fn key(&self, policy: &str, subject: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&*self.key).expect("HMAC takes any key length");
        mac.update(policy.as_bytes());
        mac.update(&[0]);
        mac.update(subject.as_bytes());
        format!(
            "{policy}:{}",
            hex::encode(&mac.finalize().into_bytes()[..16])
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_from_quota_slash_seconds() {
        assert_eq!("100/60".parse::<Limit>(), Ok(Limit::new(100, 60)));
        assert_eq!("0/1".parse::<Limit>(), Ok(Limit::new(0, 1)));
        assert!("100".parse::<Limit>().is_err());
        assert!("5/0".parse::<Limit>().is_err());
    }

    #[test]
    fn headers_follow_the_structured_field_draft() {
        let verdict = Verdict {
            policy: "login",
            limit: Limit::new(5, 900),
            remaining: 0,
            reset: 30,
            allowed: false,
        };
        assert_eq!(verdict.policy_header(), "\"login\";q=5;w=900");
        assert_eq!(verdict.state_header(), "\"login\";r=0;t=30");
    }
}

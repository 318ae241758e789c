//! Per-account lockout after consecutive failed password checks.
//!
//! A password check is reserved in the aggregate (`PasswordCheckStarted`)
//! before the password is verified, under the stream's optimistic
//! concurrency. Failed plus in-flight checks can therefore never exceed the
//! limit, however many guesses arrive at once: 50 parallel wrong passwords
//! cost at most `max_failures` verifications before the lock engages (the
//! race behind GHSA-7h8m-vrxx-vr4m cannot happen). A reservation whose
//! outcome never arrives (a crash mid-login) stops counting after
//! `check_timeout`.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub lock_duration: Duration,
    pub check_timeout: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            lock_duration: Duration::minutes(30),
            check_timeout: Duration::seconds(60),
        }
    }
}

/// The lockout part of the account state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockout {
    pub consecutive_failures: u32,
    /// Start times of reserved checks without an outcome yet, oldest first.
    pub pending_checks: Vec<DateTime<Utc>>,
    pub locked_until: Option<DateTime<Utc>>,
    /// Whether `locked_until` is an admin's lock (a password reset does not
    /// lift it) rather than the failure limit's.
    #[serde(default)]
    pub by_admin: bool,
}

/// Most reservations kept; more than any sane `max_failures`.
const MAX_PENDING: usize = 32;

impl Lockout {
    pub fn locked_at(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| *until > at)
    }

    /// The admin's lock in force at `at`, if any.
    pub fn admin_lock_at(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_at(at).filter(|_| self.by_admin)
    }

    /// Failures that still count: a lock that ran out starts a fresh count.
    pub fn effective_failures(&self, at: DateTime<Utc>) -> u32 {
        match self.locked_until {
            Some(until) if until <= at => 0,
            _ => self.consecutive_failures,
        }
    }

    /// When a new check may start, if not now.
    pub fn blocked_until(
        &self,
        at: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> Option<DateTime<Utc>> {
        if let Some(until) = self.locked_at(at) {
            return Some(until);
        }
        let live: Vec<&DateTime<Utc>> = self
            .pending_checks
            .iter()
            .filter(|started| at - **started < policy.check_timeout)
            .collect();
        let used = self.effective_failures(at) as usize + live.len();
        if used >= policy.max_failures as usize {
            // In-flight checks finish within moments; the oldest one frees a
            // slot (or locks the account) first.
            return Some(
                live.first()
                    .map_or(at, |s| **s + policy.check_timeout)
                    .min(at + Duration::seconds(1)),
            );
        }
        None
    }

    pub fn check_started(&mut self, at: DateTime<Utc>) {
        self.pending_checks.push(at);
        if self.pending_checks.len() > MAX_PENDING {
            self.pending_checks.remove(0);
        }
    }

    pub fn check_finished(&mut self) {
        if !self.pending_checks.is_empty() {
            self.pending_checks.remove(0);
        }
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

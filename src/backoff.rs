//! Capped exponential backoff with full jitter, for loops that retry an
//! outside service (the relay's NATS connection): the pause doubles from
//! `base` up to `cap`, each one drawn uniformly below its bound so that
//! instances restarting together do not retry in step. It also tells the
//! loop whether a failure starts an outage, so an outage is logged once
//! rather than on every retry.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    /// Failures since the last success.
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            failures: 0,
        }
    }

    /// Records a failure; `true` when it is the first of an outage.
    pub fn failed(&mut self) -> bool {
        self.failures = self.failures.saturating_add(1);
        self.failures == 1
    }

    /// Records a success; `true` when it ends an outage.
    pub fn succeeded(&mut self) -> bool {
        std::mem::replace(&mut self.failures, 0) > 0
    }

    /// The upper bound of the next pause: `base * 2^(failures - 1)`, capped.
    pub fn bound(&self) -> Duration {
        let doublings = self.failures.saturating_sub(1).min(31);
        self.base.saturating_mul(1 << doublings).min(self.cap)
    }

    /// The next pause: uniform in `[0, bound]`, never below a millisecond.
    pub fn pause(&self) -> Duration {
        let bound = self.bound().as_millis().max(1) as u64;
        Duration::from_millis(rand::thread_rng().gen_range(1..=bound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_and_start_over_after_a_success() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        assert!(backoff.failed());
        assert_eq!(backoff.bound(), Duration::from_millis(100));
        assert!(!backoff.failed());
        assert_eq!(backoff.bound(), Duration::from_millis(200));
        for _ in 0..10 {
            backoff.failed();
        }
        assert_eq!(backoff.bound(), Duration::from_secs(2));
        assert!(backoff.pause() <= Duration::from_secs(2));
        assert!(backoff.succeeded());
        assert!(!backoff.succeeded());
        assert!(backoff.failed(), "the next failure starts a new outage");
    }
}

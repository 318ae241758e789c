//! Keeps unknown identifiers as slow as wrong passwords.
//!
//! Both paths verify an argon2 hash; a known account also records the check
//! in its aggregate (two commits), which an unknown identifier cannot do.
//! Left alone, that difference would tell an attacker which identifiers
//! exist. We keep how long recent wrong-password logins took, from the
//! identifier lookup to the answer, and make each unknown identifier finish
//! when one of those samples, drawn at random, has passed since its own
//! lookup began. The two paths then take the same time *in distribution*,
//! not only in the middle (waiting the median bookkeeping made the unknown
//! path narrower and 0.5 ms slower than the real one, which a classifier
//! told apart with an AUC of 0.73), and whatever the unknown path did
//! itself (its lookup, the dummy verification) is counted in.
//!
//! The wait is a thread sleep on the blocking pool, not a tokio timer: the
//! timer rounds every sleep up to its next millisecond tick, which alone
//! made unknown identifiers about 0.5 ms slower on average.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;

/// Samples kept.
const WINDOW: usize = 64;

/// The last [`WINDOW`] durations of wrong-password logins.
#[derive(Debug, Default)]
pub struct RecentSamples(Mutex<VecDeque<Duration>>);

impl RecentSamples {
    pub fn record(&self, sample: Duration) {
        let mut samples = self.lock();
        if samples.len() == WINDOW {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// One of the recent samples, chosen at random; zero until something
    /// was recorded.
    pub fn sample(&self) -> Duration {
        let samples = self.lock();
        if samples.is_empty() {
            return Duration::ZERO;
        }
        let index = rand::thread_rng().gen_range(0..samples.len());
        samples.get(index).copied().unwrap_or_default()
    }

    /// Waits until one sample has passed since `started`, to within the
    /// operating system's sleep precision.
    pub async fn wait_like_a_known_account(&self, started: std::time::Instant) {
        let wait = self.sample().saturating_sub(started.elapsed());
        if wait.is_zero() {
            return;
        }
        // A failed join only means the runtime is shutting down.
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(wait)).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Duration>> {
        // Plain data, always consistent: a poisoned lock is still usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_draws_from_the_recent_samples_and_forgets_old_ones() {
        let samples = RecentSamples::default();
        assert_eq!(samples.sample(), Duration::ZERO);
        for ms in [8, 9, 10] {
            samples.record(Duration::from_millis(ms));
        }
        for _ in 0..50 {
            let drawn = samples.sample();
            assert!([8, 9, 10].map(Duration::from_millis).contains(&drawn));
        }
        for _ in 0..WINDOW {
            samples.record(Duration::from_millis(16));
        }
        assert_eq!(samples.sample(), Duration::from_millis(16));
    }
}

//! Keeps unknown identifiers as slow as wrong passwords.
//!
//! Both paths verify an argon2 hash; a known account also records the check
//! in its aggregate (two commits), which an unknown identifier cannot do.
//! Left alone, that difference would tell an attacker which identifiers
//! exist. We keep how long the bookkeeping of recent wrong-password logins
//! took (lookup to answer, less the hash verification), and make each
//! unknown identifier, after its own dummy verification, wait until one of
//! those samples, drawn at random, has passed in its own non-hashing time.
//! The two paths then take the same time *in distribution*, not only in the
//! middle (waiting the median bookkeeping made the unknown path narrower
//! and 0.5 ms slower than the real one, which a classifier told apart with
//! an AUC of 0.73), and the unknown path's own lookup is counted in.
//!
//! The hash is left out of the samples on purpose. Waiting for a sampled
//! *total* makes the unknown path last the longer of two draws (its own
//! hash time, someone else's total), which is longer on average, and the
//! more so the more hash times vary: on a loaded 2-core CI runner unknown
//! identifiers came out 10-24% slower than wrong passwords.
//!
//! The wait is a thread sleep on the blocking pool, not a tokio timer: the
//! timer rounds every sleep up to its next millisecond tick, which alone
//! made unknown identifiers about 0.5 ms slower on average. What the sleep
//! and the hop to the blocking pool still add (about 0.1 ms here, enough
//! for an AUC of 0.55 over 1,000 logins) is measured on every wait and
//! taken off the next ones.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;

/// Samples kept.
const WINDOW: usize = 64;

/// The last [`WINDOW`] durations of wrong-password logins, and how much
/// longer than asked a wait recently took.
#[derive(Debug, Default)]
pub struct RecentSamples {
    samples: Mutex<VecDeque<Duration>>,
    /// Moving average of the overshoot, in nanoseconds.
    overshoot_ns: AtomicU64,
}

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

    /// Waits until one sample has passed since `started`, not counting the
    /// `hashing` the caller did (which a known account does too), less the
    /// overshoot that waiting itself adds.
    pub async fn wait_like_a_known_account(&self, started: std::time::Instant, hashing: Duration) {
        let overshoot = Duration::from_nanos(self.overshoot_ns.load(Ordering::Relaxed));
        let own = started.elapsed().saturating_sub(hashing);
        let wait = self.sample().saturating_sub(own).saturating_sub(overshoot);
        if wait.is_zero() {
            return;
        }
        let slept = std::time::Instant::now();
        // A failed join only means the runtime is shutting down.
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(wait)).await;
        self.note_overshoot(slept.elapsed().saturating_sub(wait));
    }

    /// Folds one overshoot into the moving average (weight 1/16).
    fn note_overshoot(&self, overshoot: Duration) {
        let seen = u64::try_from(overshoot.as_nanos()).unwrap_or(u64::MAX);
        let average = self.overshoot_ns.load(Ordering::Relaxed);
        let next = average - average / 16 + seen / 16;
        self.overshoot_ns.store(next, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Duration>> {
        // Plain data, always consistent: a poisoned lock is still usable.
        self.samples
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

    #[test]
    fn the_overshoot_average_follows_what_waits_add() {
        let samples = RecentSamples::default();
        for _ in 0..200 {
            samples.note_overshoot(Duration::from_micros(100));
        }
        let average = samples.overshoot_ns.load(Ordering::Relaxed);
        assert!((95_000..=100_000).contains(&average), "{average}");
    }
}

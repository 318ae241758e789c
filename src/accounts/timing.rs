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
//! identifiers came out 10-24% slower than wrong passwords. Left out, the
//! hash times must still agree, and they did not quite: the real
//! verification, run after the account's first commit, took about 0.8 ms
//! longer than the dummy one right after the lookup (AUC 0.43-0.44 over
//! 1,000 logins). So both paths keep a moving average of their hash time,
//! and an unknown identifier also waits the difference.
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

/// The bookkeeping of the last [`WINDOW`] wrong-password logins, and the
/// averages that keep the two paths' other costs equal.
#[derive(Debug, Default)]
pub struct RecentSamples {
    samples: Mutex<VecDeque<Duration>>,
    /// How much longer than asked a wait took.
    overshoot: MovingAverage,
    /// Hash verification of known accounts, and the dummy one.
    known_hash: MovingAverage,
    dummy_hash: MovingAverage,
}

/// A moving average of durations (weight 1/16), lock-free.
#[derive(Debug, Default)]
struct MovingAverage(AtomicU64);

impl MovingAverage {
    fn note(&self, seen: Duration) {
        let seen = u64::try_from(seen.as_nanos()).unwrap_or(u64::MAX);
        let average = self.0.load(Ordering::Relaxed);
        // Starts at the first value rather than creeping up from zero.
        let next = if average == 0 {
            seen
        } else {
            average - average / 16 + seen / 16
        };
        self.0.store(next, Ordering::Relaxed);
    }

    fn get(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

impl RecentSamples {
    /// Notes one wrong-password login: its bookkeeping (lookup to answer,
    /// less the hash verification) and its `hashing`.
    pub fn record(&self, bookkeeping: Duration, hashing: Duration) {
        self.known_hash.note(hashing);
        let mut samples = self.lock();
        if samples.len() == WINDOW {
            samples.pop_front();
        }
        samples.push_back(bookkeeping);
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
    /// `hashing` the caller did (which a known account does too), plus the
    /// difference of the two paths' average hash times, less the overshoot
    /// that waiting itself adds.
    pub async fn wait_like_a_known_account(&self, started: std::time::Instant, hashing: Duration) {
        self.dummy_hash.note(hashing);
        let own = started.elapsed().saturating_sub(hashing);
        // Signed: the dummy verification may also be the slower one.
        let (known, dummy) = (self.known_hash.get(), self.dummy_hash.get());
        let wait = (self.sample() + known.saturating_sub(dummy))
            .saturating_sub(dummy.saturating_sub(known))
            .saturating_sub(own)
            .saturating_sub(self.overshoot.get());
        if wait.is_zero() {
            return;
        }
        let slept = std::time::Instant::now();
        // A failed join only means the runtime is shutting down.
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(wait)).await;
        self.overshoot.note(slept.elapsed().saturating_sub(wait));
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
            samples.record(Duration::from_millis(ms), Duration::ZERO);
        }
        for _ in 0..50 {
            let drawn = samples.sample();
            assert!([8, 9, 10].map(Duration::from_millis).contains(&drawn));
        }
        for _ in 0..WINDOW {
            samples.record(Duration::from_millis(16), Duration::ZERO);
        }
        assert_eq!(samples.sample(), Duration::from_millis(16));
    }

    #[test]
    fn a_moving_average_starts_at_the_first_value_and_follows_the_next() {
        let average = MovingAverage::default();
        average.note(Duration::from_micros(100));
        assert_eq!(average.get(), Duration::from_micros(100));
        for _ in 0..200 {
            average.note(Duration::from_micros(300));
        }
        let micros = average.get().as_micros();
        assert!((295..=300).contains(&micros), "{micros}");
    }
}

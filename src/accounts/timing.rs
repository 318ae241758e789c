//! Keeps unknown identifiers as slow as wrong passwords.
//!
//! Both paths verify an argon2 hash; a known account also records the check
//! in its aggregate (two commits), which an unknown identifier cannot do.
//! Left alone, that difference would tell an attacker which identifiers
//! exist. We keep the median of what the bookkeeping of known accounts
//! recently cost and make unknown identifiers wait as long. A median rather
//! than a mean, so one slow commit does not show up as a bump.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// Samples kept.
const WINDOW: usize = 31;

/// The median of the last [`WINDOW`] durations recorded.
#[derive(Debug, Default)]
pub struct RecentMedian(Mutex<VecDeque<Duration>>);

impl RecentMedian {
    pub fn record(&self, sample: Duration) {
        let mut samples = self.lock();
        if samples.len() == WINDOW {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// Zero until something was recorded.
    pub fn get(&self) -> Duration {
        let mut sorted: Vec<Duration> = self.lock().iter().copied().collect();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
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
    fn recent_median_ignores_outliers_and_forgets_old_samples() {
        let median = RecentMedian::default();
        assert_eq!(median.get(), Duration::ZERO);
        for ms in [8, 8, 200, 8, 9] {
            median.record(Duration::from_millis(ms));
        }
        assert_eq!(median.get(), Duration::from_millis(8));
        for _ in 0..WINDOW {
            median.record(Duration::from_millis(16));
        }
        assert_eq!(median.get(), Duration::from_millis(16));
    }
}

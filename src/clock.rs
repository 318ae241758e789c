//! The time the influencer program's rules run on.
//!
//! Holds, attribution windows and reapply waits are measured in days, so
//! the program reads the time from this clock instead of calling
//! `Utc::now()` in every use case: a test can then move the program 31
//! days forward and watch a real earning leave its hold, instead of
//! back-dating sales. In the service it is always the system clock; there
//! is deliberately no setting that moves it, because an operator who could
//! shift it could release held earnings early.
//!
//! Only the program reads it. Tokens, sessions, codes and lockouts keep
//! the system clock, which is what `jsonwebtoken` checks expiry against.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

/// The system clock plus an offset that only tests change.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_moves_every_clone() {
        let clock = Clock::default();
        let copy = clock.clone();
        clock.advance(Duration::days(31));
        let ahead = copy.now() - Utc::now();
        assert!(
            ahead >= Duration::days(31) - Duration::seconds(5),
            "{ahead}"
        );
        assert!(
            ahead <= Duration::days(31) + Duration::seconds(5),
            "{ahead}"
        );
    }
}

//! The one circuit breaker for calls to external services: the SMTP relay,
//! the SMS provider and each OpenID provider have one. Each call is a span
//! (`outbound`, named after the breaker) with its outcome.
//!
//! Closed: calls go through. After `threshold` consecutive failures it opens
//! and refuses calls at once for `cool_down`; then one trial call is let
//! through (half-open): success closes it, failure opens it again.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::Instrument;

/// How long an open circuit refuses calls before it lets a trial through.
pub const COOL_DOWN: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum BreakerError<E> {
    #[error("circuit open: the service failed repeatedly; not calling it for now")]
    Open,
    #[error("call timed out")]
    Timeout,
    #[error(transparent)]
    Inner(E),
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    name: &'static str,
    threshold: u32,
    cool_down: Duration,
    timeout: Duration,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub fn new(name: &'static str, threshold: u32, cool_down: Duration, timeout: Duration) -> Self {
        Self {
            name,
            threshold: threshold.max(1),
            cool_down,
            timeout,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Runs `call` with the timeout, unless the circuit is open.
    pub async fn call<T, E, Fut>(&self, call: Fut) -> Result<T, BreakerError<E>>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let span = tracing::info_span!(
            target: crate::telemetry::SPANS,
            "outbound",
            otel.name = %format_args!("call {}", self.name),
            otel.kind = "client",
            peer.service = self.name,
            outcome = tracing::field::Empty,
        );
        if !self.admit() {
            span.record("outcome", "rejected");
            crate::instruments::outbound(self.name, "rejected", true);
            return Err(BreakerError::Open);
        }
        let bounded = tokio::time::timeout(self.timeout, call).instrument(span.clone());
        let (result, outcome) = match bounded.await {
            Ok(Ok(value)) => (Ok(value), "ok"),
            Ok(Err(error)) => (Err(BreakerError::Inner(error)), "error"),
            Err(_) => (Err(BreakerError::Timeout), "timeout"),
        };
        span.record("outcome", outcome);
        self.record(result.is_ok());
        crate::instruments::outbound(self.name, outcome, self.is_open());
        result
    }

    /// Whether calls are refused right now (open, cool-down not over).
    pub fn is_open(&self) -> bool {
        matches!(*self.lock(), State::Open { until } if Instant::now() < until)
    }

    fn admit(&self) -> bool {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => true,
            State::Open { until } if Instant::now() >= until => {
                *state = State::HalfOpen;
                true
            }
            State::Open { .. } | State::HalfOpen => false,
        }
    }

    fn record(&self, success: bool) {
        let mut state = self.lock();
        let failures = match (&*state, success) {
            (_, true) => {
                *state = State::Closed { failures: 0 };
                return;
            }
            (State::Closed { failures }, false) => failures + 1,
            (State::HalfOpen | State::Open { .. }, false) => self.threshold,
        };
        if failures >= self.threshold {
            tracing::warn!(
                service = self.name,
                "circuit opened after repeated failures"
            );
            *state = State::Open {
                until: Instant::now() + self.cool_down,
            };
        } else {
            *state = State::Closed { failures };
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is always left consistent, so a poisoned lock is usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fail(breaker: &CircuitBreaker) -> Result<(), BreakerError<&'static str>> {
        breaker.call(async { Err::<(), _>("down") }).await
    }

    #[tokio::test]
    async fn breaker_opens_after_threshold_failures_and_refuses_calls() {
        let breaker =
            CircuitBreaker::new("test", 2, Duration::from_secs(60), Duration::from_secs(1));
        assert!(matches!(fail(&breaker).await, Err(BreakerError::Inner(_))));
        assert!(matches!(fail(&breaker).await, Err(BreakerError::Inner(_))));
        assert!(matches!(fail(&breaker).await, Err(BreakerError::Open)));
    }

    #[tokio::test]
    async fn breaker_lets_a_trial_call_through_after_cool_down() {
        let breaker =
            CircuitBreaker::new("test", 1, Duration::from_millis(0), Duration::from_secs(1));
        let _ = fail(&breaker).await;
        let ok = breaker.call(async { Ok::<_, &str>(1) }).await;
        assert!(matches!(ok, Ok(1)));
    }

    #[tokio::test]
    async fn breaker_times_out_slow_calls() {
        let breaker =
            CircuitBreaker::new("test", 5, Duration::from_secs(1), Duration::from_millis(10));
        let slow = breaker
            .call(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, &str>(())
            })
            .await;
        assert!(matches!(slow, Err(BreakerError::Timeout)));
    }
}

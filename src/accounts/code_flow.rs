//! What every endpoint that starts a code flow does before it answers:
//! the per-address quota, the flow's cooldown, and then the sending, after
//! the answer, so that neither its work nor its outcome shows in the
//! answer or its timing (no enumeration).

use std::future::Future;
use std::time::Duration;

use tracing::Instrument;

use crate::error::AppError;
use crate::ratelimit::{Limit, Verdict};
use crate::state::AppState;
use crate::telemetry::Chain;

/// What a request within the flow's cooldown gets.
#[derive(Debug, Clone, Copy)]
pub(super) enum InCooldown {
    /// 429 `rate_limited` under this policy name: the cooldown starts for
    /// every address asked about, so it tells nothing.
    Refuse(&'static str),
    /// The same 202, and nothing is sent (a cooldown that only known
    /// addresses start, such as registration's, must not show).
    AnswerAlike,
}

/// Applies the quota of codes per address and `scope`'s cooldown for
/// `target`, then runs `send` after the answer (failures are logged).
pub(super) async fn answer_then_send<F, Fut>(
    state: &AppState,
    scope: &'static str,
    target: &str,
    in_cooldown: InCooldown,
    send: F,
) -> Result<(), AppError>
where
    F: FnOnce(AppState) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), AppError>> + Send + 'static,
{
    let limit = state.config.rate_limits.email_codes_per_address;
    state.limit("email-codes", target, limit).await?;
    let cooldown = state.config.codes.resend_cooldown;
    if let Some(left) = state.cooldowns.try_start(scope, target, cooldown).await? {
        return match in_cooldown {
            InCooldown::Refuse(policy) => Err(cooldown_refusal(policy, left, cooldown)),
            InCooldown::AnswerAlike => {
                tracing::info!(flow = scope, "within the cooldown: nothing sent");
                Ok(())
            }
        };
    }
    let state = state.clone();
    tokio::spawn(
        async move {
            if let Err(error) = send(state).await {
                tracing::error!(flow = scope, error = %Chain(&error), "sending a code failed");
            }
        }
        .instrument(tracing::Span::current()),
    );
    Ok(())
}

/// The 429 of a running cooldown, with its `RateLimit` headers.
pub(super) fn cooldown_refusal(
    policy: &'static str,
    left: Duration,
    cooldown: Duration,
) -> AppError {
    AppError::RateLimited {
        retry_after: left,
        policy: Verdict {
            policy,
            limit: Limit::new(1, cooldown.as_secs()),
            remaining: 0,
            reset: left.as_secs().max(1),
            allowed: false,
        },
    }
}

//! What every endpoint that starts a code flow does before it answers:
//! the per-address quota, the flow's cooldown, and then the sending, after
//! the answer, so that neither its work nor its outcome shows in the
//! answer or its timing (no enumeration).

use std::future::Future;
use std::time::Duration;

use tracing::Instrument;

use super::{Identifier, LoginRow};
use crate::error::AppError;
use crate::ratelimit::{Limit, Verdict};
use crate::state::AppState;
use crate::store::{Actor, Metadata};
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

/// Applies the quota of codes per address and `scope`'s cooldown for `to`,
/// then, after the answer, looks the account up and runs `send` for it if
/// there is one (as its actor; failures are logged).
pub(super) async fn answer_then_send<F, Fut>(
    state: &AppState,
    scope: &'static str,
    to: Identifier,
    in_cooldown: InCooldown,
    metadata: Metadata,
    send: F,
) -> Result<(), AppError>
where
    F: FnOnce(AppState, LoginRow, Metadata) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), AppError>> + Send + 'static,
{
    let target = to.normalized();
    let limit = state.config.rate_limits.email_codes_per_address;
    state.limit("email-codes", &target, limit).await?;
    let cooldown = state.config.codes.resend_cooldown;
    if let Some(left) = state.cooldowns.try_start(scope, &target, cooldown).await? {
        return match in_cooldown {
            InCooldown::Refuse(policy) => Err(cooldown_refusal(policy, left, cooldown)),
            InCooldown::AnswerAlike => {
                tracing::info!(flow = scope, "within the cooldown: nothing sent");
                Ok(())
            }
        };
    }
    let state = state.clone();
    let lookup_then_send = async move {
        let Some(account) = super::find_login(&state, &to).await? else {
            return Ok(());
        };
        let mut metadata = metadata;
        metadata.actor.get_or_insert(Actor::User(account.user_id));
        send(state, account, metadata).await
    };
    tokio::spawn(
        async move {
            if let Err(error) = lookup_then_send.await {
                tracing::error!(flow = scope, error = %Chain(&error), "sending a code failed");
            }
        }
        .instrument(tracing::Span::current()),
    );
    Ok(())
}

/// Starts `scope`'s resend cooldown for `target`; a 429 under `policy`
/// while one runs.
pub(super) async fn start_cooldown(
    state: &AppState,
    scope: &'static str,
    target: &str,
    policy: &'static str,
) -> Result<(), AppError> {
    let cooldown = state.config.codes.resend_cooldown;
    match state.cooldowns.try_start(scope, target, cooldown).await? {
        Some(left) => Err(cooldown_refusal(policy, left, cooldown)),
        None => Ok(()),
    }
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

//! Everything a request handler needs, built once at start-up and shared.

use std::sync::Arc;
use std::time::Duration;

use aggregates::{Audit, Conversion, Influencer, Ledger, Referral, Session, User};
use projections::{Cursor, Progress};
use tokio::sync::watch;
use zeroize::Zeroizing;

use crate::auth::{OneTimeCodes, PasswordHasher, Revocations, TokenIssuer};
use crate::config::Config;
use crate::cooldown::Cooldowns;
use crate::email::Mailer;
use crate::error::AppError;
use crate::ratelimit::{Limit, RateLimiter, Verdict};
use crate::store::Repository;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    /// Everything the service keeps, on either backend (see `store`).
    pub db: crate::store::Database,
    pub users: Repository<User>,
    pub sessions: Repository<Session>,
    /// Reads of account histories (see `history`).
    pub audits: Repository<Audit>,
    /// The referral program (see `program`).
    pub influencers: Repository<Influencer>,
    pub referrals: Repository<Referral>,
    pub conversions: Repository<Conversion>,
    pub ledgers: Repository<Ledger>,
    pub hasher: PasswordHasher,
    pub tokens: TokenIssuer,
    /// Sessions and accounts whose access tokens stop before they expire.
    pub revocations: Arc<Revocations>,
    /// Profiles as `GET /me` answers them, kept in step with the user
    /// directory (see `read_cache`).
    pub profiles: Arc<crate::read_cache::ReadCache<crate::http::Me>>,
    /// What refreshes need of accounts, kept in step with the login
    /// lookup (see `accounts::refresh`).
    pub refresh_accounts: Arc<crate::read_cache::ReadCache<crate::accounts::RefreshAccount>>,
    pub codes: OneTimeCodes,
    /// OpenID providers to sign in with, and the sealer of their flows'
    /// `state` (see `oidc`).
    pub oidc: crate::oidc::Providers,
    pub oidc_states: crate::oidc::StateSealer,
    /// TOTP secrets (sealed) and recovery codes (see `auth::totp`).
    pub totp: crate::auth::Totp,
    pub cooldowns: Cooldowns,
    pub mailer: Mailer,
    pub sms: crate::sms::SmsSender,
    pub limiter: RateLimiter,
    /// What recording a login check costs (see `accounts::timing`).
    pub login_bookkeeping: crate::accounts::timing::RecentSamples,
    pub projections: ProjectionWaiter,
    /// The relay's and the projections' lag, kept in memory for readiness.
    pub lag: crate::monitor::LagMonitor,
    /// Key deriving each refresh token's successor (see `auth::refresh_tokens`).
    pub successor_key: Zeroizing<[u8; 32]>,
    /// The furthest place in the log a commit of this instance reached,
    /// sent after every commit: wakes log readers.
    pub appended: Arc<watch::Sender<Cursor>>,
    /// Turns true when the service is stopping (SIGTERM): ends open event
    /// streams, and readiness answers 503.
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl AppState {
    /// Counts a hit against `limit`; `Err(rate_limited)` when over it.
    pub async fn limit(
        &self,
        policy: &'static str,
        subject: &str,
        limit: Limit,
    ) -> Result<Option<Verdict>, AppError> {
        let verdict = self.limiter.hit(policy, subject, limit).await?;
        match verdict {
            Some(v) if !v.allowed => {
                crate::instruments::rate_limited(policy);
                Err(AppError::RateLimited {
                    retry_after: Duration::from_secs(v.reset),
                    policy: v,
                })
            }
            other => Ok(other),
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Lets a request wait until every projection has applied a given event:
/// the read-your-writes guarantee behind register-then-login and
/// login-then-`/me`. A stalled projection is not waited for: it will not
/// move until it is repaired, and the commands must go on meanwhile.
/// Waiting also wakes the projector at once (see `projections::Wakes`).
#[derive(Clone)]
pub struct ProjectionWaiter {
    progress: Vec<watch::Receiver<Progress>>,
    wanted: Arc<watch::Sender<Cursor>>,
    timeout: Duration,
}

impl ProjectionWaiter {
    pub fn new(
        progress: Vec<watch::Receiver<Progress>>,
        wanted: Arc<watch::Sender<Cursor>>,
        timeout: Duration,
    ) -> Self {
        Self {
            progress,
            wanted,
            timeout,
        }
    }

    /// Returns once all projections reached `cursor`, or after the timeout
    /// (logged: the command itself is committed either way).
    pub async fn wait_for(&self, cursor: Option<Cursor>) {
        let Some(target) = cursor else { return };
        let reached = move |seen: &Progress| seen.stalled || seen.cursor >= target;
        if self.progress.iter().all(|rx| reached(&rx.borrow())) {
            return;
        }
        self.wanted
            .send_modify(|wanted| *wanted = (*wanted).max(target));
        let all = futures_util::future::join_all(
            self.progress
                .iter()
                .cloned()
                .map(|mut rx| async move { rx.wait_for(reached).await.map(|_| ()) }),
        );
        if tokio::time::timeout(self.timeout, all).await.is_err() {
            tracing::warn!(
                position = target.position,
                "projections lag; answering before they caught up"
            );
        }
    }
}

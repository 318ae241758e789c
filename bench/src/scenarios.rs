//! The measured scenarios and the in-process argon2 baseline. Every load
//! task owns its own `Api` (one keep-alive connection) and stops starting
//! requests at the shared deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use crate::api::{Api, TokenPair};
use crate::smtp::Inbox;
use crate::stats::{median_ms, run_for, Recorder, Summary};

/// Meets the service's password policy (upper, lower, digit, symbol, 8+).
pub const PASSWORD: &str = "Bench-Pass-1!";
/// Registrations in flight at once while creating users.
const SETUP_CONCURRENCY: usize = 8;
/// How long a verification email may take to reach the sink.
const EMAIL_TIMEOUT: Duration = Duration::from_secs(15);
/// Refreshes at each end of the history run whose median is compared.
const HISTORY_WINDOW: usize = 100;

#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    pub email: String,
}

/// Registers `n` users and verifies each with the code the sink received.
pub async fn create_users(base_url: &str, inbox: &Inbox, n: usize) -> anyhow::Result<Vec<User>> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let prefix = run.get(..8).unwrap_or(&run).to_owned();
    let api = Api::new(base_url)?;
    let permits = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let user = User {
            username: format!("b{prefix}_{i}"),
            email: format!("b{prefix}.{i}@example.com"),
        };
        let (api, inbox, permits) = (api.clone(), inbox.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            api.register(&user.username, &user.email, PASSWORD)
                .await
                .with_context(|| format!("register {}", user.username))?;
            let code = inbox.take_code(&user.email, EMAIL_TIMEOUT).await?;
            api.verify_email(&user.email, &code)
                .await
                .with_context(|| format!("verify-email {}", user.email))?;
            anyhow::Ok(user)
        });
    }
    let mut users = Vec::with_capacity(n);
    while let Some(joined) = tasks.join_next().await {
        users.push(joined??);
    }
    Ok(users)
}

/// Logs in `n` times (users in turn), a few at a time; one session each.
pub async fn open_sessions(
    base_url: &str,
    users: &[User],
    n: usize,
) -> anyhow::Result<Vec<(User, TokenPair)>> {
    if users.is_empty() {
        bail!("no users to log in");
    }
    let api = Api::new(base_url)?;
    let permits = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for user in users.iter().cycle().take(n).cloned() {
        let (api, permits) = (api.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let pair = api
                .login(&user.username, PASSWORD)
                .await
                .with_context(|| format!("login {}", user.username))?;
            anyhow::Ok((user, pair))
        });
    }
    let mut pairs = Vec::with_capacity(n);
    while let Some(joined) = tasks.join_next().await {
        pairs.push(joined??);
    }
    Ok(pairs)
}

/// The single-thread cost of one argon2id verification with the service's
/// parameters, and the login rate that cost allows on every core.
///
/// Measured twice, right before and right after the login scenario (with
/// the service idle), because this machine's speed drifts over a run (a
/// shared VM): a baseline taken minutes away from the logins it judges
/// moved the ratio by +-10%. The bound uses the mean of both medians.
#[derive(Debug, Clone, Serialize)]
pub struct Argon2Baseline {
    pub samples: usize,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// The mean of the two medians below.
    pub t_verify_ms: f64,
    pub t_verify_before_ms: f64,
    pub t_verify_after_ms: f64,
    pub cores: usize,
    pub bound_per_s: f64,
    /// Verifications per second with one thread per core, all at once, for
    /// three seconds (the mean of before and after): what the hardware
    /// really gives argon2 when every core runs it (memory bandwidth is
    /// shared), with no service at all.
    pub all_cores_per_s: f64,
}

/// One measurement of [`Argon2Baseline`]'s figures.
#[derive(Debug, Clone, Copy)]
pub struct Argon2Sample {
    samples: usize,
    t_verify_ms: f64,
    all_cores_per_s: f64,
}

impl Argon2Baseline {
    /// The baseline from a measurement before and one after the logins.
    pub fn around(before: Argon2Sample, after: Argon2Sample) -> Self {
        let cores = cores();
        let t_verify_ms = (before.t_verify_ms + after.t_verify_ms) / 2.0;
        Self {
            samples: before.samples + after.samples,
            memory_kib: MEMORY_KIB,
            iterations: ITERATIONS,
            parallelism: PARALLELISM,
            t_verify_ms,
            t_verify_before_ms: before.t_verify_ms,
            t_verify_after_ms: after.t_verify_ms,
            cores,
            bound_per_s: cores as f64 * 1000.0 / t_verify_ms.max(f64::EPSILON),
            all_cores_per_s: (before.all_cores_per_s + after.all_cores_per_s) / 2.0,
        }
    }
}

/// The argon2 parameters the service runs with (OWASP's, its defaults),
/// given to it as `IDENTITY_ARGON2_*` and used by the baseline.
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Blocking: run it on a thread of its own, with nothing else busy.
pub fn argon2_sample(samples: usize) -> anyhow::Result<Argon2Sample> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| anyhow!("argon2 parameters: {e}"))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::encode_b64(b"bench-fixed-salt").map_err(|e| anyhow!("salt: {e}"))?;
    let hash = argon2
        .hash_password(PASSWORD.as_bytes(), &salt)
        .map_err(|e| anyhow!("hash: {e}"))?
        .to_string();
    let parsed = PasswordHash::new(&hash).map_err(|e| anyhow!("parse: {e}"))?;
    let mut times = Vec::with_capacity(samples);
    // One extra, unmeasured call warms caches and the allocator.
    for i in 0..=samples {
        let started = Instant::now();
        argon2
            .verify_password(PASSWORD.as_bytes(), &parsed)
            .map_err(|e| anyhow!("verify: {e}"))?;
        if i > 0 {
            times.push(started.elapsed());
        }
    }
    Ok(Argon2Sample {
        samples,
        t_verify_ms: median_ms(&times),
        all_cores_per_s: all_cores(&argon2, &parsed, cores(), Duration::from_secs(3)),
    })
}

/// Verifications per second with `threads` threads verifying for `window`.
fn all_cores(
    argon2: &Argon2<'_>,
    hash: &PasswordHash<'_>,
    threads: usize,
    window: Duration,
) -> f64 {
    let started = Instant::now();
    let done: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0usize;
                    while started.elapsed() < window {
                        if argon2.verify_password(PASSWORD.as_bytes(), hash).is_ok() {
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    done as f64 / started.elapsed().as_secs_f64()
}

/// `clients` tasks logging in back to back, each cycling through the users.
pub async fn logins(
    base_url: &str,
    users: &[User],
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Summary> {
    if users.is_empty() {
        bail!("no users to log in");
    }
    let users: Arc<[User]> = users.into();
    let items = (0..clients)
        .map(|i| Ok((i, Api::new(base_url)?, users.clone())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    run_for(
        duration,
        items,
        move |(first, api, users), deadline| async move {
            let mut recorder = Recorder::default();
            let mut turn = first;
            while Instant::now() < deadline {
                let user = &users[turn % users.len()];
                turn += clients;
                let started = Instant::now();
                match api.login(&user.username, PASSWORD).await {
                    Ok(_) => recorder.success(started.elapsed()),
                    Err(failure) => recorder.failure(failure),
                }
            }
            recorder
        },
    )
    .await
}

/// One task per session, each refreshing with the token its previous
/// refresh returned. A failed refresh breaks the chain: the task counts the
/// error and logs in again (that login is not timed as a refresh).
pub async fn refreshes(
    base_url: &str,
    sessions: Vec<(User, TokenPair)>,
    duration: Duration,
) -> anyhow::Result<Summary> {
    let items = sessions
        .into_iter()
        .map(|(user, pair)| Ok((Api::new(base_url)?, user, pair.refresh_token)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    run_for(
        duration,
        items,
        |(api, user, mut token), deadline| async move {
            let mut recorder = Recorder::default();
            while Instant::now() < deadline {
                refresh_once(&api, &user, &mut token, &mut recorder).await;
            }
            recorder
        },
    )
    .await
}

/// Like `refreshes`, but paced: together the sessions start `per_s`
/// refreshes a second, evenly spread (session `i` of `n` is offset by
/// `i / n` of its period). A refresh that overruns its slot skips the
/// missed slots instead of bursting to catch up, so the achieved rate
/// (the summary's `per_s`) is at most `per_s`.
pub async fn paced_refreshes(
    base_url: &str,
    sessions: Vec<(User, TokenPair)>,
    per_s: f64,
    duration: Duration,
) -> anyhow::Result<Summary> {
    let n = sessions.len();
    if n == 0 || per_s <= 0.0 {
        bail!("paced refreshes need sessions and a positive rate");
    }
    let period = Duration::from_secs_f64(n as f64 / per_s);
    let items = sessions
        .into_iter()
        .enumerate()
        .map(|(i, (user, pair))| Ok((i, Api::new(base_url)?, user, pair.refresh_token)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    run_for(
        duration,
        items,
        move |(i, api, user, mut token), deadline| async move {
            let offset = period.mul_f64(i as f64 / n as f64);
            let mut slots = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            slots.set_missed_tick_behavior(MissedTickBehavior::Skip);
            let mut recorder = Recorder::default();
            loop {
                slots.tick().await;
                if Instant::now() >= deadline {
                    return recorder;
                }
                refresh_once(&api, &user, &mut token, &mut recorder).await;
            }
        },
    )
    .await
}

/// One timed refresh that moves `token` on. A failure breaks the chain: it
/// is counted and the session logs in again (untimed).
async fn refresh_once(api: &Api, user: &User, token: &mut String, recorder: &mut Recorder) {
    let started = Instant::now();
    match api.refresh(token).await {
        Ok(pair) => {
            recorder.success(started.elapsed());
            *token = pair.refresh_token;
        }
        Err(failure) => {
            recorder.failure(failure);
            if let Ok(pair) = api.login(&user.username, PASSWORD).await {
                *token = pair.refresh_token;
            }
        }
    }
}

/// `GET /health/live` then `GET /me`, each at one task per token for the
/// same duration.
pub async fn me_and_live(
    base_url: &str,
    access_tokens: &[String],
    duration: Duration,
) -> anyhow::Result<(Summary, Summary)> {
    let apis = || {
        access_tokens
            .iter()
            .map(|token| Ok((Api::new(base_url)?, token.clone())))
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let live = run_for(duration, apis()?, |(api, _), deadline| async move {
        let mut recorder = Recorder::default();
        while Instant::now() < deadline {
            let started = Instant::now();
            match api.live().await {
                Ok(()) => recorder.success(started.elapsed()),
                Err(failure) => recorder.failure(failure),
            }
        }
        recorder
    })
    .await?;
    let me = run_for(duration, apis()?, |(api, token), deadline| async move {
        let mut recorder = Recorder::default();
        while Instant::now() < deadline {
            let started = Instant::now();
            match api.me(&token).await {
                Ok(()) => recorder.success(started.elapsed()),
                Err(failure) => recorder.failure(failure),
            }
        }
        recorder
    })
    .await?;
    Ok((me, live))
}

/// Whether a refresh gets slower as its session's history grows.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub refreshes: usize,
    pub errors: usize,
    pub first_p50_ms: f64,
    pub last_p50_ms: f64,
    /// `last_p50_ms / first_p50_ms`; about 1.0 when cost does not grow.
    pub ratio: f64,
    pub total_s: f64,
}

/// Refreshes one session `count` times in a row; stops at the first error,
/// since the chain is then broken.
pub async fn history(base_url: &str, user: &User, count: usize) -> anyhow::Result<History> {
    let api = Api::new(base_url)?;
    let mut token = api.login(&user.username, PASSWORD).await?.refresh_token;
    let mut times = Vec::with_capacity(count);
    let mut errors = 0;
    let started_all = Instant::now();
    for _ in 0..count {
        let started = Instant::now();
        match api.refresh(&token).await {
            Ok(pair) => {
                times.push(started.elapsed());
                token = pair.refresh_token;
            }
            Err(_) => {
                errors += 1;
                break;
            }
        }
    }
    let window = HISTORY_WINDOW.min(times.len());
    let first_p50_ms = median_ms(&times[..window]);
    let last_p50_ms = median_ms(&times[times.len() - window..]);
    Ok(History {
        refreshes: times.len(),
        errors,
        first_p50_ms,
        last_p50_ms,
        ratio: if first_p50_ms > 0.0 {
            last_p50_ms / first_p50_ms
        } else {
            0.0
        },
        total_s: started_all.elapsed().as_secs_f64(),
    })
}

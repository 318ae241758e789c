//! Sign-ins through an OpenID provider and with a second factor, beside
//! the password logins of the same run:
//! - an OpenID sign-in (start, the provider, callback, exchange) against
//!   the tests' provider stand-in on loopback (`tests/oidc/provider.mjs`)
//!   costs no argon2 work, so it must not be slower than a password login;
//! - a TOTP second factor adds no argon2 work: MFA logins (password, then
//!   `POST /auth/mfa` with the app's code) per second against password
//!   logins per second, at the same number of clients.
//!
//! A TOTP code is accepted once per account and time step, so each MFA
//! account signs in once: `accounts` of them, enrolled beforehand, each
//! with the next step's code (never the one its confirmation used).

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Mutex;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::scenarios::{User, PASSWORD};
use crate::stats::{run_for, Recorder, Summary};

/// The client id the service is configured with for the stand-in.
pub const CLIENT_ID: &str = "bench";
/// Where a finished web sign-in returns to (never fetched).
pub const BACK: &str = "http://app.bench/back";

#[derive(Debug, Serialize)]
pub struct MfaOidcReport {
    pub clients: usize,
    pub oidc: Summary,
    /// OpenID sign-ins per second over password logins per second (the
    /// same run's login scenario); the target is at least 1.
    pub oidc_vs_password: f64,
    pub mfa_accounts: usize,
    pub mfa_logins_per_s: f64,
    /// `POST /auth/mfa` alone per second (no argon2: far above the bound).
    pub mfa_second_step_per_s: f64,
    /// MFA logins per second over password logins per second: about 1 when
    /// the second factor adds no argon2 work.
    pub mfa_vs_password: f64,
    pub mfa_failures: usize,
}

/// The provider stand-in, stopped when dropped.
pub struct Provider {
    _child: tokio::process::Child,
    pub issuer: String,
}

impl Provider {
    pub async fn start() -> anyhow::Result<Self> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/oidc/provider.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the OpenID provider stand-in needs Node.js")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let issuer = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .context("the provider did not start in 20 s")??
            .ok_or_else(|| {
                anyhow!("the provider printed nothing: run `npm ci --prefix tests/oidc` first")
            })?;
        let provider = Self {
            _child: child,
            issuer,
        };
        let claims = json!({"sub": "bench-person", "email": "bench-oidc@example.com", "email_verified": true});
        reqwest::Client::new()
            .post(format!("{}/__test/next", provider.issuer))
            .json(&json!({ "claims": claims }))
            .send()
            .await?
            .error_for_status()?;
        Ok(provider)
    }
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()?)
}

fn location(response: &reqwest::Response) -> anyhow::Result<String> {
    Ok(response
        .headers()
        .get(reqwest::header::LOCATION)
        .ok_or_else(|| anyhow!("no redirect ({})", response.status()))?
        .to_str()?
        .to_owned())
}

/// One web sign-in, start to tokens. The service's public URL
/// (`public_url`) stands for `base` in the provider's redirect.
async fn oidc_sign_in(http: &reqwest::Client, base: &str, public_url: &str) -> anyhow::Result<()> {
    let start = format!("{base}/api/v1/auth/oidc/google/start?redirect_uri={BACK}");
    let started = http.get(start).send().await?;
    // The browser's cookie binds the callback to the start.
    let cookie = started
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow!("no flow cookie"))?
        .to_owned();
    let to_provider = location(&started)?;
    let callback = location(&http.get(to_provider).send().await?)?;
    let callback = callback.replacen(public_url, base, 1);
    let back = location(
        &http
            .get(callback)
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await?,
    )?;
    let code = back
        .split_once("login_code=")
        .map(|(_, code)| code.to_owned())
        .ok_or_else(|| anyhow!("no login_code in {back}"))?;
    let exchanged = http
        .post(format!("{base}/api/v1/auth/oidc/exchange"))
        .json(&json!({ "login_code": code }))
        .send()
        .await?;
    if exchanged.status() != 200 {
        bail!("exchange answered {}", exchanged.status());
    }
    Ok(())
}

/// OpenID sign-ins by `clients` clients for `duration`.
pub async fn oidc_sign_ins(
    base: &str,
    public_url: &str,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Summary> {
    let http = client()?;
    // The first sign-in makes the account and discovers the provider.
    oidc_sign_in(&http, base, public_url).await?;
    let items = (0..clients)
        .map(|_| Ok((client()?, base.to_owned(), public_url.to_owned())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    run_for(
        duration,
        items,
        |(http, base, public), deadline| async move {
            let mut recorder = Recorder::default();
            while Instant::now() < deadline {
                let started = Instant::now();
                match oidc_sign_in(&http, &base, &public).await {
                    Ok(()) => recorder.success(started.elapsed()),
                    Err(_) => recorder.failure(crate::api::Failure::Transport),
                }
            }
            recorder
        },
    )
    .await
}

fn code(secret: &[u8], unix: u64) -> String {
    TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        1,
        30,
        secret.to_vec(),
        None,
        String::new(),
    )
    .generate(unix)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

async fn post(
    http: &reqwest::Client,
    url: String,
    auth: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut request = http.post(url).json(&body);
    if let Some(token) = auth {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{status}: {body}");
    }
    Ok(body)
}

/// Turns TOTP on for `user`; its secret.
async fn enroll(http: &reqwest::Client, base: &str, user: &User) -> anyhow::Result<Vec<u8>> {
    let login = json!({"identifier": user.username, "password": PASSWORD});
    let pair = post(http, format!("{base}/api/v1/auth/login"), None, login).await?;
    let token = pair["access_token"]
        .as_str()
        .ok_or_else(|| anyhow!("no token"))?;
    let password = json!({ "password": PASSWORD });
    let started = post(
        http,
        format!("{base}/api/v1/me/mfa/totp"),
        Some(token),
        password,
    )
    .await?;
    let secret = started["secret"]
        .as_str()
        .ok_or_else(|| anyhow!("no secret"))?;
    let secret = Secret::Encoded(secret.to_owned())
        .to_bytes()
        .map_err(|e| anyhow!("{e:?}"))?;
    let confirm = json!({ "code": code(&secret, now()) });
    post(
        http,
        format!("{base}/api/v1/me/mfa/totp/confirm"),
        Some(token),
        confirm,
    )
    .await?;
    Ok(secret)
}

/// A password login of `user`, stopping at the second factor: its token.
async fn first_factor(http: &reqwest::Client, base: &str, user: &User) -> anyhow::Result<String> {
    let login = json!({"identifier": user.username, "password": PASSWORD});
    let answer = post(http, format!("{base}/api/v1/auth/login"), None, login).await?;
    Ok(answer["mfa_token"]
        .as_str()
        .ok_or_else(|| anyhow!("no mfa_token: {answer}"))?
        .to_owned())
}

/// The second factor of the sign-in `token` began.
async fn second_factor(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    secret: &[u8],
) -> anyhow::Result<()> {
    let second = json!({ "mfa_token": token, "code": code(secret, now() + 30) });
    post(http, format!("{base}/api/v1/auth/mfa"), None, second).await?;
    Ok(())
}

/// What the MFA logins measured.
pub struct MfaLogins {
    pub accounts: usize,
    /// Whole logins (password, then code) per second.
    pub per_s: f64,
    /// The second step alone (`POST /auth/mfa`) per second.
    pub second_step_per_s: f64,
    pub failures: usize,
}

/// Runs `step` over `items`, `clients` at a time; (results, seconds).
async fn in_parallel<T, R, F, Fut>(items: Vec<T>, clients: usize, step: F) -> (Vec<R>, f64)
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = R> + Send,
{
    let queue = Arc::new(Mutex::new(items));
    let step = Arc::new(step);
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (queue, step) = (queue.clone(), step.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let Some(item) = queue.lock().await.pop() else {
                        return done;
                    };
                    done.push(step(item).await);
                }
            })
        })
        .collect();
    let mut results = Vec::new();
    for worker in workers {
        results.extend(worker.await.unwrap_or_default());
    }
    (results, started.elapsed().as_secs_f64())
}

/// Enrolls every user of `users`, then signs each in once, `clients` at a
/// time: first every password step, then every second step, timed apart.
pub async fn mfa_logins(base: &str, users: &[User], clients: usize) -> anyhow::Result<MfaLogins> {
    let http = client()?;
    let mut enrolled = Vec::with_capacity(users.len());
    for user in users {
        enrolled.push((user.clone(), enroll(&http, base, user).await?));
    }
    let accounts = enrolled.len();
    let (http1, base1) = (http.clone(), base.to_owned());
    let (firsts, first_secs) = in_parallel(enrolled, clients, move |(user, secret)| {
        let (http, base) = (http1.clone(), base1.clone());
        async move { Some((first_factor(&http, &base, &user).await.ok()?, secret)) }
    })
    .await;
    let firsts: Vec<_> = firsts.into_iter().flatten().collect();
    let first_failures = accounts - firsts.len();
    let (http2, base2) = (http.clone(), base.to_owned());
    let (seconds, second_secs) = in_parallel(firsts, clients, move |(token, secret)| {
        let (http, base) = (http2.clone(), base2.clone());
        async move { second_factor(&http, &base, &token, &secret).await.is_ok() }
    })
    .await;
    let ok = seconds.iter().filter(|ok| **ok).count();
    Ok(MfaLogins {
        accounts,
        per_s: ok as f64 / (first_secs + second_secs),
        second_step_per_s: ok as f64 / second_secs,
        failures: first_failures + (seconds.len() - ok),
    })
}

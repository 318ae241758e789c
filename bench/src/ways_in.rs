//! The ways back in and the ways in without a password:
//! - the start endpoints (password reset, passwordless by email and by
//!   phone) must take the same time for known and unknown identifiers:
//!   medians within 10% over `samples` requests of each kind, interleaved;
//! - a passwordless sign-in (start, the code from the sink, verify) costs
//!   no argon2 work: sign-ins per second at `clients` connections, beside
//!   the password logins of the same run.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use rand::seq::SliceRandom;
use serde::Serialize;
use serde_json::{json, Value};
use sinks::{SmsSink, SmtpSink};

use crate::scenarios::{User, PASSWORD};
use crate::stats::{median_ms, run_for, Recorder, Summary};

/// How long a code may take to reach a sink.
const CODE_TIMEOUT: Duration = Duration::from_secs(15);
/// Between two timed start requests: the known identifier's sending, after
/// its answer, is over by then.
const PAUSE: Duration = Duration::from_millis(15);
/// The bench's SMS provider account.
pub const SMS_ACCOUNT: &str = "ACbench";
pub const SMS_TOKEN: &str = "bench-token";

#[derive(Debug, Clone, Serialize)]
pub struct StartTiming {
    pub endpoint: &'static str,
    pub samples: usize,
    pub known_median_ms: f64,
    pub unknown_median_ms: f64,
    /// unknown / known; the target is within 0.9-1.1.
    pub ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct WaysInReport {
    pub start_timing: Vec<StartTiming>,
    pub passwordless_clients: usize,
    pub passwordless: Summary,
}

/// A plain client of the service: JSON in, status and JSON out.
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }
}

/// Gives `user` the verified phone `phone` (texted code from `sms`).
pub async fn verify_phone(
    base: &str,
    sms: &SmsSink,
    user: &User,
    phone: &str,
) -> anyhow::Result<()> {
    let client = Client::new(base)?;
    let login = json!({"identifier": user.username, "password": PASSWORD});
    let (_, pair) = client.post("/api/v1/auth/login", None, &login).await?;
    let token = pair["access_token"]
        .as_str()
        .ok_or_else(|| anyhow!("no token: {pair}"))?;
    let (status, body) = client
        .post("/api/v1/me/phone", Some(token), &json!({"phone": phone}))
        .await?;
    anyhow::ensure!(status == 202, "adding a phone answered {status}: {body}");
    let code = sms
        .nth_code(phone, 1, CODE_TIMEOUT)
        .await
        .ok_or_else(|| anyhow!("no text to {phone}"))?;
    let (status, body) = client
        .post(
            "/api/v1/me/phone/verify",
            Some(token),
            &json!({"code": code}),
        )
        .await?;
    anyhow::ensure!(
        status == 200,
        "verifying the phone answered {status}: {body}"
    );
    Ok(())
}

/// Medians of each start endpoint for a known and an unknown identifier,
/// interleaved one by one.
pub async fn start_timing(
    base: &str,
    known_email: &str,
    known_phone: &str,
    samples: usize,
) -> anyhow::Result<Vec<StartTiming>> {
    let client = Client::new(base)?;
    let endpoints: [(&'static str, &'static str, &'static str, String); 3] = [
        (
            "password reset",
            "/api/v1/auth/password-reset",
            "email",
            known_email.to_owned(),
        ),
        (
            "passwordless by email",
            "/api/v1/auth/passwordless",
            "email",
            known_email.to_owned(),
        ),
        (
            "passwordless by phone",
            "/api/v1/auth/passwordless",
            "phone",
            known_phone.to_owned(),
        ),
    ];
    let mut results = Vec::new();
    for (name, path, field, known) in endpoints {
        let (mut known_ms, mut unknown_ms) = (Vec::new(), Vec::new());
        // One unknown identifier, as there is one known one: both then do
        // the same work in the request (the quota and cooldown rows of an
        // address already seen); a fresh address for each unknown request
        // would time row inserts against updates, not known against unknown.
        let unknown = match field {
            "phone" => "+4917612345678".to_owned(),
            _ => format!("nobody.{}@example.com", uuid::Uuid::new_v4().simple()),
        };
        // Known and unknown in a random order, a pause after each: a known
        // identifier's sending runs after its answer, and would otherwise
        // slow whichever request came next.
        let mut order: Vec<bool> = (0..samples + 10).flat_map(|_| [true, false]).collect();
        order.shuffle(&mut rand::thread_rng());
        let (mut seen_known, mut seen_unknown) = (0, 0);
        for is_known in order {
            let value = if is_known { &known } else { &unknown };
            let started = Instant::now();
            let (status, body) = client.post(path, None, &json!({ field: value })).await?;
            let took = started.elapsed();
            anyhow::ensure!(status == 202, "{name} answered {status}: {body}");
            // The first ten of each kind warm both paths; they are not counted.
            let (seen, into) = if is_known {
                (&mut seen_known, &mut known_ms)
            } else {
                (&mut seen_unknown, &mut unknown_ms)
            };
            *seen += 1;
            if *seen > 10 {
                into.push(took);
            }
            tokio::time::sleep(PAUSE).await;
        }
        let (known_median, unknown_median) = (median_ms(&known_ms), median_ms(&unknown_ms));
        results.push(StartTiming {
            endpoint: name,
            samples,
            known_median_ms: known_median,
            unknown_median_ms: unknown_median,
            ratio: if known_median > 0.0 {
                unknown_median / known_median
            } else {
                0.0
            },
        });
    }
    Ok(results)
}

/// Sign-ins by emailed code (start, the code from the sink, verify), one
/// user per client, for `duration`.
pub async fn passwordless_sign_ins(
    base: &str,
    mail: &SmtpSink,
    users: &[User],
    duration: Duration,
) -> anyhow::Result<Summary> {
    let items = users
        .iter()
        .map(|user| Ok((Client::new(base)?, mail.clone(), user.clone())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    run_for(
        duration,
        items,
        |(client, mail, user), deadline| async move {
            let mut recorder = Recorder::default();
            while Instant::now() < deadline {
                let started = Instant::now();
                match sign_in(&client, &mail, &user).await {
                    Ok(()) => recorder.success(started.elapsed()),
                    Err(_) => recorder.failure(crate::api::Failure::Transport),
                }
            }
            recorder
        },
    )
    .await
}

async fn sign_in(client: &Client, mail: &SmtpSink, user: &User) -> anyhow::Result<()> {
    let sent = mail.mails_to(&user.email).len();
    let email = json!({"email": user.email});
    let (status, _) = client
        .post("/api/v1/auth/passwordless", None, &email)
        .await?;
    anyhow::ensure!(status == 202, "start answered {status}");
    let code = mail
        .nth_code(&user.email, sent + 1, CODE_TIMEOUT)
        .await
        .context("no sign-in code")?;
    let verify = json!({"email": user.email, "code": code});
    let (status, body) = client
        .post("/api/v1/auth/passwordless/verify", None, &verify)
        .await?;
    anyhow::ensure!(status == 200, "verify answered {status}: {body}");
    Ok(())
}

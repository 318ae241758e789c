//! The conversions scenario: does recording an influencer's next conversion
//! cost the same after 100,000 prior ones as after 10? Sets up an admin and a
//! `service` account (granted with `identity admin grant-role`), two approved
//! influencers each with one referred buyer, seeds A with a few and B with
//! many conversions, then times sequential recordings alternating A and B.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{Connection as _, PgConnection};
use tokio::task::JoinSet;

use crate::api::Api;
use crate::scenarios::{User, PASSWORD};
use crate::smtp::Inbox;
use crate::stats::{Recorder, Summary};

/// Prior conversions of the small influencer.
pub const SMALL_PRIOR: usize = 10;
/// Tasks seeding the large influencer's conversions at once.
const SEED_CONCURRENCY: usize = 32;
/// Attempts per seeded conversion before it counts as lost.
const SEED_ATTEMPTS: usize = 10;
/// How long a granted role may take to reach the login projection.
const ROLE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a verification email may take to reach the sink.
const EMAIL_TIMEOUT: Duration = Duration::from_secs(15);
/// Amount of every conversion, in minor units.
const AMOUNT_MINOR: i64 = 10_000;

/// What the scenario needs from the run.
pub struct Setup<'a> {
    pub base_url: &'a str,
    pub bin: &'a Path,
    pub database_url: &'a str,
    pub inbox: &'a Inbox,
    /// Four verified users: admin, service, influencer A, influencer B.
    pub users: &'a [User],
}

#[derive(Debug, Clone, Serialize)]
pub struct ConversionsReport {
    pub small_prior: usize,
    pub large_prior: usize,
    /// Seeding the large influencer's conversions: `seed.per_s` is the
    /// seeding rate, `seed.errors` the failed attempts (each retried).
    pub seed_concurrency: usize,
    pub seed: Summary,
    /// Sequential recordings timed per influencer, in each round.
    pub samples: usize,
    /// Timed right after the seeding burst, with its dead row versions
    /// (100,000 updates of B's ledger snapshot and dashboard rows) not yet
    /// vacuumed.
    pub after_seed: Timed,
    /// How long `VACUUM (ANALYZE)` of the database took after the first round.
    pub vacuum_s: f64,
    /// Timed again after the vacuum: the state months of history would
    /// leave, where autovacuum keeps up.
    pub after_vacuum: Timed,
}

/// One round of alternating recordings for A and B.
#[derive(Debug, Clone, Serialize)]
pub struct Timed {
    /// Recording for the influencer with `small_prior` conversions.
    pub small: Summary,
    /// Recording for the influencer with `large_prior` conversions.
    pub large: Summary,
    /// `large.p50_ms / small.p50_ms`; about 1.0 when cost does not grow.
    pub p50_ratio: f64,
    /// `large.p99_ms / small.p99_ms`.
    pub p99_ratio: f64,
}

/// Runs the whole scenario; `large_prior` conversions for B, `samples`
/// timed recordings each.
pub async fn measure(
    setup: &Setup<'_>,
    large_prior: usize,
    samples: usize,
) -> anyhow::Result<ConversionsReport> {
    let [admin, service, a, b] = setup.users else {
        bail!("the conversions scenario needs exactly four users");
    };
    let api = Api::new(setup.base_url)?;
    let admin_token = with_role(setup, &api, admin, "admin").await?;
    let service_token = with_role(setup, &api, service, "service").await?;
    let buyer_a = influencer_with_buyer(setup, &api, &admin_token, a).await?;
    let buyer_b = influencer_with_buyer(setup, &api, &admin_token, b).await?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let run = run.get(..8).unwrap_or(&run).to_owned();

    for i in 0..SMALL_PRIOR {
        let body = conversion(&format!("{run}-a-seed-{i}"), &buyer_a);
        api.post_authorized("/api/v1/referrals/conversions", &service_token, Some(&body))
            .await
            .with_context(|| format!("seed conversion {i} of A"))?;
    }

    crate::progress(format!(
        "conversions: seeding {large_prior} conversions of B with {SEED_CONCURRENCY} tasks"
    ));
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    for _ in 0..SEED_CONCURRENCY {
        let api = Api::new(setup.base_url)?;
        let (next, token, buyer, run) = (
            next.clone(),
            service_token.clone(),
            buyer_b.clone(),
            run.clone(),
        );
        tasks.spawn(async move {
            let mut recorder = Recorder::default();
            let mut recorded = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= large_prior {
                    return (recorded, recorder);
                }
                // The same external id again is idempotent, so a failed
                // attempt (e.g. a write conflict on B's ledger) is retried.
                let body = conversion(&format!("{run}-b-seed-{i}"), &buyer);
                for _ in 0..SEED_ATTEMPTS {
                    let attempt = Instant::now();
                    match api
                        .post_authorized("/api/v1/referrals/conversions", &token, Some(&body))
                        .await
                    {
                        Ok(_) => {
                            recorder.success(attempt.elapsed());
                            recorded += 1;
                            break;
                        }
                        Err(failure) => recorder.failure(failure),
                    }
                }
            }
        });
    }
    let (mut seed_ok, mut seed_recorder) = (0, Recorder::default());
    while let Some(joined) = tasks.join_next().await {
        let (recorded, recorder) = joined?;
        seed_ok += recorded;
        seed_recorder.merge(recorder);
    }
    let seed = seed_recorder.summarize(started.elapsed(), None);
    if seed_ok < large_prior {
        bail!(
            "seeded only {seed_ok} of {large_prior} conversions of B: {:?}",
            seed.error_kinds
        );
    }

    let round = Round {
        api: &api,
        token: &service_token,
        run: &run,
        buyers: [&buyer_a, &buyer_b],
        samples,
    };
    crate::progress(format!(
        "conversions: {samples} sequential recordings each for A ({SMALL_PRIOR} prior) and B ({seed_ok} prior), alternating"
    ));
    let after_seed = round.time("after-seed").await;
    crate::progress("conversions: VACUUM (ANALYZE), then the same again");
    let vacuum_started = Instant::now();
    let mut db = PgConnection::connect(setup.database_url)
        .await
        .context("cannot connect to the service's database")?;
    sqlx::query("VACUUM (ANALYZE)").execute(&mut db).await?;
    let vacuum_s = vacuum_started.elapsed().as_secs_f64();
    let after_vacuum = round.time("after-vacuum").await;
    Ok(ConversionsReport {
        small_prior: SMALL_PRIOR,
        large_prior: seed_ok,
        seed_concurrency: SEED_CONCURRENCY,
        seed,
        samples,
        after_seed,
        vacuum_s,
        after_vacuum,
    })
}

/// What a timed round needs.
struct Round<'a> {
    api: &'a Api,
    token: &'a str,
    run: &'a str,
    /// The buyers of A and of B.
    buyers: [&'a str; 2],
    samples: usize,
}

impl Round<'_> {
    /// `samples` sequential recordings each for A and B, alternating, so
    /// both see the same machine at the same moment.
    async fn time(&self, label: &str) -> Timed {
        let (mut small, mut large) = (Recorder::default(), Recorder::default());
        let (mut small_elapsed, mut large_elapsed) = (Duration::ZERO, Duration::ZERO);
        for i in 0..self.samples {
            for (who, buyer, recorder, elapsed) in [
                ("a", self.buyers[0], &mut small, &mut small_elapsed),
                ("b", self.buyers[1], &mut large, &mut large_elapsed),
            ] {
                let body = conversion(&format!("{}-{who}-{label}-{i}", self.run), buyer);
                let started = Instant::now();
                let result = self
                    .api
                    .post_authorized("/api/v1/referrals/conversions", self.token, Some(&body))
                    .await;
                let took = started.elapsed();
                *elapsed += took;
                match result {
                    Ok(_) => recorder.success(took),
                    Err(failure) => recorder.failure(failure),
                }
            }
        }
        let small = small.summarize(small_elapsed, None);
        let large = large.summarize(large_elapsed, None);
        Timed {
            p50_ratio: ratio(large.p50_ms, small.p50_ms),
            p99_ratio: ratio(large.p99_ms, small.p99_ms),
            small,
            large,
        }
    }
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

/// A sale of the referred `user_id` happening now.
fn conversion(external_id: &str, user_id: &str) -> Value {
    json!({
        "external_id": external_id,
        "user_id": user_id,
        "amount_minor": AMOUNT_MINOR,
        "currency": "usd",
        "occurred_at": chrono::Utc::now().to_rfc3339(),
    })
}

/// Grants `role` with the service binary's admin command, waits until the
/// login projection carries it, and logs in again for a token with it.
pub async fn with_role(
    setup: &Setup<'_>,
    api: &Api,
    user: &User,
    role: &str,
) -> anyhow::Result<String> {
    let status = tokio::process::Command::new(setup.bin)
        .args([
            "admin",
            "grant-role",
            "--email",
            &user.email,
            "--role",
            role,
        ])
        .env("IDENTITY_DATABASE_URL", setup.database_url)
        .env("IDENTITY_LOG", "warn")
        .status()
        .await
        .with_context(|| format!("cannot run {} admin grant-role", setup.bin.display()))?;
    if !status.success() {
        bail!("identity admin grant-role --role {role} failed: {status}");
    }
    let deadline = Instant::now() + ROLE_TIMEOUT;
    loop {
        let roles = roles_of(setup.database_url, &user.email).await?;
        if roles.is_some_and(|roles| roles.iter().any(|r| r == role)) {
            break;
        }
        if Instant::now() >= deadline {
            bail!(
                "role {role} of {} not projected within {ROLE_TIMEOUT:?}",
                user.email
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pair = api
        .login(&user.username, PASSWORD)
        .await
        .with_context(|| format!("login {} after granting {role}", user.username))?;
    Ok(pair.access_token)
}

/// `user` applies and the admin approves; a new user registers with the
/// referral code and verifies. Returns the buyer's id.
async fn influencer_with_buyer(
    setup: &Setup<'_>,
    api: &Api,
    admin_token: &str,
    user: &User,
) -> anyhow::Result<String> {
    let token = api
        .login(&user.username, PASSWORD)
        .await
        .with_context(|| format!("login {}", user.username))?
        .access_token;
    let application = json!({
        "display_name": format!("Bench {}", user.username),
        "channels": [{"platform": "youtube", "url": format!("https://youtube.com/@{}", user.username), "audience_size": 12000}],
        "pitch": "Benchmarks conversion recording at scale.",
    });
    let submitted = api
        .post_authorized(
            "/api/v1/influencer/applications",
            &token,
            Some(&application),
        )
        .await
        .with_context(|| format!("influencer application of {}", user.username))?;
    let id = submitted
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("application without an id: {submitted}"))?;
    let approved = api
        .post_authorized(
            &format!("/api/v1/admin/influencer-applications/{id}/approve"),
            admin_token,
            None,
        )
        .await
        .with_context(|| format!("approve application {id}"))?;
    let code = approved
        .get("referral_code")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("approval without a referral code: {approved}"))?;
    let username = format!("{}_buyer", user.username);
    let email = format!("{username}@example.com");
    let buyer = api
        .register_referred(&username, &email, PASSWORD, code)
        .await
        .with_context(|| format!("register {username} with code {code}"))?;
    let verification = setup.inbox.take_code(&email, EMAIL_TIMEOUT).await?;
    api.verify_email(&email, &verification)
        .await
        .with_context(|| format!("verify-email {email}"))?;
    Ok(buyer)
}

/// The roles `login_lookup` holds for `email`: a `text[]` on PostgreSQL, a
/// JSON array on SQLite.
async fn roles_of(database_url: &str, email: &str) -> anyhow::Result<Option<Vec<String>>> {
    const SQL: &str = "SELECT roles FROM login_lookup WHERE email = $1";
    if database_url.starts_with("sqlite://") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await?;
        let roles: Option<String> = sqlx::query_scalar(SQL)
            .bind(email)
            .fetch_optional(&mut conn)
            .await?;
        conn.close().await?;
        return Ok(roles.map(|r| serde_json::from_str(&r)).transpose()?);
    }
    let mut conn = PgConnection::connect(database_url)
        .await
        .context("cannot connect to the service's database")?;
    let roles = sqlx::query_scalar(SQL)
        .bind(email)
        .fetch_optional(&mut conn)
        .await?;
    conn.close().await?;
    Ok(roles)
}

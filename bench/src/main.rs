//! `bench`: one run starts an SMTP sink and then, for each backend asked
//! for (both by default, SQLite first), a fresh database and the identity
//! service; it measures the baselines and the scenarios against it (relay
//! off), restarts the service with the relay on for the relay scenarios
//! (PostgreSQL), prints a report per backend and the backends side by side,
//! and writes them as JSON. See README.md.

mod api;
mod commands;
mod compare;
mod conversions;
mod feed;
mod mfa_oidc;
mod nats;
mod pgbench;
mod reads;
mod relay;
mod report;
mod scale;
mod scale_report;
mod scenarios;
mod seed;
mod service;
mod smtp;
mod stats;
mod timing;
mod ways_in;
mod xacts;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::Parser;

use relay::SteadyLoad;
use report::{LoginReport, MeReport, RefreshReport, Report, Targets};
use scenarios::{Argon2Baseline, User};
use service::{Backend, Database, LogSummary, Service, ServiceConfig};
use smtp::SmtpSink;

/// Requests of each kind (known, unknown) to each start endpoint.
const WAYS_IN_SAMPLES: usize = 200;
/// Rounds of the timing scenario.
const TIMING_ROUNDS: usize = 3;
/// Single-thread argon2 verifications whose median is the baseline, each
/// time it is measured (before and after the logins).
const ARGON2_SAMPLES: usize = 30;
/// Time allowed for the service to create its database, migrate and listen.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Timed conversion recordings per influencer in the conversions scenario.
const CONVERSION_SAMPLES: usize = 500;
/// Refreshes/s as a share of pgbench's rate for the same transaction.
const PGBENCH_TARGET_RATIO: f64 = 0.7;
/// Pool size given to the service on PostgreSQL, enough for 32 connections
/// plus projectors; on SQLite the service's own default.
const DB_MAX_CONNECTIONS: u32 = 40;

#[derive(Debug, Parser)]
#[command(name = "bench", about = "Load generator for the identity service")]
struct Cli {
    /// `scale` or `seed`; without one, the scenarios below.
    #[command(subcommand)]
    command: Option<commands::Command>,
    #[command(flatten)]
    args: Args,
}

#[derive(Debug, clap::Args)]
struct Args {
    /// Seconds each timed scenario runs.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// The identity binary to start (`cargo build --release -p identity`).
    #[arg(long, default_value = "target/release/identity")]
    service_bin: PathBuf,
    /// A shorter history run: 1,000 refreshes instead of 5,000.
    #[arg(long)]
    quick: bool,
    /// PostgreSQL server URL, without a database name.
    #[arg(
        long,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    postgres_url: String,
    /// Verified users to create.
    #[arg(long, default_value_t = 40)]
    users: usize,
    /// Concurrent clients of the login scenario (default: two per core, so
    /// a verification is always waiting for each core).
    #[arg(long)]
    login_clients: Option<usize>,
    /// Concurrent connections for the refresh, /me and /health/live scenarios.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// NATS server with JetStream the relay publishes to.
    #[arg(long, env = "BENCH_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// Skip the relay scenarios (no NATS needed); the service runs with the
    /// relay off throughout.
    #[arg(long)]
    skip_relay: bool,
    /// Total refreshes per second of the relay's steady load.
    #[arg(long, default_value_t = 200.0)]
    relay_rate: f64,
    /// Logins of each kind per round of the timing scenario (the AUC's
    /// standard error is about 0.013 at 1,000, 0.029 at 200).
    #[arg(long, default_value_t = 1_000)]
    timing_logins: usize,
    /// Sessions sharing the relay's steady load.
    #[arg(long, default_value_t = 8)]
    relay_sessions: usize,
    /// Skip the conversions scenario (recording cost at 10 vs many prior
    /// conversions).
    #[arg(long)]
    skip_conversions: bool,
    /// Prior conversions of the large influencer in the conversions
    /// scenario (default 100,000; 10,000 with `--quick`).
    #[arg(long)]
    conversions_prior: Option<usize>,
    /// Skip the event feed scenario (a backlog streamed over SSE).
    #[arg(long)]
    skip_feed: bool,
    /// Skip the OpenID and second-factor sign-ins (they need Node.js and
    /// `npm ci --prefix tests/oidc` for the provider stand-in).
    #[arg(long)]
    skip_mfa_oidc: bool,
    /// Events in the feed scenario's backlog.
    #[arg(long, default_value_t = 100_000)]
    feed_backlog: usize,
    /// The storage backends to measure, one after the other in this run,
    /// each on a fresh database (comma-separated). On SQLite the relay (it
    /// needs PostgreSQL), the conversions scenario (seeded with PostgreSQL
    /// SQL) and the second, unchecked `/me` instance (a SQLite file has one
    /// server) are left out.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sqlite,postgres"
    )]
    backend: Vec<Backend>,
    /// Where the JSON report is written.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results/latest.json"))]
    out: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Cli { command, args } = Cli::parse();
    let bin = resolve_bin(&args.service_bin)?;
    if let Some(command) = command {
        return commands::run(command, &bin, &args.postgres_url).await;
    }
    let sink = SmtpSink::start().await?;
    let mut reports = Vec::with_capacity(args.backend.len());
    for &backend in &args.backend {
        let report = bench_backend(&args, backend, &bin, &sink).await?;
        std::io::stdout()
            .lock()
            .write_all(report.render().as_bytes())?;
        reports.push(report);
    }
    if reports.len() > 1 {
        std::io::stdout()
            .lock()
            .write_all(report::side_by_side(&reports).as_bytes())?;
    }
    report::write_json(&reports, &args.out)?;
    progress(format!("wrote {}", args.out.display()));
    Ok(())
}

/// Every scenario on one backend: a fresh database (and stream), the
/// service started on it, and everything removed afterwards, also when a
/// scenario fails or the run is interrupted.
async fn bench_backend(
    args: &Args,
    backend: Backend,
    bin: &Path,
    sink: &SmtpSink,
) -> anyhow::Result<Report> {
    let sqlite = backend == Backend::Sqlite;
    let target = if args.skip_relay || sqlite {
        None
    } else {
        Some(nats::Target::connect(&args.nats_url).await?)
    };
    let database = Database::fresh(backend, &args.postgres_url);
    let data_dir = std::env::temp_dir().join(database.name());
    std::fs::create_dir_all(&data_dir)?;
    progress(format!(
        "{backend:?}: starting {} on database {} (relay off)",
        bin.display(),
        database.name()
    ));
    let sms = sinks::SmsSink::start(ways_in::SMS_ACCOUNT, ways_in::SMS_TOKEN).await?;
    let provider = if args.skip_mfa_oidc {
        None
    } else {
        Some(mfa_oidc::Provider::start().await?)
    };
    let config = ServiceConfig {
        bin,
        database_url: database.url(),
        smtp_port: sink.port(),
        sms_url: sms.url(),
        data_dir: data_dir.clone(),
        db_max_connections: (backend == Backend::Postgres).then_some(DB_MAX_CONNECTIONS),
        secret_hex: service::random_secret_hex(),
        relay: None,
        skip_revocation_check: false,
        oidc_issuer: provider.as_ref().map(|p| p.issuer.clone()),
    };
    // Cancelling drops the running service, which kills it.
    let outcome = tokio::select! {
        outcome = run(args, backend, &config, &database, (sink, &sms), target.as_ref()) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    if let Some(target) = &target {
        if let Err(error) = target.delete_stream().await {
            progress(format!(
                "could not delete stream {}: {error:#}",
                target.stream()
            ));
        }
    }
    if let Err(error) = database.drop_database().await {
        progress(format!(
            "could not drop database {}: {error:#}",
            database.name()
        ));
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    outcome
}

/// The scenarios with the relay off, then (unless skipped) the relay
/// scenarios after a restart with it on. A failed relay scenario is
/// reported, not fatal: the other figures stand.
async fn run(
    args: &Args,
    backend: Backend,
    config: &ServiceConfig<'_>,
    database: &Database,
    (sink, sms): (&SmtpSink, &sinks::SmsSink),
    target: Option<&nats::Target>,
) -> anyhow::Result<Report> {
    // On an empty database and data directory: migrations, keys, projector.
    let starting = std::time::Instant::now();
    let service = Service::start(config, READY_TIMEOUT).await?;
    let startup_to_ready_ms = starting.elapsed().as_secs_f64() * 1000.0;
    progress(format!("ready after {startup_to_ready_ms:.0} ms"));
    let measured = measure(args, backend, config, &service, (sink, sms)).await;
    let logs = service.stop().await;
    let (mut report, users) = measured?;
    report.service_log = logs;
    report.startup_to_ready_ms = startup_to_ready_ms;
    let Some(target) = target else {
        return Ok(report);
    };
    let load = SteadyLoad {
        sessions: args.relay_sessions,
        per_s: args.relay_rate,
        duration: Duration::from_secs(args.duration_secs),
    };
    let capacity = report.refresh.refreshes_per_s;
    let (relay, logs) = relay::measure(config, database, target, &users, load, capacity).await;
    report.service_log = std::mem::take(&mut report.service_log).merge(logs);
    match relay {
        Ok(relay) => report.relay = Some(relay),
        Err(error) => {
            progress(format!("relay scenarios failed: {error:#}"));
            report.relay_error = Some(format!("{error:#}"));
        }
    }
    Ok(report)
}

/// Every scenario but the relay's, in order, against the running service.
async fn measure(
    args: &Args,
    backend: Backend,
    config: &ServiceConfig<'_>,
    service: &Service,
    (sink, sms): (&SmtpSink, &sinks::SmsSink),
) -> anyhow::Result<(Report, Vec<User>)> {
    let base = service.base_url();
    let load_before = load_average();
    let duration = Duration::from_secs(args.duration_secs);
    let secs = args.duration_secs;

    progress(format!("creating {} verified users", args.users));
    let users = scenarios::create_users(base, &smtp::Inbox::of(sink), args.users).await?;

    let clients = args.login_clients.unwrap_or(2 * scenarios::cores());
    let mut counter = match backend {
        Backend::Postgres => Some(xacts::Counter::connect(&config.database_url).await?),
        Backend::Sqlite => None,
    };
    progress(format!("login: {clients} clients for {secs} s"));
    let argon2_before = argon2_sample().await?;
    let before = read_counter(&mut counter).await?;
    let login = scenarios::logins(base, &users, clients, duration).await?;
    let login_xacts = per_request(&mut counter, before, login.ok).await?;
    let argon2 = Argon2Baseline::around(argon2_before, argon2_sample().await?);

    let sessions = scenarios::open_sessions(base, &users, args.connections).await?;
    let access: Vec<String> = sessions
        .iter()
        .map(|(_, p)| p.access_token.clone())
        .collect();
    progress(format!("refresh: {} sessions for {secs} s", sessions.len()));
    let before = read_counter(&mut counter).await?;
    let refresh = scenarios::refreshes(base, sessions, duration).await?;
    let refresh_xacts = per_request(&mut counter, before, refresh.ok).await?;
    let pgbench_tps = if backend == Backend::Postgres {
        progress(format!(
            "pgbench: the bare refresh transaction, {} clients for {secs} s",
            access.len()
        ));
        Some(
            pgbench::refresh_limit(&config.database_url, access.len(), argon2.cores, duration)
                .await?,
        )
    } else {
        None
    };

    progress(format!(
        "/health/live then /me: {} connections, {secs} s each",
        access.len()
    ));
    let (me, live) = scenarios::me_and_live(base, &access, duration).await?;
    // The same /me on a second instance (same database, same tokens) that
    // skips the revocation lookup, while the first one idles: what the
    // lookup costs, in this run.
    let me_unchecked = if backend == Backend::Sqlite {
        None
    } else {
        progress(format!(
            "/me without the revocation check: a second instance, {secs} s"
        ));
        let unchecked_config = ServiceConfig {
            skip_revocation_check: true,
            ..config.clone()
        };
        let unchecked = Service::start(&unchecked_config, READY_TIMEOUT).await?;
        let measured = scenarios::me_and_live(unchecked.base_url(), &access, duration).await;
        unchecked.stop().await;
        Some(measured?.0)
    };

    let count = if args.quick { 1_000 } else { 5_000 };
    progress(format!(
        "history: {count} sequential refreshes of one session"
    ));
    let user = users.first().ok_or_else(|| anyhow!("no users"))?;
    let history = scenarios::history(base, user, count).await?;

    progress(format!(
        "timing: {TIMING_ROUNDS} rounds of {n} wrong-password and {n} unknown-identifier logins",
        n = args.timing_logins
    ));
    let timing = timing::measure(base, &user.username, TIMING_ROUNDS, args.timing_logins).await?;

    let phone = "+4915123456789";
    ways_in::verify_phone(base, sms, user, phone).await?;
    progress(format!(
        "ways in: {WAYS_IN_SAMPLES} known and unknown requests to each start endpoint"
    ));
    let start_timing = ways_in::start_timing(base, &user.email, phone, WAYS_IN_SAMPLES).await?;
    let signers = &users[..users.len().min(args.connections)];
    progress(format!(
        "passwordless: {} clients signing in by emailed code for {secs} s",
        signers.len()
    ));
    let passwordless = ways_in::passwordless_sign_ins(base, sink, signers, duration).await?;
    let ways_in = ways_in::WaysInReport {
        start_timing,
        passwordless_clients: signers.len(),
        passwordless,
    };
    let mfa_oidc = if args.skip_mfa_oidc {
        None
    } else {
        Some(mfa_oidc_scenarios(args, base, sink, clients, duration, login.per_s).await?)
    };

    let feed = if args.skip_feed {
        None
    } else {
        progress(format!(
            "feed: {} events seeded, then streamed over SSE to one consumer",
            args.feed_backlog
        ));
        let inbox = smtp::Inbox::of(sink);
        let extra = scenarios::create_users(base, &inbox, 1).await?;
        let setup = conversions::Setup {
            base_url: base,
            bin: config.bin,
            database_url: &config.database_url,
            inbox: &inbox,
            users: &extra,
        };
        let service_user = extra.first().ok_or_else(|| anyhow!("no feed user"))?;
        let api = api::Api::new(base)?;
        let token = conversions::with_role(&setup, &api, service_user, "service").await?;
        Some(feed::measure(base, &config.database_url, &token, args.feed_backlog).await?)
    };

    let conversions = if args.skip_conversions || backend == Backend::Sqlite {
        None
    } else {
        let prior = args
            .conversions_prior
            .unwrap_or(if args.quick { 10_000 } else { 100_000 });
        progress("conversions: admin, service account, two influencers and their buyers");
        let inbox = smtp::Inbox::of(sink);
        let extra = scenarios::create_users(base, &inbox, 4).await?;
        let setup = conversions::Setup {
            base_url: base,
            bin: config.bin,
            database_url: &config.database_url,
            inbox: &inbox,
            users: &extra,
        };
        Some(conversions::measure(&setup, prior, CONVERSION_SAMPLES).await?)
    };

    let targets = Targets::of(backend);
    let report = Report {
        load_before,
        load_after: load_average(),
        backend,
        startup_to_ready_ms: 0.0,
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        cores: argon2.cores,
        duration_secs: secs,
        quick: args.quick,
        users: users.len(),
        login: LoginReport {
            clients,
            logins_per_s: login.per_s,
            bound_per_s: argon2.bound_per_s,
            ratio: login.per_s / argon2.bound_per_s,
            target_ratio: targets.login_ratio,
            write_transactions: login_xacts,
            summary: login,
        },
        refresh: RefreshReport {
            connections: access.len(),
            refreshes_per_s: refresh.per_s,
            target_per_s: targets.refresh_per_s,
            target_p99_ms: targets.refresh_p99_ms,
            write_transactions: refresh_xacts,
            pgbench_tps,
            pgbench_ratio: pgbench_tps.filter(|t| *t > 0.0).map(|t| refresh.per_s / t),
            pgbench_target_ratio: PGBENCH_TARGET_RATIO,
            summary: refresh,
        },
        me_vs_live: MeReport {
            concurrency: access.len(),
            me_rps: me.per_s,
            live_rps: live.per_s,
            ratio: if live.per_s > 0.0 {
                me.per_s / live.per_s
            } else {
                0.0
            },
            me_without_check_rps: me_unchecked.as_ref().map(|u| u.per_s),
            check_ratio: me_unchecked
                .as_ref()
                .filter(|u| u.per_s > 0.0)
                .map(|u| me.per_s / u.per_s),
            me,
            live,
            me_without_check: me_unchecked,
        },
        argon2,
        history,
        timing,
        ways_in,
        mfa_oidc,
        conversions,
        feed,
        relay_during_scenarios: false,
        relay: None,
        relay_error: None,
        service_log: LogSummary::default(),
    };
    Ok((report, users))
}

/// OpenID sign-ins for `duration`, then one MFA login of each of its
/// accounts, both at the login scenario's `clients`.
async fn mfa_oidc_scenarios(
    args: &Args,
    base: &str,
    sink: &SmtpSink,
    clients: usize,
    duration: Duration,
    password_per_s: f64,
) -> anyhow::Result<mfa_oidc::MfaOidcReport> {
    progress(format!(
        "openid: {clients} clients signing in through the provider stand-in for {} s",
        duration.as_secs()
    ));
    let oidc = mfa_oidc::oidc_sign_ins(base, service::PUBLIC_URL, clients, duration).await?;
    let count = if args.quick { 100 } else { 200 };
    progress(format!(
        "mfa: {count} accounts with TOTP, each signing in once with password and code"
    ));
    let accounts = scenarios::create_users(base, &smtp::Inbox::of(sink), count).await?;
    let mfa = mfa_oidc::mfa_logins(base, &accounts, clients).await?;
    let ratio = |x: f64| {
        if password_per_s > 0.0 {
            x / password_per_s
        } else {
            0.0
        }
    };
    Ok(mfa_oidc::MfaOidcReport {
        clients,
        oidc_vs_password: ratio(oidc.per_s),
        oidc,
        mfa_accounts: mfa.accounts,
        mfa_logins_per_s: mfa.per_s,
        mfa_second_step_per_s: mfa.second_step_per_s,
        mfa_vs_password: ratio(mfa.per_s),
        mfa_failures: mfa.failures,
    })
}

/// The argon2 baseline, measured while the service idles.
async fn argon2_sample() -> anyhow::Result<scenarios::Argon2Sample> {
    progress(format!(
        "argon2 baseline: {ARGON2_SAMPLES} verifications on one thread, then 3 s on every core"
    ));
    tokio::task::spawn_blocking(|| scenarios::argon2_sample(ARGON2_SAMPLES)).await?
}

async fn read_counter(counter: &mut Option<xacts::Counter>) -> anyhow::Result<i64> {
    match counter {
        Some(counter) => counter.start().await,
        None => Ok(0),
    }
}

async fn per_request(
    counter: &mut Option<xacts::Counter>,
    before: i64,
    requests: u64,
) -> anyhow::Result<Option<f64>> {
    match counter {
        Some(counter) => Ok(Some(counter.per_request(before, requests).await?)),
        None => Ok(None),
    }
}

/// The binary as given, or relative to the workspace root when run elsewhere.
fn resolve_bin(path: &Path) -> anyhow::Result<PathBuf> {
    if path.exists() {
        return Ok(path.to_path_buf());
    }
    let from_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    if path.is_relative() && from_root.exists() {
        return Ok(from_root);
    }
    bail!(
        "{} not found; build it with `cargo build --release -p identity`",
        path.display()
    )
}

/// The 1-minute load average, where the OS reports one (Linux).
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Progress goes to stderr; stdout carries only the report.
pub(crate) fn progress(message: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr().lock(), "bench: {}", message.as_ref());
}

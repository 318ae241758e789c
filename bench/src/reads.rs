//! `bench reads`: authenticated reads against the bare handler (issue 15).
//! Per backend, on a fresh store: `GET /health/live` (the bare-handler
//! baseline), then `GET /api/v1/me` with the revocation check, both at
//! `--connections`; then the service restarted on the same store with
//! `IDENTITY_BENCH_SKIP_REVOCATION_CHECK=true` and `/me` again (what the
//! check costs). Every figure is from the same run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::scenarios::{self, User};
use crate::service::{self, Backend, Backends, Database, Service, ServiceConfig};
use crate::smtp::{Inbox, SmtpSink};
use crate::stats::Summary;

/// `/me` over `/health/live`, the target (issue 15).
const TARGET_RATIO: f64 = 0.5;
/// `/me`'s p99 at 64 connections, the target (issue 15).
const TARGET_P99_MS: f64 = 20.0;

#[derive(Debug, Args)]
pub struct ReadsArgs {
    #[command(flatten)]
    backends: Backends,
    /// Concurrent connections, each with a session of its own.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds each read runs.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Where the JSON report is written.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results/reads-latest.json"))]
    out: PathBuf,
}

/// One backend's figures.
#[derive(Debug, Serialize)]
pub struct ReadsReport {
    backend: Backend,
    connections: usize,
    live: Summary,
    me: Summary,
    me_unchecked: Summary,
    /// `me.per_s / live.per_s`; target >= 0.5.
    me_over_live: f64,
    /// `me.per_s / me_unchecked.per_s`; about 1.0 when the check is free.
    me_over_unchecked: f64,
    meets_target: bool,
}

pub async fn run(args: ReadsArgs, bin: &Path, postgres_url: &str) -> anyhow::Result<()> {
    let sink = SmtpSink::start().await?;
    let sms = sinks::SmsSink::start("bench", "bench-token").await?;
    let duration = Duration::from_secs(args.duration_secs);
    let mut reports = Vec::new();
    for &backend in &args.backends.backend {
        let database = Database::fresh(backend, postgres_url);
        let data_dir = std::env::temp_dir().join(database.name());
        std::fs::create_dir_all(&data_dir)?;
        let config = ServiceConfig {
            bin,
            database_url: database.url(),
            smtp_port: sink.port(),
            sms_url: sms.url(),
            data_dir: data_dir.clone(),
            db_max_connections: None,
            secret_hex: service::random_secret_hex(),
            relay: None,
            skip_revocation_check: false,
            oidc_issuer: None,
        };
        let measured = measure(&config, backend, &sink, args.connections, duration).await;
        if let Err(error) = database.drop_database().await {
            crate::progress(format!("could not drop {}: {error:#}", database.name()));
        }
        let _ = std::fs::remove_dir_all(&data_dir);
        let report = measured?;
        print!("{}", render(&report));
        reports.push(report);
    }
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let written = serde_json::json!({
        "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "cores": scenarios::cores(),
        "duration_secs": args.duration_secs,
        "runs": reports,
    });
    std::fs::write(&args.out, serde_json::to_string_pretty(&written)? + "\n")?;
    crate::progress(format!("wrote {}", args.out.display()));
    Ok(())
}

async fn measure(
    config: &ServiceConfig<'_>,
    backend: Backend,
    sink: &SmtpSink,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<ReadsReport> {
    let service = Service::start(config, crate::READY_TIMEOUT).await?;
    let base = service.base_url().to_owned();
    crate::progress(format!(
        "{backend:?}: creating {connections} verified users"
    ));
    let users: Vec<User> = scenarios::create_users(&base, &Inbox::of(sink), connections).await?;
    let sessions = scenarios::open_sessions(&base, &users, connections).await?;
    let access: Vec<String> = sessions
        .into_iter()
        .map(|(_, pair)| pair.access_token)
        .collect();
    crate::progress(format!(
        "{backend:?}: /health/live then /me, {connections} connections"
    ));
    let measured = scenarios::me_and_live(&base, &access, duration).await;
    service.stop().await;
    let (me, live) = measured?;
    crate::progress(format!("{backend:?}: /me without the revocation check"));
    let unchecked_config = ServiceConfig {
        skip_revocation_check: true,
        ..config.clone()
    };
    let unchecked = Service::start(&unchecked_config, crate::READY_TIMEOUT).await?;
    let measured = scenarios::me_and_live(unchecked.base_url(), &access, duration).await;
    unchecked.stop().await;
    let (me_unchecked, _) = measured?;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let me_over_live = ratio(me.per_s, live.per_s);
    Ok(ReadsReport {
        backend,
        connections,
        me_over_unchecked: ratio(me.per_s, me_unchecked.per_s),
        meets_target: me_over_live >= TARGET_RATIO && me.p99_ms < TARGET_P99_MS && me.errors == 0,
        me_over_live,
        live,
        me,
        me_unchecked,
    })
}

fn render(r: &ReadsReport) -> String {
    let line = |name: &str, s: &Summary| {
        format!(
            "  {name:<22} {:>9.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}\n",
            s.per_s, s.p50_ms, s.p99_ms, s.errors
        )
    };
    format!(
        "\n{:?}, {} connections\n{}{}{}  /me / live = {:.2} (target >= {TARGET_RATIO}, p99 < {TARGET_P99_MS} ms: {})\n  /me / unchecked /me = {:.2}\n",
        r.backend,
        r.connections,
        line("GET /health/live", &r.live),
        line("GET /me", &r.me),
        line("GET /me (no check)", &r.me_unchecked),
        r.me_over_live,
        if r.meets_target { "met" } else { "NOT met" },
        r.me_over_unchecked,
    )
}

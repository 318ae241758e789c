//! The subcommands beside the default run: `scale` (the same reads on a
//! small and a large store) and `seed` (fill a store with accounts).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::scale::{self, SizeReport};
use crate::service::{Backend, Backends};
use crate::smtp::SmtpSink;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seed a small and a large store per backend and measure the same
    /// reads on each, side by side (issue 17's figures).
    Scale(ScaleArgs),
    /// Fill a store with verified accounts fast (a bench tool): migrates it,
    /// writes the accounts' events in bulk in the service's own shape,
    /// then rebuilds every projection. Passwords are the bench's.
    Seed(SeedArgs),
    /// `/me` (with and without the revocation check) against
    /// `/health/live`, per backend, in one run (issue 15's figures).
    Reads(crate::reads::ReadsArgs),
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Store sizes in accounts, comma-separated (each about 5 events).
    #[arg(long, value_delimiter = ',', default_value = "10000,1000000")]
    sizes: Vec<usize>,
    #[command(flatten)]
    backends: Backends,
    /// Seconds each read runs.
    #[arg(long, default_value_t = 5)]
    duration_secs: u64,
    /// Where the JSON report is written.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results/scale-latest.json"))]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The store: `postgres://...` or `sqlite://PATH`.
    #[arg(long)]
    database_url: String,
    /// Accounts to write.
    #[arg(long)]
    accounts: usize,
    /// Number of the first account (to add to a store seeded before).
    #[arg(long, default_value_t = 0)]
    first: usize,
}

/// What `scale` writes: every size of every backend, in the order run.
#[derive(Serialize)]
struct ScaleRun<'a> {
    date: String,
    cores: usize,
    duration_secs: u64,
    runs: &'a [SizeReport],
}

pub async fn run(
    command: Command,
    bin: &std::path::Path,
    postgres_url: &str,
) -> anyhow::Result<()> {
    match command {
        Command::Scale(args) => scale(args, bin, postgres_url).await,
        Command::Seed(args) => seed(args, bin).await,
        Command::Reads(args) => crate::reads::run(args, bin, postgres_url).await,
    }
}

async fn scale(args: ScaleArgs, bin: &std::path::Path, postgres_url: &str) -> anyhow::Result<()> {
    let sink = SmtpSink::start().await?;
    let duration = Duration::from_secs(args.duration_secs);
    let mut reports = Vec::new();
    for &backend in &args.backends.backend {
        for &size in &args.sizes {
            let report =
                scale::measure(bin, backend, postgres_url, sink.port(), size, duration).await?;
            crate::progress(crate::scale_report::render(std::slice::from_ref(&report)));
            reports.push(report);
        }
    }
    print!("{}", crate::scale_report::render(&reports));
    let run = ScaleRun {
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        cores: crate::scenarios::cores(),
        duration_secs: args.duration_secs,
        runs: &reports,
    };
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&run)? + "\n")?;
    crate::progress(format!("wrote {}", args.out.display()));
    Ok(())
}

async fn seed(args: SeedArgs, bin: &std::path::Path) -> anyhow::Result<()> {
    let backend = if args.database_url.starts_with("sqlite://") {
        Backend::Sqlite
    } else if args.database_url.starts_with("postgres") {
        Backend::Postgres
    } else {
        return Err(anyhow!("--database-url: postgres://... or sqlite://PATH"));
    };
    let data_dir = std::env::temp_dir().join("identity-bench-seed");
    std::fs::create_dir_all(&data_dir)?;
    let seeded = scale::seed_store(
        bin,
        backend,
        &args.database_url,
        &data_dir,
        args.first,
        args.accounts,
    )
    .await?;
    println!("{}", serde_json::to_string_pretty(&seeded)?);
    Ok(())
}

//! The database's own limit for the work of one refresh: `pgbench` running
//! `bench/pgbench/refresh.sql` (read one session stream, append one event
//! and move its snapshot) on the run's database, with as many clients as
//! the refresh scenario has connections.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};

/// Transactions per second `pgbench` sustains; the service idles meanwhile.
pub async fn refresh_limit(
    database_url: &str,
    clients: usize,
    threads: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/pgbench/refresh.sql");
    let output = tokio::process::Command::new("pgbench")
        .args(["-n", "-c", &clients.to_string(), "-j", &threads.to_string()])
        .args(["-T", &duration.as_secs().max(1).to_string(), "-f", script])
        .arg(database_url)
        .output()
        .await
        .context("cannot run pgbench (Debian: apt-get install postgresql-client)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // "tps = 1431.923073 (without initial connection time)"
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .ok_or_else(|| anyhow!("no tps in pgbench's output: {stdout}"))
}

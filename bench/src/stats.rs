//! Latency and throughput bookkeeping: every latency is kept, sorted once at
//! the end, and read at exact percentiles (nearest rank).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::api::Failure;

/// What one load task saw.
#[derive(Debug, Default)]
pub struct Recorder {
    latencies_us: Vec<u64>,
    errors: BTreeMap<String, u64>,
}

impl Recorder {
    pub fn success(&mut self, took: Duration) {
        self.latencies_us.push(micros(took));
    }

    pub fn failure(&mut self, failure: Failure) {
        *self.errors.entry(failure.to_string()).or_default() += 1;
    }

    pub fn merge(&mut self, other: Recorder) {
        self.latencies_us.extend(other.latencies_us);
        for (kind, count) in other.errors {
            *self.errors.entry(kind).or_default() += count;
        }
    }

    /// Successful requests over `elapsed`, with latency percentiles of the
    /// successful ones.
    pub fn summarize(mut self, elapsed: Duration, cpu_busy: Option<f64>) -> Summary {
        self.latencies_us.sort_unstable();
        let ok = self.latencies_us.len() as u64;
        let elapsed_s = elapsed.as_secs_f64();
        Summary {
            ok,
            errors: self.errors.values().sum(),
            error_kinds: self.errors,
            elapsed_s,
            per_s: if elapsed_s > 0.0 {
                ok as f64 / elapsed_s
            } else {
                0.0
            },
            p50_ms: percentile_ms(&self.latencies_us, 0.50),
            p99_ms: percentile_ms(&self.latencies_us, 0.99),
            max_ms: self
                .latencies_us
                .last()
                .map_or(0.0, |&us| us as f64 / 1000.0),
            cpu_busy,
        }
    }
}

/// One scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub ok: u64,
    pub errors: u64,
    pub error_kinds: BTreeMap<String, u64>,
    pub elapsed_s: f64,
    pub per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Share of all cores busy during the run (bench, service and Postgres
    /// together); well below 1.0 under load means the service waits, not works.
    pub cpu_busy: Option<f64>,
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
pub fn percentile_ms(sorted_us: &[u64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us[index] as f64 / 1000.0
}

/// Median of unsorted durations, in milliseconds.
pub fn median_ms(durations: &[Duration]) -> f64 {
    let mut us: Vec<u64> = durations.iter().copied().map(micros).collect();
    us.sort_unstable();
    percentile_ms(&us, 0.50)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Runs one task per item until `duration` has passed (each task checks the
/// deadline before starting a request), then merges what they recorded.
/// Elapsed time runs until the last in-flight request has finished.
pub async fn run_for<S, F, Fut>(
    duration: Duration,
    items: Vec<S>,
    task: F,
) -> anyhow::Result<Summary>
where
    F: Fn(S, Instant) -> Fut,
    Fut: Future<Output = Recorder> + Send + 'static,
{
    let cpu_before = cpu_times();
    let start = Instant::now();
    let deadline = start + duration;
    let handles: Vec<_> = items
        .into_iter()
        .map(|item| tokio::spawn(task(item, deadline)))
        .collect();
    let mut all = Recorder::default();
    for handle in handles {
        all.merge(handle.await?);
    }
    let elapsed = start.elapsed();
    let cpu_busy = cpu_before
        .zip(cpu_times())
        .and_then(|((busy0, total0), (busy1, total1))| {
            let total = total1.saturating_sub(total0);
            (total > 0).then(|| busy1.saturating_sub(busy0) as f64 / total as f64)
        });
    Ok(all.summarize(elapsed, cpu_busy))
}

/// (busy, total) jiffies of all cores from `/proc/stat` (Linux only);
/// idle and iowait count as not busy.
fn cpu_times() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4).unwrap_or(&0);
    Some((total.saturating_sub(idle), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_uses_nearest_rank() {
        let us: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&us, 0.50), 50.0);
        assert_eq!(percentile_ms(&us, 0.99), 99.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }
}

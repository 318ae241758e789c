//! The relay scenarios, run after every other scenario, on the same
//! database, by restarting the service with the relay on:
//!
//! - drain: everything the earlier scenarios wrote (with the relay off) is
//!   an unpublished backlog; the time until `/health/ready` reports
//!   `relay_lag.events == 0` gives the relay's publish rate.
//! - steady: under a paced refresh load, how long each event takes from
//!   its commit (`occurred_at`) to being stored in the stream and to
//!   reaching a JetStream consumer.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;

use crate::api::Api;
use crate::nats::Target;
use crate::progress;
use crate::scenarios::{self, User};
use crate::service::{Database, LogSummary, Service, ServiceConfig};
use crate::stats::{percentile_ms, Summary};

/// How often `/health/ready` is asked for the relay's lag.
const POLL: Duration = Duration::from_millis(25);
/// How long the relay may take to publish a backlog before the run fails.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

/// The steady load: sessions and the total rate they refresh at.
#[derive(Debug, Clone, Copy)]
pub struct SteadyLoad {
    pub sessions: usize,
    pub per_s: f64,
    pub duration: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct RelayReport {
    pub stream: String,
    pub subject_prefix: String,
    pub drain: Drain,
    pub steady: Steady,
}

/// How fast the relay published a backlog it found on start.
#[derive(Debug, Clone, Serialize)]
pub struct Drain {
    /// Rows in the event log when the service restarted, none published.
    pub stored_events: i64,
    /// `relay_lag.events` in the first ready response after the restart
    /// (below `stored_events` when the relay started before the listener).
    pub backlog: i64,
    /// From that response to the first with `relay_lag.events == 0`.
    pub drain_s: f64,
    /// `backlog / drain_s`.
    pub events_per_s: f64,
    /// From spawning the service to lag 0, start-up included.
    pub since_spawn_s: f64,
    /// Messages a subscriber received during the drain, and the rate over
    /// the window from the first to the last: a cross-check.
    pub received: u64,
    pub received_window_s: f64,
    pub received_per_s: f64,
}

/// Commit-to-JetStream lag under a paced refresh load.
#[derive(Debug, Clone, Serialize)]
pub struct Steady {
    pub sessions: usize,
    pub target_per_s: f64,
    /// The load as achieved: refreshes/s, latency, errors, cpu.
    pub refresh: Summary,
    /// Achieved refreshes/s over the refresh scenario's rate (relay off).
    pub share_of_refresh_capacity: f64,
    /// Events received from the start of the load until the relay had
    /// published everything it caused.
    pub events_received: u64,
    /// `events_received` over the load's duration.
    pub events_per_s: f64,
    /// Commit to delivery by a JetStream consumer, `received_at -
    /// occurred_at`: an upper bound of commit to JetStream's ack.
    pub lag: Lag,
    /// Commit to stored in the stream, `stored_at - occurred_at` (the
    /// server's store time; it acknowledges right after storing).
    pub stored_lag: Lag,
    pub undecodable: u64,
    /// Errors the consumer reported instead of a message.
    pub consumer_errors: u64,
}

/// Percentiles of lags measured on this machine's one wall clock.
#[derive(Debug, Clone, Serialize)]
pub struct Lag {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Lag {
    fn of(mut lags_us: Vec<u64>) -> Self {
        lags_us.sort_unstable();
        Self {
            samples: lags_us.len(),
            p50_ms: percentile_ms(&lags_us, 0.50),
            p99_ms: percentile_ms(&lags_us, 0.99),
            max_ms: lags_us.last().map_or(0.0, |&us| us as f64 / 1000.0),
        }
    }
}

/// Restarts the service on `config`'s database with the relay publishing
/// to `target`, measures the drain, then the steady lag. Returns the
/// service's log even when a measurement failed.
pub async fn measure(
    config: &ServiceConfig<'_>,
    database: &Database,
    target: &Target,
    users: &[User],
    load: SteadyLoad,
    refresh_capacity_per_s: f64,
) -> (anyhow::Result<RelayReport>, LogSummary) {
    let stored_events = match database.count_events().await {
        Ok(count) => count,
        Err(error) => return (Err(error), LogSummary::default()),
    };
    let collector = match target.subscribe().await {
        Ok(collector) => collector,
        Err(error) => return (Err(error), LogSummary::default()),
    };
    let config = ServiceConfig {
        relay: Some(target.service_target()),
        ..config.clone()
    };
    progress(format!(
        "relay drain: restarting with the relay on, {stored_events} events to publish to stream {}",
        target.stream()
    ));
    let spawned = Instant::now();
    let service = match Service::start(&config, crate::READY_TIMEOUT).await {
        Ok(service) => service,
        Err(error) => return (Err(error), LogSummary::default()),
    };
    let outcome = async {
        let api = Api::new(service.base_url())?;
        let timing = wait_drained(&api).await?;
        let seen = collector.finish().await?;
        let drain = Drain::new(
            stored_events,
            spawned,
            &timing,
            seen.received(),
            seen.window_s(),
        );
        let steady = steady(&service, target, users, load, refresh_capacity_per_s).await?;
        anyhow::Ok(RelayReport {
            stream: target.stream().to_owned(),
            subject_prefix: target.prefix().to_owned(),
            drain,
            steady,
        })
    }
    .await;
    (outcome, service.stop().await)
}

impl Drain {
    fn new(
        stored_events: i64,
        spawned: Instant,
        timing: &Drained,
        received: u64,
        received_window_s: f64,
    ) -> Self {
        let drain_s = timing.drained.duration_since(timing.first).as_secs_f64();
        Self {
            stored_events,
            backlog: timing.backlog,
            drain_s,
            events_per_s: ratio(timing.backlog as f64, drain_s),
            since_spawn_s: timing.drained.duration_since(spawned).as_secs_f64(),
            received,
            received_window_s,
            received_per_s: ratio(received as f64, received_window_s),
        }
    }
}

async fn steady(
    service: &Service,
    target: &Target,
    users: &[User],
    load: SteadyLoad,
    refresh_capacity_per_s: f64,
) -> anyhow::Result<Steady> {
    let base = service.base_url();
    let api = Api::new(base)?;
    let sessions = scenarios::open_sessions(base, users, load.sessions).await?;
    // The logins' events are published before the consumer starts, so
    // only the load's events are measured.
    wait_drained(&api).await?;
    let before = target.last_sequence().await?;
    let collector = target.consume_new().await?;
    progress(format!(
        "relay steady load: {} sessions refreshing at {:.0}/s in total for {} s",
        load.sessions,
        load.per_s,
        load.duration.as_secs()
    ));
    let refresh = scenarios::paced_refreshes(base, sessions, load.per_s, load.duration).await?;
    wait_drained(&api).await?;
    let last = target.last_sequence().await?;
    let seen = if last > before {
        collector.finish_at(last).await?
    } else {
        collector.finish().await?
    };
    Ok(Steady {
        sessions: load.sessions,
        target_per_s: load.per_s,
        share_of_refresh_capacity: ratio(refresh.per_s, refresh_capacity_per_s),
        events_received: seen.received(),
        events_per_s: ratio(seen.received() as f64, refresh.elapsed_s),
        undecodable: seen.undecodable,
        consumer_errors: seen.errors,
        lag: Lag::of(seen.lags_us),
        stored_lag: Lag::of(seen.stored_lags_us),
        refresh,
    })
}

/// The first ready response's backlog and when it was asked for, and when
/// a ready response first reported no backlog.
struct Drained {
    backlog: i64,
    first: Instant,
    drained: Instant,
}

/// Polls `/health/ready` until the relay has published everything.
async fn wait_drained(api: &Api) -> anyhow::Result<Drained> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    let mut first = None;
    loop {
        let asked = Instant::now();
        // A failed poll (the lag query timed out, say) is asked again.
        if let Ok(lag) = api.relay_lag().await {
            let (backlog, first_at) = *first.get_or_insert((lag.events, asked));
            if lag.events == 0 {
                return Ok(Drained {
                    backlog,
                    first: first_at,
                    drained: asked,
                });
            }
        }
        if Instant::now() >= deadline {
            bail!(
                "the relay had not published its backlog within {DRAIN_TIMEOUT:?} (first backlog {:?})",
                first.map(|(backlog, _)| backlog)
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

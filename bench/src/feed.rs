//! The event feed scenario: a backlog of events streamed over Server-Sent
//! Events (`/api/v1/events/stream`) to one consumer, from the first event
//! of the backlog to the last (target >= 20,000 events/s).
//!
//! The backlog is written straight into the event store in one statement,
//! as `identity.audit.HistoryViewed` events of their own audit streams: no
//! projection reads audit events, so the stream is all the service does
//! while it is timed.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;
use sqlx::{Connection as _, PgConnection};

/// Events per second the feed must reach.
pub const TARGET_PER_S: f64 = 20_000.0;
/// Longest the stream may take before the scenario gives up.
const STREAM_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Serialize)]
pub struct FeedReport {
    pub backlog: usize,
    pub seed_secs: f64,
    pub stream_secs: f64,
    pub events_per_s: f64,
    pub target_per_s: f64,
}

/// Seeds `backlog` events and streams them to one consumer holding
/// `token` (role `service`).
pub async fn measure(
    base_url: &str,
    database_url: &str,
    token: &str,
    backlog: usize,
) -> anyhow::Result<FeedReport> {
    let seeding = Instant::now();
    let after = match database_url.starts_with("sqlite://") {
        true => seed_sqlite(database_url, backlog).await?,
        false => seed_postgres(database_url, backlog).await?,
    };
    let seed_secs = seeding.elapsed().as_secs_f64();

    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut response = client
        .get(format!("{base_url}/api/v1/events/stream?after={after}"))
        .bearer_auth(token)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("the event stream answered {}", response.status());
    }
    let (mut received, mut partial) = (0usize, String::new());
    while received < backlog {
        let chunk = tokio::time::timeout(STREAM_TIMEOUT, response.chunk())
            .await
            .context("the event stream stalled")??
            .context("the event stream ended early")?;
        partial.push_str(std::str::from_utf8(&chunk)?);
        // Count whole `id:` lines; keep an unfinished last line for later.
        let complete = partial.rfind('\n').map_or(0, |i| i + 1);
        received += partial[..complete]
            .lines()
            .filter(|line| line.starts_with("id:"))
            .count();
        partial.drain(..complete);
    }
    let stream_secs = started.elapsed().as_secs_f64();
    Ok(FeedReport {
        backlog,
        seed_secs,
        stream_secs,
        events_per_s: backlog as f64 / stream_secs,
        target_per_s: TARGET_PER_S,
    })
}

/// Appends `backlog` audit events on PostgreSQL; the position before them.
async fn seed_postgres(database_url: &str, backlog: usize) -> anyhow::Result<i64> {
    let mut db = PgConnection::connect(database_url)
        .await
        .context("cannot connect to the service's database")?;
    let after: i64 = sqlx::query_scalar("SELECT COALESCE(max(position), 0) FROM events")
        .fetch_one(&mut db)
        .await?;
    sqlx::query(
        r#"INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
           SELECT 'audit', 'bench-feed-' || (i / 100), i % 100 + 1, 'identity.audit.HistoryViewed', '1',
                  jsonb_build_object('HistoryViewed', jsonb_build_object(
                      'viewer', 'cli', 'subject', md5(i::text)::uuid, 'as_of', NULL,
                      'via', 'cli', 'viewed_at', now())),
                  '{"actor": "cli"}'::jsonb
             FROM generate_series(0, $1 - 1) AS i"#,
    )
    .bind(i64::try_from(backlog)?)
    .execute(&mut db)
    .await?;
    db.close().await?;
    Ok(after)
}

/// The same events on SQLite (a JSON payload as text, times bound).
async fn seed_sqlite(database_url: &str, backlog: usize) -> anyhow::Result<i64> {
    let mut db = sqlx::SqliteConnection::connect(database_url)
        .await
        .context("cannot open the service's database")?;
    let after: i64 = sqlx::query_scalar("SELECT COALESCE(max(position), 0) FROM events")
        .fetch_one(&mut db)
        .await?;
    sqlx::query(
        r#"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
           INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                               payload, metadata, recorded_at)
           SELECT 'audit', 'bench-feed-' || (i / 100), i % 100 + 1, 'identity.audit.HistoryViewed', '1',
                  json_object('HistoryViewed', json_object(
                      'viewer', 'cli', 'subject', printf('00000000-0000-4000-8000-%012d', i),
                      'as_of', NULL, 'via', 'cli', 'viewed_at', ?2)),
                  '{"actor": "cli"}', ?2
             FROM n"#,
    )
    .bind(i64::try_from(backlog)?)
    .bind(chrono::Utc::now())
    .execute(&mut db)
    .await?;
    db.close().await?;
    Ok(after)
}

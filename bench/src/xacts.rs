//! Write transactions per request on PostgreSQL.
//!
//! The cluster hands out one transaction id to each transaction that
//! writes, and nothing else writes to the cluster while a scenario runs, so
//! the counter's movement over a scenario, less this module's own reads, is
//! what the service committed for it: the commands, the projections' batches
//! and any other background writer. Read-only statements take no id; they
//! cost no WAL flush either, which is what makes a write transaction the
//! unit worth counting.

use std::time::Duration;

use anyhow::Context;
use sqlx::{Connection as _, PgConnection};

/// How long a scenario's projection batches may still be committing after
/// its last answer.
const SETTLE: Duration = Duration::from_millis(500);

pub struct Counter(PgConnection);

impl Counter {
    pub async fn connect(database_url: &str) -> anyhow::Result<Self> {
        let conn = PgConnection::connect(database_url)
            .await
            .context("cannot connect to the service's database")?;
        Ok(Self(conn))
    }

    /// The counter before a scenario, once the previous one's background
    /// writes had time to commit.
    pub async fn start(&mut self) -> anyhow::Result<i64> {
        tokio::time::sleep(SETTLE).await;
        self.read().await
    }

    /// The next transaction id; reading it takes one.
    async fn read(&mut self) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
                .fetch_one(&mut self.0)
                .await?,
        )
    }

    /// Write transactions per request since `before` (a [`Self::read`]),
    /// once the scenario's background writes had time to commit.
    pub async fn per_request(&mut self, before: i64, requests: u64) -> anyhow::Result<f64> {
        tokio::time::sleep(SETTLE).await;
        let after = self.read().await?;
        // Less the read that gave `before`'s successor, i.e. this one.
        let written = (after - before - 1).max(0);
        Ok(written as f64 / requests.max(1) as f64)
    }
}

//! The relay loop: leadership, connection, publish, acknowledge, checkpoint.

use std::time::Duration;

use crate::store::pg_read_after as read_after;
use async_nats::jetstream::{self, message::PublishMessage, stream};
use projections::{Cursor, StoredEvent};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::sync::watch;

use super::envelope::{message_id, subject, Envelope};
use super::{checkpoint, NAME};
use crate::backoff::Backoff;
use crate::telemetry::{propagation, Chain};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Events published per round trip of acknowledgements.
const BATCH: i64 = 256;

/// Pause while committed events wait behind an older open transaction.
const HORIZON_RETRY: Duration = Duration::from_millis(10);

#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub url: String,
    pub stream: String,
    pub subject_prefix: String,
    pub max_age: Duration,
    pub duplicate_window: Duration,
    pub poll: Duration,
    /// Test hook: abort the process after publishing a batch and before
    /// moving the checkpoint (the crash the design must survive).
    pub crash_after_publish: bool,
}

pub struct Relay {
    pool: PgPool,
    config: RelayConfig,
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("NATS error: {0}")]
    Nats(String),
}

fn nats<E: std::fmt::Display>(error: E) -> RelayError {
    RelayError::Nats(error.to_string())
}

impl Relay {
    pub fn new(pool: PgPool, config: RelayConfig) -> Self {
        Self { pool, config }
    }

    /// Runs until `shutdown` changes. Waits to become the active relay,
    /// then publishes; failures are retried with a capped exponential
    /// backoff, and an outage is logged when it starts and when it ends.
    pub async fn run(self, mut wake: watch::Receiver<Cursor>, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        loop {
            let outcome = tokio::select! {
                outcome = self.lead(&mut wake, &mut backoff) => outcome,
                _ = shutdown.changed() => return,
            };
            if let Err(error) = outcome {
                if backoff.failed() {
                    tracing::warn!(error = %Chain(&error), "event relay interrupted; retrying with backoff");
                } else {
                    tracing::debug!(error = %Chain(&error), "event relay still interrupted");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff.pause()) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Becomes the active relay (or waits) and publishes until an error.
    async fn lead(
        &self,
        wake: &mut watch::Receiver<Cursor>,
        backoff: &mut Backoff,
    ) -> Result<(), RelayError> {
        let mut leader = self.pool.acquire().await?;
        loop {
            let locked: bool =
                sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('identity:nats-relay'))")
                    .fetch_one(&mut *leader)
                    .await?;
            if locked {
                break;
            }
            tokio::time::sleep(self.config.poll.max(Duration::from_millis(500))).await;
        }
        tracing::info!("this instance is the active event relay");
        let outcome = self.publish_loop(&mut leader, wake, backoff).await;
        // Release the lock with the connection: close it rather than return
        // it to the pool still holding the lock.
        let _ = leader.close().await;
        outcome
    }

    async fn publish_loop(
        &self,
        leader: &mut PoolConnection<Postgres>,
        wake: &mut watch::Receiver<Cursor>,
        backoff: &mut Backoff,
    ) -> Result<(), RelayError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .connect(&self.config.url)
            .await
            .map_err(nats)?;
        let jetstream = jetstream::new(client);
        jetstream
            .get_or_create_stream(stream::Config {
                name: self.config.stream.clone(),
                subjects: vec![format!("{}.>", self.config.subject_prefix)],
                max_age: self.config.max_age,
                duplicate_window: self.config.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(nats)?;
        sqlx::query("INSERT INTO relay_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(NAME)
            .execute(&mut **leader)
            .await?;
        let mut cursor = checkpoint(&mut **leader).await?;
        if backoff.succeeded() {
            tracing::info!("event relay connected again");
        }
        loop {
            let events = read_after(leader, cursor, BATCH).await?;
            let Some(last) = events.last().map(StoredEvent::cursor) else {
                // Committed events held back only by an older transaction
                // still in flight: look again soon rather than after a poll.
                let pause = if held_back(leader, cursor).await? {
                    HORIZON_RETRY
                } else {
                    self.config.poll
                };
                tokio::select! {
                    _ = wake.changed() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
                continue;
            };
            self.publish(&jetstream, &events).await?;
            if self.config.crash_after_publish {
                tracing::error!("crash_after_publish: aborting before the checkpoint");
                std::process::abort();
            }
            save(leader, last).await?;
            cursor = last;
        }
    }

    /// Publishes a batch in order and waits for every acknowledgement, in
    /// one span that links to the command span of each event.
    async fn publish(
        &self,
        jetstream: &jetstream::Context,
        events: &[StoredEvent],
    ) -> Result<(), RelayError> {
        let started = std::time::Instant::now();
        let span = tracing::info_span!(
            target: crate::telemetry::SPANS,
            "relay.publish",
            otel.kind = "producer",
            messaging.system = "nats",
            messaging.batch.message_count = events.len(),
        );
        self.publish_batch(jetstream, events, &span)
            .instrument(span.clone())
            .await?;
        crate::instruments::published(started.elapsed());
        Ok(())
    }

    async fn publish_batch(
        &self,
        jetstream: &jetstream::Context,
        events: &[StoredEvent],
        span: &tracing::Span,
    ) -> Result<(), RelayError> {
        let mut acks = Vec::with_capacity(events.len());
        for event in events {
            let envelope = Envelope::from_stored(event);
            let body = serde_json::to_vec(&envelope).map_err(nats)?;
            let mut message = PublishMessage::build()
                .payload(body.into())
                .message_id(message_id(event));
            // The consumer continues the command's trace from the header.
            if let Some(traceparent) = &envelope.metadata.traceparent {
                if let Some(command) = propagation::span_context(traceparent) {
                    span.add_link(command);
                }
                message = message.header(propagation::TRACEPARENT, traceparent.as_str());
            }
            let ack = jetstream
                .send_publish(subject(&self.config.subject_prefix, event), message)
                .await
                .map_err(nats)?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(nats)?;
        }
        Ok(())
    }
}

async fn save(leader: &mut PoolConnection<Postgres>, cursor: Cursor) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE relay_checkpoints SET tx_id = $2::text::xid8, position = $3, updated_at = now() WHERE name = $1")
        .bind(NAME)
        .bind(cursor.tx_id.to_string())
        .bind(cursor.position)
        .execute(&mut **leader)
        .await?;
    Ok(())
}

/// Whether events exist past `cursor` that the horizon does not let us read
/// yet (an older transaction, possibly in another database, is still open).
async fn held_back(
    leader: &mut PoolConnection<Postgres>,
    cursor: Cursor,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM events WHERE (tx_id, position) > ($1::text::xid8, $2))",
    )
    .bind(cursor.tx_id.to_string())
    .bind(cursor.position)
    .fetch_one(&mut **leader)
    .await
}

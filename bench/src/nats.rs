//! The bench's side of NATS: a JetStream stream and subject prefix of its
//! own per run (so runs never mix and the default `IDENTITY_EVENTS` stream
//! is never touched), deleted at the end, and a core-NATS subscriber that
//! timestamps every event the relay publishes.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use serde::Deserialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::service::RelayTarget;

/// Messages a subscriber may hold before NATS calls it a slow consumer and
/// drops some; far more than a bench run publishes.
const SUBSCRIPTION_CAPACITY: usize = 1 << 20;

/// This run's stream and subject prefix, and a client to watch them with.
pub struct Target {
    client: async_nats::Client,
    url: String,
    stream: String,
    prefix: String,
}

impl Target {
    /// Connects and picks fresh names: `BENCH_<hex>` and `b<hex>`.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .subscription_capacity(SUBSCRIPTION_CAPACITY)
            .connect(url)
            .await
            .with_context(|| {
                format!(
                    "cannot connect to NATS at {url}; start `nats-server -js` or pass --skip-relay"
                )
            })?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        Ok(Self {
            client,
            url: url.to_owned(),
            stream: format!("BENCH_{id}"),
            prefix: format!("b{id}"),
        })
    }

    /// What the service is told to publish to.
    pub fn service_target(&self) -> RelayTarget {
        RelayTarget {
            url: self.url.clone(),
            stream: self.stream.clone(),
            subject_prefix: self.prefix.clone(),
        }
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Starts recording every message on `<prefix>.>`. The subscription is
    /// registered with the server when this returns.
    pub async fn collect(&self) -> anyhow::Result<Collector> {
        let subscriber = self.client.subscribe(format!("{}.>", self.prefix)).await?;
        self.client.flush().await?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(record(subscriber, stopped));
        Ok(Collector {
            client: self.client.clone(),
            stop,
            task,
        })
    }

    /// Deletes the run's stream (the relay created it on its first connect);
    /// a stream that was never created is not an error.
    pub async fn delete_stream(&self) -> anyhow::Result<()> {
        let jetstream = async_nats::jetstream::new(self.client.clone());
        match jetstream.get_stream(&self.stream).await {
            Ok(_) => {
                jetstream.delete_stream(&self.stream).await?;
                Ok(())
            }
            Err(_) => Ok(()),
        }
    }
}

/// A running subscriber; `finish` stops it and hands over what it saw.
pub struct Collector {
    client: async_nats::Client,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Deliveries>,
}

impl Collector {
    /// Stops after everything the server has already routed to us arrived:
    /// a flush round trip comes back after every message sent before it.
    pub async fn finish(self) -> anyhow::Result<Deliveries> {
        self.client.flush().await?;
        let _ = self.stop.send(());
        Ok(self.task.await?)
    }
}

/// What a subscriber received.
#[derive(Debug, Default)]
pub struct Deliveries {
    /// When each message arrived, on the bench's monotonic clock.
    pub arrivals: Vec<Instant>,
    /// Per decodable message, `received_at - occurred_at` in microseconds
    /// (wall clock; 0 if the difference was negative).
    pub lags_us: Vec<u64>,
    /// Messages whose body was not an envelope with `occurred_at`.
    pub undecodable: u64,
}

impl Deliveries {
    pub fn received(&self) -> u64 {
        self.arrivals.len() as u64
    }

    /// Seconds from the first to the last arrival.
    pub fn window_s(&self) -> f64 {
        match (self.arrivals.first(), self.arrivals.last()) {
            (Some(first), Some(last)) => last.duration_since(*first).as_secs_f64(),
            _ => 0.0,
        }
    }
}

/// The one envelope field the bench reads.
#[derive(Deserialize)]
struct Envelope {
    occurred_at: DateTime<Utc>,
}

async fn record(
    mut subscriber: async_nats::Subscriber,
    mut stop: oneshot::Receiver<()>,
) -> Deliveries {
    let mut seen = Deliveries::default();
    loop {
        // Biased: messages already queued are taken before the stop signal,
        // so nothing that arrived before `finish`'s flush is lost.
        let message = tokio::select! {
            biased;
            message = subscriber.next() => message,
            _ = &mut stop => None,
        };
        let Some(message) = message else {
            return seen;
        };
        // Both clocks are read first, before any parsing.
        let arrived = Instant::now();
        let received_at = Utc::now();
        seen.arrivals.push(arrived);
        match serde_json::from_slice::<Envelope>(&message.payload) {
            Ok(envelope) => {
                let lag = (received_at - envelope.occurred_at)
                    .num_microseconds()
                    .unwrap_or(i64::MAX);
                seen.lags_us.push(u64::try_from(lag).unwrap_or(0));
            }
            Err(_) => seen.undecodable += 1,
        }
    }
}

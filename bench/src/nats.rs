//! The bench's side of NATS: a JetStream stream and subject prefix of its
//! own per run (so runs never mix and the default `IDENTITY_EVENTS` stream
//! is never touched), deleted at the end, and collectors that timestamp
//! every event the relay publishes: a core-NATS subscriber (sees a message
//! as the server routes it) or a JetStream consumer (sees it once stored,
//! with the time the stream stored it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::consumer::{push, DeliverPolicy};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt as _};
use serde::Deserialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::service::RelayTarget;

/// Messages a subscriber may hold before NATS calls it a slow consumer and
/// drops some; far more than a bench run publishes.
const SUBSCRIPTION_CAPACITY: usize = 1 << 20;
/// How long a JetStream consumer may take to deliver what is stored.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(10);

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

    /// Starts recording every message on `<prefix>.>` as the server
    /// routes it (no stream needed). The subscription is registered with
    /// the server when this returns.
    pub async fn subscribe(&self) -> anyhow::Result<Collector> {
        let subscriber = self.client.subscribe(format!("{}.>", self.prefix)).await?;
        self.client.flush().await?;
        Ok(self.spawn(subscriber.map(|message| {
            Some(Delivery {
                message,
                stored_ns: None,
                stream_sequence: None,
            })
        })))
    }

    /// Starts recording every message stored in the run's stream from now
    /// on, through an ordered push consumer: each arrives after JetStream
    /// stored (and acknowledged) it, with the time it was stored.
    pub async fn consume_new(&self) -> anyhow::Result<Collector> {
        let jetstream = async_nats::jetstream::new(self.client.clone());
        let stream = jetstream.get_stream(&self.stream).await?;
        let consumer = stream
            .create_consumer(push::OrderedConfig {
                deliver_subject: self.client.new_inbox(),
                deliver_policy: DeliverPolicy::New,
                ..Default::default()
            })
            .await?;
        let messages = consumer.messages().await?;
        self.client.flush().await?;
        Ok(self.spawn(messages.map(|delivery| {
            let message = delivery.ok()?;
            // Store time and sequence travel in the reply (ack) subject.
            let info = message.info().ok();
            Some(Delivery {
                stored_ns: info.as_ref().map(|i| i.published.unix_timestamp_nanos()),
                stream_sequence: info.as_ref().map(|i| i.stream_sequence),
                message: message.message,
            })
        })))
    }

    /// The sequence of the newest message in the run's stream.
    pub async fn last_sequence(&self) -> anyhow::Result<u64> {
        let jetstream = async_nats::jetstream::new(self.client.clone());
        let stream = jetstream.get_stream(&self.stream).await?;
        Ok(stream.get_info().await?.state.last_sequence)
    }

    fn spawn<S>(&self, deliveries: S) -> Collector
    where
        S: Stream<Item = Option<Delivery>> + Send + Unpin + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        let newest = Arc::new(AtomicU64::new(0));
        Collector {
            client: self.client.clone(),
            stop,
            newest: newest.clone(),
            task: tokio::spawn(record(deliveries, stopped, newest)),
        }
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

/// One message and, from a JetStream consumer, when the stream stored it
/// (Unix nanoseconds) and its stream sequence. Collectors receive
/// `Option<Delivery>`, `None` for an error the consumer reported.
struct Delivery {
    message: async_nats::Message,
    stored_ns: Option<i128>,
    stream_sequence: Option<u64>,
}

/// A running collector; `finish` stops it and hands over what it saw.
pub struct Collector {
    client: async_nats::Client,
    stop: oneshot::Sender<()>,
    /// The highest stream sequence delivered so far (JetStream only).
    newest: Arc<AtomicU64>,
    task: JoinHandle<Deliveries>,
}

impl Collector {
    /// Stops after everything the server has already routed to us arrived:
    /// a flush round trip comes back after every message sent before it.
    pub async fn finish(self) -> anyhow::Result<Deliveries> {
        self.client.flush().await?;
        self.stop().await
    }

    /// For a JetStream consumer: stops once the message with stream
    /// sequence `last` has been delivered (the consumer sends stored
    /// messages on its own schedule, so a flush alone is not enough).
    pub async fn finish_at(self, last: u64) -> anyhow::Result<Deliveries> {
        let deadline = Instant::now() + CATCH_UP_TIMEOUT;
        while self.newest.load(Ordering::Relaxed) < last {
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "the consumer delivered up to stream sequence {} of {last} within {CATCH_UP_TIMEOUT:?}",
                    self.newest.load(Ordering::Relaxed)
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.stop().await
    }

    async fn stop(self) -> anyhow::Result<Deliveries> {
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
    /// Per decodable message with a store time, `stored_at - occurred_at`
    /// in microseconds.
    pub stored_lags_us: Vec<u64>,
    /// Messages whose body was not an envelope with `occurred_at`.
    pub undecodable: u64,
    /// Errors the JetStream consumer reported instead of a message.
    pub errors: u64,
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

async fn record<S>(
    mut deliveries: S,
    mut stop: oneshot::Receiver<()>,
    newest: Arc<AtomicU64>,
) -> Deliveries
where
    S: Stream<Item = Option<Delivery>> + Unpin,
{
    let mut seen = Deliveries::default();
    loop {
        // Biased: messages already queued are taken before the stop signal,
        // so nothing that arrived before `finish`'s flush is lost.
        let delivery = tokio::select! {
            biased;
            delivery = deliveries.next() => delivery,
            _ = &mut stop => None,
        };
        let Some(delivery) = delivery else {
            return seen;
        };
        // Both clocks are read first, before any parsing.
        let arrived = Instant::now();
        let received_at = Utc::now();
        let Some(delivery) = delivery else {
            seen.errors += 1;
            continue;
        };
        seen.arrivals.push(arrived);
        if let Some(sequence) = delivery.stream_sequence {
            newest.fetch_max(sequence, Ordering::Relaxed);
        }
        let Ok(envelope) = serde_json::from_slice::<Envelope>(&delivery.message.payload) else {
            seen.undecodable += 1;
            continue;
        };
        let occurred_ns = envelope.occurred_at.timestamp_nanos_opt().map(i128::from);
        let received_ns = received_at.timestamp_nanos_opt().map(i128::from);
        if let Some(lag) = micros_between(occurred_ns, received_ns) {
            seen.lags_us.push(lag);
        }
        if let Some(lag) = micros_between(occurred_ns, delivery.stored_ns) {
            seen.stored_lags_us.push(lag);
        }
    }
}

/// `to - from` in whole microseconds, 0 if negative.
fn micros_between(from_ns: Option<i128>, to_ns: Option<i128>) -> Option<u64> {
    let nanos = to_ns? - from_ns?;
    Some(u64::try_from(nanos / 1000).unwrap_or(0))
}

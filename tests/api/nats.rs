//! NATS helpers: a private `nats-server` a test can stop and restart, and a
//! durable consumer that reads a stream to the end.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy};
use futures_util::StreamExt;
use serde_json::Value;

use crate::helpers::eventually;

/// A JetStream server of the test's own, on a random port, keeping its
/// store in a temporary directory across restarts.
pub struct PrivateNats {
    pub port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateNats {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            port,
            store: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub async fn restart(&mut self) {
        // Debian installs it in /usr/sbin, which not every PATH holds.
        let binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nats-server");
        let child = Command::new(binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server must be installed (see README)");
        self.child = Some(child);
        let url = self.url();
        eventually(Duration::from_secs(10), || async {
            async_nats::connect(&url).await.ok().map(|_| ())
        })
        .await;
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message as a consumer sees it.
#[derive(Debug, Clone)]
pub struct Received {
    pub subject: String,
    pub msg_id: String,
    /// The `traceparent` header, if the message has one.
    pub traceparent: Option<String>,
    pub envelope: Value,
}

/// Reads `stream` through the durable pull consumer `durable` (explicit
/// acks) until `expected` messages arrived or 20 s passed.
pub async fn consume(url: &str, stream: &str, durable: &str, expected: usize) -> Vec<Received> {
    let js = jetstream::new(async_nats::connect(url).await.unwrap());
    let stream = js.get_stream(stream).await.unwrap();
    let consumer: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(
            durable,
            pull::Config {
                durable_name: Some(durable.to_owned()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while received.len() < expected && tokio::time::Instant::now() < deadline {
        let mut batch = consumer
            .fetch()
            .max_messages(200)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .unwrap();
        while let Some(message) = batch.next().await {
            let message = message.unwrap();
            let header = |name: &str| {
                message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .map(|v| v.to_string())
            };
            let msg_id = header("Nats-Msg-Id").unwrap_or_default();
            let traceparent = header("traceparent");
            received.push(Received {
                subject: message.subject.to_string(),
                msg_id,
                traceparent,
                envelope: serde_json::from_slice(&message.payload).unwrap(),
            });
            message.ack().await.unwrap();
        }
    }
    received
}

/// At most this many stale streams are deleted per test process, so the
/// first run after a long time does not stall every test behind it; later
/// runs delete the rest.
const STALE_STREAMS_PER_RUN: usize = 300;

/// Deletes, once per test process, streams that earlier test runs left on
/// the shared server: each test's app creates a stream `TEST_<uuid>` and
/// no test can run async code when it ends to delete it. A stream created
/// more than an hour ago belongs to a run that is over. Best effort: a
/// server that does not answer is the relay tests' business, not this.
pub async fn delete_stale_test_streams() {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let Ok(client) = async_nats::connect(crate::helpers::nats_url()).await else {
            return;
        };
        let context = jetstream::new(client);
        let cutoff = chrono::Utc::now().timestamp() - 3600;
        let mut stale = Vec::new();
        let mut streams = context.streams();
        while let Some(Ok(info)) = streams.next().await {
            if info.config.name.starts_with("TEST_") && info.created.unix_timestamp() < cutoff {
                stale.push(info.config.name.clone());
            }
        }
        for name in stale.into_iter().take(STALE_STREAMS_PER_RUN) {
            // Another process may have deleted it first: fine.
            let _ = context.delete_stream(&name).await;
        }
    })
    .await;
}

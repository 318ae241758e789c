//! Structured JSON logs. Each request runs in a span that carries its
//! request id, so every line logged while serving it names the request.
//! Secrets never reach a log: requests are logged by method and path only,
//! and every secret-bearing type has a redacted `Debug`.

pub use projections::error_chain::Chain;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::EnvFilter;

/// A subscriber writing JSON lines to `sink`, filtered by `filter`
/// (`RUST_LOG` syntax).
pub fn subscriber<W>(filter: &str, sink: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry().with(filter).with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(sink),
    )
}

/// Installs `subscriber` as the global default. Call once, at start-up.
pub fn init(subscriber: impl Subscriber + Send + Sync) {
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        tracing::warn!("a global tracing subscriber was already installed");
    }
}

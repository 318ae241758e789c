//! Structured JSON logs and, when a collector is configured, traces. Each
//! request runs in a span that carries its request id, so every line
//! logged while serving it names the request; the same spans are what
//! OpenTelemetry exports ([`traces`]), linked to the caller's trace
//! ([`propagation`]). Secrets never reach a log or a span: requests are
//! recorded by method and path only, and every secret-bearing type has a
//! redacted `Debug`.

pub mod propagation;
pub mod traces;

pub use projections::error_chain::Chain;
use tracing::{Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The target of the spans that exist for traces only (commands, commits,
/// projection batches, relay publishes, outbound calls): the log leaves
/// them out, so a line logged inside one still names its request (the
/// log shows the innermost span it sees).
pub const SPANS: &str = projections::SPANS;

/// A subscriber writing JSON lines to `sink`, filtered by `filter`
/// (`RUST_LOG` syntax), and exporting the service's own spans to `tracer`
/// if one is given. The two are filtered apart: a quiet log
/// (`IDENTITY_LOG=error`) still exports every span.
pub fn subscriber<W>(
    filter: &str,
    sink: W,
    tracer: Option<opentelemetry_sdk::trace::Tracer>,
) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = match format!("{SPANS}=off").parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(sink)
        .with_filter(filter);
    // The service's spans only: a library's are its own business.
    let own = Targets::new()
        .with_target("identity", Level::INFO)
        .with_target("projections", Level::INFO);
    let traces = tracer.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(own)
    });
    tracing_subscriber::registry().with(logs).with(traces)
}

/// Installs `subscriber` as the global default. Call once, at start-up.
pub fn init(subscriber: impl Subscriber + Send + Sync) {
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        tracing::warn!("a global tracing subscriber was already installed");
    }
}

//! Traces by OpenTelemetry: every span the service opens (requests,
//! commands, store commits, projection batches, relay publishes, outbound
//! calls) exported over OTLP/HTTP (protobuf) to the collector the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` names, as `OTEL_SERVICE_NAME`. Off when no
//! endpoint is set: then no exporter runs and spans cost what a log span
//! costs.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{SdkTracerProvider, Tracer};
use opentelemetry_sdk::{runtime, Resource};

/// How long one export may take before it is dropped (the collector being
/// slow must never hold the service up: spans are sent in the background).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where spans go and under which service name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceExport {
    /// The full OTLP/HTTP traces URL (`.../v1/traces`).
    pub endpoint: String,
    pub service_name: String,
}

/// The running exporter; [`Traces::shutdown`] sends what is still queued.
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Starts the exporter (in the background, on the tokio runtime: the
    /// HTTP client needs its reactor) and returns the tracer for the
    /// subscriber's OpenTelemetry layer.
    pub fn start(export: &TraceExport) -> Result<(Self, Tracer), String> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(&export.endpoint)
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|error| format!("OTEL_EXPORTER_OTLP_ENDPOINT: {error}"))?;
        let processor = BatchSpanProcessor::builder(exporter, runtime::Tokio).build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(
                Resource::builder_empty()
                    .with_service_name(export.service_name.clone())
                    .build(),
            )
            .build();
        let tracer = provider.tracer("identity");
        Ok((Self { provider }, tracer))
    }

    /// Exports the spans still queued, then stops.
    pub async fn shutdown(self) {
        // `shutdown` blocks until the batch processor's task has flushed;
        // that task runs on this runtime, so wait off its worker threads.
        let provider = self.provider;
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(error)) = flushed {
            tracing::warn!(%error, "traces: the last spans could not be exported");
        }
    }
}

//! W3C Trace Context across the service's edges. A request's `traceparent`
//! becomes the parent of its span; each event records the `traceparent` of
//! the command that produced it (in its metadata), and the relay and the
//! HTTP feed hand that on, so a downstream consumer continues the trace.
//!
//! With traces off the service opens no trace of its own, but a caller's
//! `traceparent` still travels through to the events unchanged: a consumer
//! then continues the caller's trace.

use std::collections::HashMap;
use std::future::Future;

use axum::http::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub const TRACEPARENT: &str = "traceparent";

tokio::task_local! {
    /// The caller's span, for requests that named one.
    static REMOTE: SpanContext;
}

/// The caller's span named by `headers` (`traceparent`, `tracestate`), if
/// valid.
pub fn remote(headers: &HeaderMap) -> Option<SpanContext> {
    let cx = TraceContextPropagator::new().extract(&Headers(headers));
    let span = cx.span().span_context().clone();
    span.is_valid().then_some(span)
}

/// Makes `span` a child of the caller's, and `remote` what
/// [`current_traceparent`] falls back on while `future` runs. Call before
/// `span` is first entered: a started span keeps its parent.
pub fn within<F: Future>(
    remote: Option<SpanContext>,
    span: &tracing::Span,
    future: F,
) -> impl Future<Output = F::Output> {
    if let Some(remote) = &remote {
        // Fails only when no OpenTelemetry layer is installed (traces
        // off): the task-local below then carries the caller's span.
        let _ = span.set_parent(Context::new().with_remote_span_context(remote.clone()));
    }
    async move {
        match remote {
            Some(remote) => REMOTE.scope(remote, future).await,
            None => future.await,
        }
    }
}

/// Renames the current span (OpenTelemetry's name; the log's is fixed).
/// The name is only built when a trace records it (traces on).
pub fn rename_current(name: impl FnOnce() -> String) {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    if span.span_context().is_valid() {
        span.update_name(name());
    }
}

/// The `traceparent` naming the current span (traces on), else the
/// caller's (traces off, the request named one), else none.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    if cx.span().span_context().is_valid() {
        return traceparent_of(&cx);
    }
    REMOTE
        .try_with(|remote| traceparent_of(&Context::new().with_remote_span_context(remote.clone())))
        .ok()
        .flatten()
}

/// The span a stored `traceparent` names, to link a span to.
pub fn span_context(traceparent: &str) -> Option<SpanContext> {
    let mut fields = HashMap::with_capacity(1);
    fields.insert(TRACEPARENT.to_owned(), traceparent.to_owned());
    let cx = TraceContextPropagator::new().extract(&fields);
    let span = cx.span().span_context().clone();
    span.is_valid().then_some(span)
}

fn traceparent_of(cx: &Context) -> Option<String> {
    let mut fields = HashMap::with_capacity(2);
    TraceContextPropagator::new().inject_context(cx, &mut fields);
    fields.remove(TRACEPARENT)
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIVEN: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn a_valid_traceparent_is_taken_and_handed_on_unchanged_when_traces_are_off() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, GIVEN.parse().unwrap());
        let remote = remote(&headers).unwrap();
        let handed_on = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(within(Some(remote), &tracing::Span::none(), async {
                current_traceparent()
            }));
        assert_eq!(handed_on.as_deref(), Some(GIVEN));
    }

    #[test]
    fn a_malformed_traceparent_is_ignored() {
        for bad in [
            "",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "zz-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "not a traceparent",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(TRACEPARENT, bad.parse().unwrap());
            assert!(remote(&headers).is_none(), "{bad:?}");
            assert!(span_context(bad).is_none(), "{bad:?}");
        }
        assert!(current_traceparent().is_none());
    }
}

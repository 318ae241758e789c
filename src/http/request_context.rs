//! Per-request context: the request id (the caller's `X-Request-Id` if it is
//! sane, else a new UUID), a tracing span carrying it (a child of the
//! caller's `traceparent`, with OpenTelemetry's HTTP server attributes), one
//! access-log line, and the id echoed on the response.
//!
//! The id is also kept in a task-local so error responses built anywhere
//! below can quote it.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::telemetry::propagation;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, if called while serving one.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

fn sane(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

pub async fn request_context(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| sane(id))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    // Path only: query strings may carry things that must not be logged.
    // The route template and the status are recorded once known; the
    // `otel.*` fields name the span as OpenTelemetry's conventions ask.
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
        otel.name = %request.method(),
        otel.kind = "server",
        http.request.method = %request.method(),
        url.path = %request.uri().path(),
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    let remote = propagation::remote(request.headers());
    let started = Instant::now();
    let served = REQUEST_ID.scope(request_id.clone(), next.run(request));
    let mut response = propagation::within(remote, &span, served)
        .instrument(span.clone())
        .await;
    span.record("http.response.status_code", response.status().as_u16());
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "request finished"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Names the request's span after its route template (`POST /api/v1/...`),
/// as OpenTelemetry's HTTP conventions ask; called once routing matched.
pub fn record_route(method: &str, route: &str) {
    tracing::Span::current().record("http.route", route);
    crate::telemetry::propagation::rename_current(|| format!("{method} {route}"));
}

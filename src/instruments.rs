//! Prometheus metrics: the recorder, the names, and the listener that
//! serves `GET /metrics` on its own address (`IDENTITY_METRICS_ADDR`,
//! default `127.0.0.1:9464`), so they are never public by accident.
//!
//! Names follow the Prometheus conventions (`identity_` prefix, `_total`
//! for counters, `_seconds` in base units) and no label ever holds user
//! data: routes are templates (`/api/v1/admin/users/{id}`), never paths.
//! Counters are recorded where things happen; the gauges that mirror
//! state kept elsewhere (projection and relay lag, pool use) are set when
//! a scrape asks, so they cost nothing between scrapes. The list, with
//! what each means, is in `docs/operations.md`.
//!
//! The recorder is process-wide (the `metrics` facade has one): instances
//! in one process (the tests) share it.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

use crate::state::AppState;

/// Latency buckets in seconds: from a cached read to an argon2 queue.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder, installed on first use.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                // The buckets are constants known to be valid and non-empty.
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (never by this service):
                // serve an empty, unattached one rather than fail.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// Serves `GET /metrics` on `addr` until `shutdown` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stopping| *stopping).await;
        })
        .await
}

/// Binds the metrics listener (a bad address stops start-up).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

async fn scrape(State(state): State<AppState>) -> Response {
    mirror_state(&state);
    let body = handle().render();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Sets the gauges that mirror state kept elsewhere.
fn mirror_state(state: &AppState) {
    for projection in state.lag.projections() {
        gauge!("identity_projection_lag_events", "projection" => projection.name)
            .set(projection.lag_events as f64);
        gauge!("identity_projection_lag_seconds", "projection" => projection.name)
            .set(projection.lag_seconds);
    }
    if let Some(age) = state.lag.age() {
        gauge!("identity_lag_sample_age_seconds").set(age.as_secs_f64());
    }
    if let Some(relay) = state.lag.relay() {
        gauge!("identity_relay_backlog_events").set(relay.events as f64);
        gauge!("identity_relay_lag_seconds").set(relay.seconds);
    }
    let (size, idle) = state.db.pool_use();
    let in_use = f64::from(size) - idle as f64;
    gauge!("identity_db_pool_connections", "state" => "idle").set(idle as f64);
    gauge!("identity_db_pool_connections", "state" => "in_use").set(in_use.max(0.0));
}

/// Middleware (a route layer, so the route template is known): counts
/// each request by route, method and status, and times it.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    crate::http::record_route(&method, &route);
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed().as_secs_f64();
    counter!("identity_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    histogram!("identity_http_request_duration_seconds", "route" => route, "method" => method)
        .record(elapsed);
    response
}

/// A sign-in attempt's end: `method` (`password`, `email_code`,
/// `sms_code`, `oidc`, `second_factor`) and `outcome` (`success`,
/// `mfa_required`, or the refusal's stable code).
pub fn login(method: &'static str, outcome: &str) {
    counter!("identity_logins_total", "method" => method, "outcome" => outcome.to_owned())
        .increment(1);
}

/// What a sign-in step answers when it succeeds.
pub trait SignInAnswer {
    /// `success`, or `mfa_required` when a second factor is due.
    fn outcome(&self) -> &'static str;
}

impl SignInAnswer for crate::accounts::SignedIn {
    fn outcome(&self) -> &'static str {
        match self {
            Self::Tokens(_) => "success",
            Self::SecondFactor(_) => "mfa_required",
        }
    }
}

impl SignInAnswer for crate::accounts::TokenPair {
    fn outcome(&self) -> &'static str {
        "success"
    }
}

/// Counts how a sign-in step by `method` ended (a refusal by its stable
/// code), and passes its result on.
pub fn sign_in<T: SignInAnswer>(
    method: &'static str,
    result: Result<T, crate::error::AppError>,
) -> Result<T, crate::error::AppError> {
    let outcome = match &result {
        Ok(answer) => answer.outcome(),
        Err(error) => error.status_and_code().1,
    };
    login(method, outcome);
    result
}

/// The failure limit locked an account.
pub fn lockout() {
    counter!("identity_lockouts_total").increment(1);
}

/// A request refused by the rate limit `limit` (a policy name).
pub fn rate_limited(limit: &'static str) {
    counter!("identity_rate_limited_total", "limit" => limit).increment(1);
}

/// A one-time code sent by `channel` (`email`, `sms`).
pub fn code_sent(channel: &'static str) {
    counter!("identity_codes_sent_total", "channel" => channel).increment(1);
}

/// An outbound call through the breaker of `target` and how it ended
/// (`ok`, `error`, `timeout`, `rejected` while open); and whether the
/// breaker is open now.
pub fn outbound(target: &'static str, outcome: &'static str, open: bool) {
    counter!("identity_outbound_calls_total", "target" => target, "outcome" => outcome)
        .increment(1);
    gauge!("identity_circuit_breaker_open", "target" => target).set(if open { 1.0 } else { 0.0 });
}

/// An argon2 operation (`hash` or `verify`) and how long it waited for a
/// permit.
pub fn argon2(operation: &'static str, waited: std::time::Duration) {
    counter!("identity_argon2_operations_total", "operation" => operation).increment(1);
    histogram!("identity_argon2_queue_wait_seconds").record(waited.as_secs_f64());
}

/// Events committed for an aggregate type.
pub fn committed(aggregate: &'static str, events: usize) {
    counter!("identity_events_committed_total", "aggregate" => aggregate).increment(events as u64);
}

/// A relay publish and how long it took.
pub fn published(elapsed: std::time::Duration) {
    counter!("identity_relay_published_total").increment(1);
    histogram!("identity_relay_publish_duration_seconds").record(elapsed.as_secs_f64());
}

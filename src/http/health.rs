//! Liveness, readiness and the JWKS document (outside `/api/v1`).

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;

use crate::error::AppError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![live, ready, jwks]
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, body = Object, description = "alive")))]
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready to serve: the database answers. Also reports how far the NATS
/// relay lags behind the log (`relay: "off"` without NATS, which the
/// service does not need), each projection's distance from the head, and
/// names every stalled projection (one that cannot apply an event) with the
/// event and its error. Neither makes the service unready: commands keep
/// succeeding meanwhile, and taking every instance out of rotation for one
/// read model would turn a partial outage into a full one. A stalled
/// projection sets `status` to `degraded` instead.
///
/// Its cost does not grow with the log: the lags come from memory
/// (`monitor`), and the one database read, of the stalled projections (a
/// table of at most one row per projection), is the reachability check.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200, body = Object, description = "ready"), (status = 503, body = super::problem::Problem)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    if *state.shutdown.borrow() {
        return Err(AppError::DependencyUnavailable {
            code: "shutting_down",
            detail: "this instance is stopping".to_owned(),
        });
    }
    let stalled = match tokio::time::timeout(Duration::from_secs(2), state.db.stalled()).await {
        Ok(Ok(stalled)) => stalled,
        _ => return Err(AppError::Unavailable),
    };
    let status = if stalled.is_empty() {
        "ready"
    } else {
        "degraded"
    };
    let relay = state.lag.relay();
    Ok(Json(json!({
        "status": status,
        "database": "ok",
        "backend": state.db.backend(),
        "relay": if state.config.relay_enabled { "on" } else { "off" },
        "relay_lag": relay,
        "lag_age_seconds": state.lag.age().map(|age| age.as_secs_f64()),
        "projections": {"stalled": stalled, "lag": state.lag.projections()},
    })))
}

/// The public keys that verify access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "health", responses((status = 200, body = Object, description = "JWK set")))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(state.tokens.jwks()).into_response();
    let max_age = format!(
        "public, max-age={}",
        crate::auth::keys::JWKS_MAX_AGE.as_secs()
    );
    if let Ok(value) = HeaderValue::from_str(&max_age) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

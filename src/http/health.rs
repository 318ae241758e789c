//! Liveness, readiness and the JWKS document (outside `/api/v1`).

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::AppError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/.well-known/jwks.json", get(jwks))
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, description = "alive")))]
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready to serve: Postgres answers. Also reports how far the NATS relay
/// lags behind the log (`relay: "off"` without NATS, which the service does
/// not need), and names every stalled projection (one that cannot
/// apply an event) with the event and its error. Neither makes the service
/// unready: commands keep succeeding meanwhile, and taking every instance
/// out of rotation for one read model would turn a partial outage into a
/// full one. A stalled projection sets `status` to `degraded` instead.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200, description = "ready"), (status = 503, body = super::problem::Problem)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let checks = async {
        let lag = match state.config.relay_enabled {
            true => match state.db.postgres() {
                Some(pool) => Some(crate::relay::lag(pool).await?),
                None => None,
            },
            false => None,
        };
        let stalled = state.db.stalled().await?;
        Ok::<_, crate::store::StoreError>((lag, stalled))
    };
    match tokio::time::timeout(Duration::from_secs(2), checks).await {
        Ok(Ok((lag, stalled))) => {
            let status = if stalled.is_empty() {
                "ready"
            } else {
                "degraded"
            };
            Ok(Json(json!({
                "status": status,
                "database": "ok",
                "backend": state.db.backend(),
                "relay": if lag.is_some() { "on" } else { "off" },
                "relay_lag": lag,
                "projections": {"stalled": stalled},
            })))
        }
        _ => Err(AppError::Unavailable),
    }
}

/// The public keys that verify access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "health", responses((status = 200, description = "JWK set")))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(state.tokens.jwks().clone()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

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
/// lags behind the log; a lagging relay (NATS down) does not make the
/// service unready, since commands keep succeeding meanwhile.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200, description = "ready"), (status = 503, body = super::problem::Problem)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let lag = crate::relay::lag(&state.pool);
    match tokio::time::timeout(Duration::from_secs(2), lag).await {
        Ok(Ok(lag)) => Ok(Json(
            json!({"status": "ready", "postgres": "ok", "relay_lag": lag}),
        )),
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

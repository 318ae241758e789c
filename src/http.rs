//! The HTTP interface: one module per resource, each with its own
//! `router()`, assembled here with the cross-cutting layers.

mod accounts;
mod admin;
mod docs;
mod events;
mod extract;
mod header_limit;
mod health;
mod history;
mod influencer;
mod influencer_admin;
mod me;
pub mod problem;
mod rate_limit;
mod referrals;
mod request_context;
mod security_headers;
mod text;
mod validate;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::AppError;
use crate::state::AppState;

/// Largest request body accepted (64 KiB); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(accounts::router())
        .merge(admin::router())
        .merge(history::router())
        .merge(influencer::router())
        .merge(influencer_admin::router())
        .merge(referrals::router())
        .merge(me::router())
        .merge(events::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::per_ip,
        ));
    Router::new()
        .nest("/api/v1", api)
        .merge(health::router())
        .merge(docs::router())
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(problem::panic_response))
        .layer(axum::middleware::from_fn(header_limit::header_limit))
        .layer(axum::middleware::from_fn(request_context::request_context))
        // Outermost, so panics, fallbacks and rejections get the headers too.
        .layer(axum::middleware::from_fn_with_state(
            state.config.hsts,
            security_headers::security_headers,
        ))
        .with_state(state)
}

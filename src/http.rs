//! The HTTP interface: one module per resource, each with its own
//! `router()`, assembled here with the cross-cutting layers.

/// An `OpenApiRouter` of these handlers, each served at and documented
/// with its `#[utoipa::path]`: the one place a route is declared.
macro_rules! documented_routes {
    ($($handler:ident),+ $(,)?) => {
        utoipa_axum::router::OpenApiRouter::new()
            $(.routes(utoipa_axum::routes!($handler)))+
    };
}

mod accounts;
mod admin;
mod authorize;
mod docs;
mod events;
mod extract;
mod header_limit;
mod health;
mod history;
mod identifiers;
mod influencer;
mod influencer_admin;
mod me;
mod mfa;
mod oauth;
mod oidc;
mod passwordless;
mod passwords;
mod phone;
pub mod problem;
mod rate_limit;
mod referrals;
mod request_context;
pub use me::Me;
pub use request_context::record_route;
mod security_headers;
mod text;
mod userinfo;
mod validate;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use utoipa::openapi::OpenApi;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::error::AppError;
use crate::state::AppState;

/// Largest request body accepted (64 KiB); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The service's routes, and the OpenAPI document describing exactly
/// them: every route is declared once, by its `#[utoipa::path]` through
/// `OpenApiRouter`, so the document can neither miss a served route nor
/// list one that is not served. The first router holds `/api/v1` and the
/// OAuth endpoints (rate-limited per IP), the second the health and key
/// endpoints.
pub fn routes() -> (Router<AppState>, Router<AppState>, OpenApi) {
    let api = OpenApiRouter::new()
        .merge(accounts::router())
        .merge(passwords::router())
        .merge(passwordless::router())
        .merge(admin::router())
        .merge(history::router())
        .merge(influencer::router())
        .merge(influencer_admin::router())
        .merge(referrals::router())
        .merge(me::router())
        .merge(phone::router())
        .merge(identifiers::router())
        .merge(mfa::router())
        .merge(oidc::router())
        .merge(events::router());
    let (api, mut openapi) = OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .nest("/api/v1", api)
        // Outside `/api/v1` by the RFCs' convention, behind its rate limit.
        .merge(oauth::router())
        .merge(authorize::router())
        .merge(userinfo::router())
        .split_for_parts();
    let (outside, outside_doc) = health::router().split_for_parts();
    openapi.merge(outside_doc);
    (api, outside, openapi)
}

/// The service: its routes (the API behind the per-IP rate limit), the
/// documentation, and the cross-cutting layers.
pub fn router(state: AppState) -> Router {
    let (api, outside, openapi) = routes();
    let limited = axum::middleware::from_fn_with_state(state.clone(), rate_limit::per_ip);
    Router::new()
        .merge(api.layer(limited))
        .merge(outside)
        .merge(docs::router(openapi))
        // A route layer: it sees the matched route's template.
        .route_layer(axum::middleware::from_fn(
            crate::instruments::track_requests,
        ))
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(compression())
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

/// Smallest answer worth compressing: below this, gzip's and br's framing
/// and the CPU cost outweigh the bytes saved.
const COMPRESS_ABOVE_BYTES: u16 = 1024;

/// gzip or br, as the client accepts, for answers above
/// [`COMPRESS_ABOVE_BYTES`]; never for event streams (a compressor buffers,
/// and a Server-Sent Event must reach its consumer at once) or images.
fn compression() -> CompressionLayer<impl Predicate> {
    let predicate = SizeAbove::new(COMPRESS_ABOVE_BYTES)
        .and(NotForContentType::SSE)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::GRPC);
    CompressionLayer::new()
        .no_deflate()
        .no_zstd()
        .compress_when(predicate)
}

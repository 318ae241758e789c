//! A bound on the size of request headers, answered in the API's format.
//!
//! hyper refuses a request head above its read buffer (about 400 KB) itself,
//! with an empty 431 that no layer of ours sees. Below that, this layer
//! refuses any request whose headers add up to more than [`MAX_HEADER_BYTES`]
//! with a problem document (and, being inside the security-headers layer,
//! with those headers): no legitimate client sends that much, and nothing
//! downstream should have to hold it.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// The most header bytes (names and values) one request may carry.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

pub async fn header_limit(request: Request, next: Next) -> Response {
    let total: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if total > MAX_HEADER_BYTES {
        return AppError::HeadersTooLarge.into_response();
    }
    next.run(request).await
}

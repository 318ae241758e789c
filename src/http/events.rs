//! `/events` and `/events/stream`: the event feed (use case in
//! `crate::feed`) for roles `service` and `auditor`.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use super::extract::{ApiQuery, RequireRole, ServiceOrAuditor};
use super::problem::Problem;
use super::validate::Fields;
use crate::error::AppError;
use crate::feed::{self, FeedRequest, Page, DEFAULT_LIMIT, MAX_LIMIT, MAX_PREFIX_LEN};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![events, stream]
}

/// Query parameters, taken as text so that malformed values become 422
/// problems.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FeedParams {
    /// The position of the last event received (`next_after` of the
    /// previous page); 0 or absent for the start of the log.
    #[param(value_type = Option<i64>)]
    after: Option<String>,
    /// Page size, 1-1000 (default 100). Pages only.
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// Only events whose `event_type` starts with this, e.g. `identity.user.`.
    #[param(rename = "type")]
    #[serde(rename = "type")]
    type_prefix: Option<String>,
}

impl FeedParams {
    /// `last_event_id` (a reconnecting SSE client's) wins over `after`.
    fn validate(self, last_event_id: Option<&str>) -> Result<FeedRequest, AppError> {
        let mut fields = Fields::default();
        let (name, raw) = match last_event_id {
            Some(id) => ("Last-Event-ID", Some(id)),
            None => ("after", self.after.as_deref()),
        };
        let after = match raw.map(str::parse::<i64>) {
            None => 0,
            Some(Ok(after)) if after >= 0 => after,
            Some(_) => {
                fields.push(name, "invalid_value", "a position, 0 or more");
                0
            }
        };
        let limit = match self.limit.as_deref().map(str::parse::<i64>) {
            None => DEFAULT_LIMIT,
            Some(Ok(limit)) if (1..=MAX_LIMIT).contains(&limit) => limit,
            Some(_) => {
                fields.push("limit", "out_of_range", "between 1 and 1000");
                DEFAULT_LIMIT
            }
        };
        let type_prefix = match self.type_prefix {
            Some(prefix) if prefix.len() > MAX_PREFIX_LEN => {
                fields.push("type", "too_long", "200 bytes at most");
                None
            }
            Some(prefix) if prefix.contains('\0') => {
                fields.push("type", "invalid_characters", "must not contain NUL");
                None
            }
            Some(prefix) if !prefix.is_empty() => Some(prefix),
            _ => None,
        };
        fields.finish()?;
        Ok(FeedRequest {
            after,
            limit,
            type_prefix,
        })
    }
}

/// A page of events (roles `service`, `auditor`).
#[utoipa::path(get, path = "/events", tag = "events", params(FeedParams),
    security(("bearer" = ["service", "auditor"])),
    description = "Requires role `service` or `auditor`. Events after `after` in log order, in the envelope published on NATS \
        (docs/events.md). Keep the last position you received and pass it as `after`: positions can appear out of numerical \
        order where transactions committed out of order, and the feed never skips such an event.",
    responses((status = 200, body = Page), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn events(
    State(state): State<AppState>,
    _caller: RequireRole<ServiceOrAuditor>,
    ApiQuery(params): ApiQuery<FeedParams>,
) -> Result<Json<Page>, AppError> {
    let request = params.validate(None)?;
    Ok(Json(feed::page(&state.db, &request).await?))
}

/// Every event after a position, then each new one as it commits, as
/// Server-Sent Events (roles `service`, `auditor`).
#[utoipa::path(get, path = "/events/stream", tag = "events", params(FeedParams,
        ("Last-Event-ID" = Option<i64>, Header, description = "Sent by a reconnecting client; wins over `after`.")),
    security(("bearer" = ["service", "auditor"])),
    description = "Requires role `service` or `auditor`. `text/event-stream`: one message per event, `id:` its position and \
        `data:` its envelope (docs/events.md), in log order, then new events as they commit. A client that reconnects with \
        `Last-Event-ID` receives every later event exactly once. `limit` is ignored. Comments keep the connection alive.",
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn stream(
    State(state): State<AppState>,
    _caller: RequireRole<ServiceOrAuditor>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<FeedParams>,
) -> Result<Response, AppError> {
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            AppError::Validation(vec![crate::error::FieldError::new(
                "Last-Event-ID",
                "invalid_value",
                "a position, 0 or more",
            )])
        })?),
    };
    let request = params.validate(last_event_id)?;
    let cursor = feed::resolve(&state.db, request.after).await?;
    let batches = feed::stream(
        state.db.clone(),
        cursor,
        request.type_prefix,
        state.appended.subscribe(),
        state.config.projection_poll,
        state.shutdown.clone(),
        sse_messages,
    )
    .map(Ok::<_, Infallible>);
    let mut response = Body::from_stream(batches).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    // Proxies that buffer (nginx) would hold the events back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// One SSE message per envelope (`id:` its position, `data:` its JSON on
/// one line), or a comment when the batch is empty (keep-alive).
fn sse_messages(batch: &[crate::relay::Envelope]) -> Bytes {
    if batch.is_empty() {
        return Bytes::from_static(b":\n\n");
    }
    let mut out = Vec::with_capacity(batch.len() * 512);
    for envelope in batch {
        out.extend_from_slice(format!("id: {}\ndata: ", envelope.position).as_bytes());
        // An envelope is plain data: serializing it cannot fail, and
        // serde_json writes no newline that would end the message early.
        if serde_json::to_writer(&mut out, envelope).is_err() {
            out.extend_from_slice(b"null");
        }
        out.extend_from_slice(b"\n\n");
    }
    Bytes::from(out)
}

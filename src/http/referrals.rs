//! `/referrals/*`: conversions reported by other services (role `service`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath, RequireRole, Service};
use super::problem::Problem;
use super::validate::Fields;
use crate::error::AppError;
use crate::program::conversions::{self, ConversionView, ReportedSale};
use crate::state::AppState;
use crate::store::Metadata;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![record, refund]
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ConversionRequest {
    #[schema(value_type = String, required = true)]
    external_id: Option<String>,
    #[schema(value_type = Uuid, required = true)]
    user_id: Option<Uuid>,
    #[schema(value_type = i64, required = true)]
    amount_minor: Option<i64>,
    #[schema(value_type = String, required = true)]
    currency: Option<String>,
    #[schema(value_type = DateTime<Utc>, required = true)]
    occurred_at: Option<DateTime<Utc>>,
}

/// Report a sale: 201 with the conversion and its commission. A repeat of
/// the same sale is answered exactly like the original (201, same body, as
/// idempotent replays usually are) and accrues nothing; the same
/// `external_id` with another sale is 409 `external_id_reused`.
#[utoipa::path(post, path = "/referrals/conversions", request_body = ConversionRequest, tag = "referrals", security(("bearer" = ["service"])), description = "Requires role `service`. Idempotent on `external_id`.", responses((status = 201, body = ConversionView, description = "the conversion and its commission (also for repeats)"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem, description = "external_id_reused"), (status = 422, body = Problem)))]
pub async fn record(
    State(state): State<AppState>,
    service: RequireRole<Service>,
    metadata: Metadata,
    ApiJson(body): ApiJson<ConversionRequest>,
) -> Result<(StatusCode, Json<ConversionView>), AppError> {
    let mut fields = Fields::default();
    let external_id = fields.required("external_id", body.external_id.as_deref());
    if body.user_id.is_none() {
        fields.push("user_id", "required", "user_id is required");
    }
    if body.amount_minor.is_none() {
        fields.push("amount_minor", "required", "amount_minor is required");
    }
    let currency = fields.currency("currency", body.currency.as_deref());
    if body.occurred_at.is_none() {
        fields.push(
            "occurred_at",
            "required",
            "occurred_at is required (RFC 3339)",
        );
    }
    let sale = fields.finish_with(|| {
        Some(ReportedSale {
            external_id: external_id?,
            user_id: body.user_id?,
            amount_minor: body.amount_minor?,
            currency: currency?,
            occurred_at: body.occurred_at?,
        })
    })?;
    let (view, _created) =
        conversions::record(&state, sale, service.actor_metadata(metadata)).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The sale was refunded in full: its commission is taken back. Repeats
/// answer the refunded conversion again.
#[utoipa::path(post, path = "/referrals/conversions/{external_id}/refund", tag = "referrals", params(("external_id" = String, Path)), security(("bearer" = ["service"])), description = "Requires role `service`.", responses((status = 200, body = ConversionView, description = "the refunded conversion"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn refund(
    State(state): State<AppState>,
    service: RequireRole<Service>,
    metadata: Metadata,
    ApiPath(external_id): ApiPath<String>,
) -> Result<Json<ConversionView>, AppError> {
    Ok(Json(
        conversions::refund(&state, &external_id, service.actor_metadata(metadata)).await?,
    ))
}

//! `/admin/influencer-applications/*` and `/admin/influencers/*`: the
//! review queue and the controls on influencers, for role `admin`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::extract::{Admin, ApiJson, ApiPath, ApiQuery, RequireRole};
use super::problem::Problem;
use super::validate::Fields;
use crate::error::AppError;
use crate::program::applications::{self, Application, ApplicationPage, Approved};
use crate::program::conversions::{self, Balances};
use crate::program::directory::{
    self, InfluencerPage, InfluencerQuery, InfluencerSummary, Overview, Sort,
};
use crate::program::influencers::{self, InfluencerAction, InfluencerView};
use crate::state::AppState;
use crate::store::Metadata;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![
        list_applications,
        approve,
        reject,
        list_influencers,
        overview,
        get_influencer,
        suspend,
        reinstate,
        set_commission,
        payout
    ]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplicationSearch {
    /// `pending` (the default: the queue), `approved` or `rejected`.
    status: Option<String>,
    /// 1-based page number (default 1).
    page: Option<u32>,
    /// Page size, 1-100 (default 20).
    per_page: Option<u32>,
}

/// Applications with a status, oldest first (role `admin`).
#[utoipa::path(get, path = "/admin/influencer-applications", params(ApplicationSearch), tag = "admin", security(("bearer" = ["admin"])), description = "Requires role `admin`. `?status=pending|approved|rejected&page=&per_page=`, oldest first.", responses((status = 200, body = ApplicationPage, description = "a page of applications"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_applications(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    ApiQuery(search): ApiQuery<ApplicationSearch>,
) -> Result<Json<ApplicationPage>, AppError> {
    let mut fields = Fields::default();
    let status = search.status.unwrap_or_else(|| "pending".to_owned());
    if !["pending", "approved", "rejected"].contains(&status.as_str()) {
        fields.push(
            "status",
            "invalid_value",
            "one of pending, approved, rejected",
        );
    }
    let (page, per_page) = fields.page(search.page, search.per_page);
    fields.finish()?;
    Ok(Json(
        applications::list(&state, &status, page, per_page).await?,
    ))
}

/// Approve: issues a referral code and grants role `influencer`.
#[utoipa::path(post, path = "/admin/influencer-applications/{id}/approve", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])), description = "Requires role `admin`. Retrying an approval that stopped before the `influencer` role was granted grants it and answers 200 again.", responses((status = 200, body = Approved, description = "`{influencer_id, referral_code}`"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "already_decided")))]
pub async fn approve(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Approved>, AppError> {
    Ok(Json(
        applications::approve(&state, id, admin.actor_metadata(metadata)).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReasonRequest {
    #[schema(value_type = String, required = true)]
    reason: Option<String>,
}

/// Reject with a reason the applicant will see.
#[utoipa::path(post, path = "/admin/influencer-applications/{id}/reject", request_body = ReasonRequest, tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])), description = "Requires role `admin`. Body `{reason}`.", responses((status = 200, body = Application, description = "the rejected application"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "already_decided"), (status = 422, body = Problem)))]
pub async fn reject(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Json<Application>, AppError> {
    let mut fields = Fields::default();
    let reason = fields.required("reason", body.reason.as_deref());
    fields.finish()?;
    Ok(Json(
        applications::reject(
            &state,
            id,
            reason.unwrap_or_default(),
            admin.actor_metadata(metadata),
        )
        .await?,
    ))
}

/// Suspend: codes stop attributing, conversions stop earning. A reason
/// is required, as for rejections: it is what other admins read later.
#[utoipa::path(post, path = "/admin/influencers/{id}/suspend", request_body = ReasonRequest, tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])), description = "Requires role `admin`. Body `{reason}`.", responses((status = 200, body = InfluencerView, description = "the influencer"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn suspend(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Json<InfluencerView>, AppError> {
    let mut fields = Fields::default();
    let reason = fields.required("reason", body.reason.as_deref());
    fields.finish()?;
    let action = InfluencerAction::Suspend {
        reason: reason.unwrap_or_default(),
    };
    Ok(Json(
        influencers::act(&state, id, action, admin.actor_metadata(metadata)).await?,
    ))
}

/// Reinstate a suspended influencer.
#[utoipa::path(post, path = "/admin/influencers/{id}/reinstate", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])), description = "Requires role `admin`.", responses((status = 200, body = InfluencerView, description = "the influencer"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reinstate(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<InfluencerView>, AppError> {
    let action = InfluencerAction::Reinstate;
    Ok(Json(
        influencers::act(&state, id, action, admin.actor_metadata(metadata)).await?,
    ))
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CommissionRequest {
    #[schema(value_type = u32, required = true)]
    rate_bps: Option<u32>,
}

/// Set the influencer's commission rate, in basis points; applies to
/// conversions recorded from now on.
#[utoipa::path(put, path = "/admin/influencers/{id}/commission", request_body = CommissionRequest, tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])), description = "Requires role `admin`. Body `{rate_bps}`.", responses((status = 200, body = InfluencerView, description = "the influencer"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_commission(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CommissionRequest>,
) -> Result<Json<InfluencerView>, AppError> {
    let action = InfluencerAction::SetCommission(influencers::parse_rate(body.rate_bps)?);
    Ok(Json(
        influencers::act(&state, id, action, admin.actor_metadata(metadata)).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PayoutRequest {
    #[schema(value_type = i64, required = true)]
    amount_minor: Option<i64>,
    #[schema(value_type = String, required = true)]
    currency: Option<String>,
    #[schema(value_type = String, required = true)]
    reference: Option<String>,
}

/// Record money paid out to the influencer: 201 with the balances after
/// it; 409 `payout_exceeds_available` above the available balance. A
/// repeat with the same `reference`, amount and currency (one of the last
/// 100 payouts) records no second payout and answers 201 alike; any other
/// use of a reference is 409 `payout_reference_reused`.
#[utoipa::path(post, path = "/admin/influencers/{id}/payouts", request_body = PayoutRequest, tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])), description = "Requires role `admin`. Body `{amount_minor, currency, reference}`. Idempotent on `reference` (1 to 255 characters): a repeat with the same amount and currency records no second payout.", responses((status = 201, body = Balances, description = "balances per currency after the payout"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem, description = "payout_exceeds_available, payout_reference_reused"), (status = 422, body = Problem)))]
pub async fn payout(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<PayoutRequest>,
) -> Result<(StatusCode, Json<Balances>), AppError> {
    let mut fields = Fields::default();
    let amount = body.amount_minor.filter(|a| *a > 0);
    if amount.is_none() {
        fields.push(
            "amount_minor",
            "out_of_range",
            "a positive amount is required",
        );
    }
    let currency = fields.currency("currency", body.currency.as_deref());
    let reference = fields.required("reference", body.reference.as_deref());
    let (amount, currency, reference) =
        fields.finish_with(|| Some((amount?, currency?, reference?)))?;
    let balances = conversions::payout(
        &state,
        id,
        amount,
        currency,
        reference,
        admin.actor_metadata(metadata),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(balances)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InfluencerSearch {
    /// Start of the display name or of a code, any case.
    query: Option<String>,
    /// `active` or `suspended` (default: both).
    status: Option<String>,
    /// `newest` (default), `earnings` or `signups`.
    sort: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// Approved influencers with their figures (role `admin`).
#[utoipa::path(get, path = "/admin/influencers", params(InfluencerSearch), tag = "admin", security(("bearer" = ["admin"])), description = "Requires role `admin`. `?query=&status=active|suspended&sort=newest|earnings|signups&page=&per_page=`.", responses((status = 200, body = InfluencerPage, description = "a page of influencers with figures"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_influencers(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    ApiQuery(search): ApiQuery<InfluencerSearch>,
) -> Result<Json<InfluencerPage>, AppError> {
    let mut fields = Fields::default();
    let status = match search.status.as_deref() {
        None => None,
        Some("active") => Some("active"),
        Some("suspended") => Some("suspended"),
        Some(_) => {
            fields.push("status", "invalid_value", "one of active, suspended");
            None
        }
    };
    let sort = match search.sort.as_deref() {
        None => Sort::Newest,
        Some(raw) => Sort::parse(raw).unwrap_or_else(|| {
            fields.push("sort", "invalid_value", "one of newest, earnings, signups");
            Sort::Newest
        }),
    };
    let (page, per_page) = fields.page(search.page, search.per_page);
    fields.finish()?;
    let prefix = Fields::search_prefix(search.query);
    Ok(Json(
        directory::search(
            &state,
            InfluencerQuery {
                prefix,
                status,
                sort,
                page,
                per_page,
            },
        )
        .await?,
    ))
}

/// One influencer or applicant with their figures (role `admin`).
#[utoipa::path(get, path = "/admin/influencers/{id}", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])), description = "Requires role `admin`.", responses((status = 200, body = InfluencerSummary, description = "the influencer with figures"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_influencer(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<InfluencerSummary>, AppError> {
    Ok(Json(directory::get(&state, id).await?))
}

/// Program overview (role `admin`): counts, balances per currency over
/// all influencers, and the top 10 by earnings.
#[utoipa::path(get, path = "/admin/influencer-program", tag = "admin", security(("bearer" = ["admin"])), description = "Requires role `admin`.",
    responses((status = 200, body = Overview, description = "totals and the top 10"), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn overview(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
) -> Result<Json<Overview>, AppError> {
    Ok(Json(directory::overview(&state).await?))
}

//! `/influencer/*`: applying to the program and, once approved, managing
//! one's referral codes.

use aggregates::influencer::Channel;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser, InfluencerRole, RequireRole};
use super::problem::Problem;
use super::validate::Fields;
use crate::error::AppError;
use crate::program::applications::{self, Application, NewApplication, Submitted};
use crate::program::dashboard::{self, Dashboard, ReferralPage};
use crate::program::influencers::{self, InfluencerView};
use crate::state::AppState;
use crate::store::{Actor, Metadata};

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![
        apply,
        my_applications,
        dashboard,
        my_referrals,
        claim_code,
        deactivate_code
    ]
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChannelRequest {
    #[schema(value_type = String, required = true)]
    platform: Option<String>,
    #[schema(value_type = String, required = true)]
    url: Option<String>,
    audience_size: Option<u64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ApplicationRequest {
    #[schema(value_type = String, required = true)]
    display_name: Option<String>,
    #[schema(value_type = Vec<ChannelRequest>, required = true)]
    channels: Option<Vec<ChannelRequest>>,
    #[schema(value_type = String, required = true)]
    pitch: Option<String>,
}

/// Apply to the influencer program (a verified user).
///
/// Missing fields are 422 here; the content rules (lengths, URLs, channel
/// count) are the aggregate's and come back as 422 on the same fields.
/// `audience_size` defaults to 0 when left out: it is self-declared anyway.
#[utoipa::path(post, path = "/influencer/applications", request_body = ApplicationRequest, tag = "influencer", security(("bearer" = [])), description = "A verified user applies to the influencer program.", responses((status = 201, body = Submitted, description = "`{id, status: \"pending\", submitted_at}`"), (status = 401, body = Problem), (status = 403, body = Problem, description = "email_not_verified"), (status = 409, body = Problem, description = "application_pending, already_influencer, too_soon_to_reapply"), (status = 422, body = Problem)))]
pub async fn apply(
    State(state): State<AppState>,
    AuthUser(claims): AuthUser,
    metadata: Metadata,
    ApiJson(body): ApiJson<ApplicationRequest>,
) -> Result<(StatusCode, Json<Submitted>), AppError> {
    let mut fields = Fields::default();
    let display_name = fields.required("display_name", body.display_name.as_deref());
    let pitch = fields.required("pitch", body.pitch.as_deref());
    let channels = match body.channels {
        None => {
            fields.push("channels", "required", "channels is required");
            Vec::new()
        }
        Some(raw) => raw
            .into_iter()
            .map(|c| Channel {
                platform: c.platform.unwrap_or_default(),
                url: c.url.unwrap_or_default(),
                audience_size: c.audience_size.unwrap_or(0),
            })
            .collect(),
    };
    fields.finish()?;
    let metadata = Metadata {
        actor: Some(Actor::User(claims.sub)),
        ..metadata
    };
    let submitted = applications::submit(
        &state,
        claims.sub,
        NewApplication {
            display_name: display_name.unwrap_or_default(),
            channels,
            pitch: pitch.unwrap_or_default(),
        },
        metadata,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(submitted)))
}

/// The caller's applications, newest first, each with its status.
#[utoipa::path(get, path = "/influencer/applications/mine", tag = "influencer", security(("bearer" = [])), responses((status = 200, body = [Application], description = "the caller's applications, newest first"), (status = 401, body = Problem)))]
pub async fn my_applications(
    State(state): State<AppState>,
    AuthUser(claims): AuthUser,
) -> Result<Json<Vec<Application>>, AppError> {
    Ok(Json(applications::mine(&state, claims.sub).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CodeRequest {
    #[schema(value_type = String, required = true)]
    code: Option<String>,
}

/// Claim a vanity code (role `influencer`): 201 with the influencer's codes.
#[utoipa::path(post, path = "/influencer/codes", request_body = CodeRequest, tag = "influencer", security(("bearer" = ["influencer"])), description = "Requires role `influencer`.", responses((status = 201, body = InfluencerView, description = "the influencer's active codes"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem, description = "code_taken, vanity_code_limit_reached, influencer_suspended"), (status = 422, body = Problem)))]
pub async fn claim_code(
    State(state): State<AppState>,
    influencer: RequireRole<InfluencerRole>,
    metadata: Metadata,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<(StatusCode, Json<InfluencerView>), AppError> {
    let mut fields = Fields::default();
    let code = fields.required("code", body.code.as_deref());
    fields.finish()?;
    let id = influencer.0.sub;
    let view = influencers::claim_code(
        &state,
        id,
        code.unwrap_or_default(),
        influencer.actor_metadata(metadata),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Deactivate one of the caller's codes (role `influencer`), for good.
#[utoipa::path(delete, path = "/influencer/codes/{code}", tag = "influencer", params(("code" = String, Path)), security(("bearer" = ["influencer"])), description = "Requires role `influencer`.", responses((status = 204, description = "deactivated for good"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn deactivate_code(
    State(state): State<AppState>,
    influencer: RequireRole<InfluencerRole>,
    metadata: Metadata,
    ApiPath(code): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    let id = influencer.0.sub;
    influencers::deactivate_code(&state, id, &code, influencer.actor_metadata(metadata)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's dashboard (role `influencer`): codes with signups, verified
/// signups, conversions, conversion rate and earnings; balances per
/// currency; a daily series of the last 90 days.
#[utoipa::path(get, path = "/influencer/me", tag = "influencer", security(("bearer" = ["influencer"])), description = "Requires role `influencer`.", responses((status = 200, body = Dashboard, description = "codes with figures, balances per currency, 90-day series"), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn dashboard(
    State(state): State<AppState>,
    influencer: RequireRole<InfluencerRole>,
) -> Result<Json<Dashboard>, AppError> {
    Ok(Json(dashboard::me(&state, influencer.0.sub).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    page: Option<u32>,
    /// Page size, 1-100 (default 20).
    per_page: Option<u32>,
}

/// The caller's referred users, newest first (role `influencer`).
#[utoipa::path(get, path = "/influencer/me/referrals", params(PageQuery), tag = "influencer", security(("bearer" = ["influencer"])), description = "Requires role `influencer`.", responses((status = 200, body = ReferralPage, description = "referred users, newest first, paginated"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn my_referrals(
    State(state): State<AppState>,
    influencer: RequireRole<InfluencerRole>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ReferralPage>, AppError> {
    let mut fields = Fields::default();
    let (page, per_page) = fields.page(query.page, query.per_page);
    fields.finish()?;
    Ok(Json(
        dashboard::referrals(&state, influencer.0.sub, page, per_page).await?,
    ))
}

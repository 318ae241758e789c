//! `/admin/users/{id}/history`: an account's events and past state, for
//! roles `auditor` and `admin` (use case in `crate::history`).

use aggregates::audit::Via;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::extract::{ApiPath, ApiQuery, AuditorOrAdmin, RequireRole};
use super::problem::Problem;
use super::validate::Fields;
use crate::error::AppError;
use crate::history::{self, History, HistoryRequest, Viewer, DEFAULT_LIMIT, MAX_LIMIT};
use crate::state::AppState;
use crate::store::{Actor, Metadata};

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![history]
}

/// Query parameters, taken as text so that malformed values become 422
/// problems rather than axum's plain-text rejections.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HistoryParams {
    /// Only events after this position (the `next_after` of the previous page).
    #[param(value_type = Option<i64>)]
    after: Option<String>,
    /// Page size, 1-500 (default 100).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// RFC 3339 time: only events recorded up to then, plus the account's
    /// `state` as of then.
    #[param(value_type = Option<String>, format = DateTime)]
    as_of: Option<String>,
}

impl HistoryParams {
    fn validate(self, user_id: Uuid) -> Result<HistoryRequest, AppError> {
        let mut fields = Fields::default();
        let after = match self.after.as_deref().map(str::parse::<i64>) {
            None => 0,
            Some(Ok(after)) if after >= 0 => after,
            Some(_) => {
                fields.push("after", "invalid_value", "a position, 0 or more");
                0
            }
        };
        let limit = match self.limit.as_deref().map(str::parse::<i64>) {
            None => DEFAULT_LIMIT,
            Some(Ok(limit)) if (1..=MAX_LIMIT).contains(&limit) => limit,
            Some(_) => {
                fields.push("limit", "out_of_range", "between 1 and 500");
                DEFAULT_LIMIT
            }
        };
        let as_of = match self.as_of.as_deref() {
            None => None,
            Some(raw) => {
                let parsed = history::parse_time(raw);
                if parsed.is_none() {
                    fields.push("as_of", "invalid_format", "an RFC 3339 time");
                }
                parsed
            }
        };
        fields.finish()?;
        Ok(HistoryRequest {
            user_id,
            after,
            limit,
            as_of,
        })
    }
}

/// An account's history (roles `auditor`, `admin`).
#[utoipa::path(get, path = "/admin/users/{id}/history", tag = "admin", params(("id" = Uuid, Path), HistoryParams),
    security(("bearer" = ["auditor", "admin"])),
    description = "Requires role `auditor` or `admin`. The events of the account and of its sessions, in log order, paged by position; \
        `password_hash` values are redacted. With `as_of`, only events recorded up to then and the account's `state` as of then, \
        rebuilt from those events. Every read is recorded as an `identity.audit.HistoryViewed` event naming the caller.",
    responses((status = 200, body = History), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    caller: RequireRole<AuditorOrAdmin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<Json<History>, AppError> {
    let request = params.validate(id)?;
    let viewer = Viewer {
        id: Actor::User(caller.0.sub),
        via: Via::Api,
    };
    Ok(Json(
        history::view(
            &state.db,
            &state.audits,
            &request,
            viewer,
            caller.actor_metadata(metadata),
        )
        .await?,
    ))
}

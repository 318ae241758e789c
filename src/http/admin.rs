//! `/admin/*`: account search and actions, for role `admin`.

use std::collections::BTreeSet;

use aggregates::user::Role;
use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Admin, ApiJson, ApiPath, ApiQuery, RequireRole};
use super::problem::Problem;
use super::validate::Fields;
use crate::admin::{self, AdminAction, StatusFilter, UserPage, UserQuery, UserSummary};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Metadata;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}", get(get_user))
        .route("/admin/users/{id}/lock", post(lock))
        .route("/admin/users/{id}/unlock", post(unlock))
        .route("/admin/users/{id}/deactivate", post(deactivate))
        .route("/admin/users/{id}/reactivate", post(reactivate))
        .route("/admin/users/{id}/roles", put(set_roles))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UserSearch {
    /// Prefix of the email or username.
    query: Option<String>,
    /// `active`, `locked` or `deactivated`.
    status: Option<String>,
    /// 1-based page number (default 1).
    page: Option<u32>,
    /// Page size, 1-100 (default 20).
    per_page: Option<u32>,
}

/// Search accounts (role `admin`).
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", params(UserSearch), security(("bearer" = ["admin"])),
    description = "Requires role `admin`.",
    responses((status = 200, body = UserPage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    ApiQuery(search): ApiQuery<UserSearch>,
) -> Result<Json<UserPage>, AppError> {
    let mut fields = Fields::default();
    let status = search.status.as_deref().and_then(|raw| {
        let parsed = StatusFilter::parse(raw);
        if parsed.is_none() {
            fields.push(
                "status",
                "invalid_value",
                "one of active, locked, deactivated",
            );
        }
        parsed
    });
    let (page, per_page) = fields.page(search.page, search.per_page);
    fields.finish()?;
    let prefix = Fields::search_prefix(search.query);
    Ok(Json(
        admin::search_users(
            &state,
            UserQuery {
                prefix,
                status,
                page,
                per_page,
            },
        )
        .await?,
    ))
}

/// One account (role `admin`).
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])),
    description = "Requires role `admin`.",
    responses((status = 200, body = UserSummary), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_user(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<UserSummary>, AppError> {
    Ok(Json(admin::get_user(&state, id).await?))
}

async fn act(
    state: &AppState,
    admin: &RequireRole<Admin>,
    id: Uuid,
    action: AdminAction,
    metadata: Metadata,
) -> Result<Json<UserSummary>, AppError> {
    Ok(Json(
        admin::act(state, id, action, admin.actor_metadata(metadata)).await?,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct LockRequest {
    /// How long to lock, in seconds (default: the lockout duration).
    duration_secs: Option<u64>,
}

/// Lock an account (role `admin`); the body is optional.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/lock", tag = "admin", params(("id" = Uuid, Path)), request_body(content = LockRequest, description = "optional"),
    security(("bearer" = ["admin"])), description = "Requires role `admin`. The account's access tokens and refresh tokens are refused while it is locked.",
    responses((status = 200, body = UserSummary), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "cannot_lock_out_self: not on your own account")))]
pub async fn lock(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
    body: axum::body::Bytes,
) -> Result<Json<UserSummary>, AppError> {
    let request: LockRequest = if body.is_empty() {
        LockRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| AppError::BadRequest {
            code: "malformed_json",
            detail: e.to_string(),
        })?
    };
    let duration = match request.duration_secs {
        Some(secs) => {
            chrono::Duration::seconds(i64::try_from(secs.min(10 * 365 * 86_400)).unwrap_or(0))
        }
        None => state.config.lockout.lock_duration,
    };
    act(
        &state,
        &admin,
        id,
        AdminAction::Lock {
            until: Utc::now() + duration,
        },
        metadata,
    )
    .await
}

/// Lift a lock early (role `admin`).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/unlock", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])),
    description = "Requires role `admin`.",
    responses((status = 200, body = UserSummary), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn unlock(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<UserSummary>, AppError> {
    act(&state, &admin, id, AdminAction::Unlock, metadata).await
}

/// Deactivate: revokes every session, blocks login and refresh (role `admin`).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/deactivate", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])),
    description = "Requires role `admin`. Access tokens already issued are refused from then on (401 `token_revoked`).",
    responses((status = 200, body = UserSummary), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "cannot_lock_out_self: not on your own account")))]
pub async fn deactivate(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<UserSummary>, AppError> {
    act(&state, &admin, id, AdminAction::Deactivate, metadata).await
}

/// Reactivate a deactivated account (role `admin`).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/reactivate", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])),
    description = "Requires role `admin`.",
    responses((status = 200, body = UserSummary), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reactivate(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<UserSummary>, AppError> {
    act(&state, &admin, id, AdminAction::Reactivate, metadata).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RolesRequest {
    /// The complete set of roles; must include `user`.
    #[serde(default)]
    roles: Option<Vec<String>>,
}

/// Replace an account's roles (role `admin`).
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/roles", tag = "admin", params(("id" = Uuid, Path)), request_body = RolesRequest,
    security(("bearer" = ["admin"])), description = "Requires role `admin`. Roles: user, admin, auditor, influencer, service.",
    responses((status = 200, body = UserSummary), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "cannot_lock_out_self: not on your own account"), (status = 422, body = Problem)))]
pub async fn set_roles(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<RolesRequest>,
) -> Result<Json<UserSummary>, AppError> {
    let mut fields = Fields::default();
    let mut roles = BTreeSet::new();
    match body.roles {
        None => fields.push("roles", "required", "roles is required"),
        Some(raw) => {
            for name in raw {
                match Role::parse(&name) {
                    Some(role) => {
                        roles.insert(role);
                    }
                    None => fields.push("roles", "unknown_role", format!("unknown role {name:?}")),
                }
            }
        }
    }
    fields.finish()?;
    act(&state, &admin, id, AdminAction::SetRoles(roles), metadata).await
}

//! `/admin/*`: account search and actions, for role `admin`.

use std::collections::BTreeSet;

use aggregates::user::Role;
use axum::extract::State;
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::extract::{Admin, ApiJson, ApiPath, ApiQuery, RequireRole};
use super::problem::Problem;
use super::validate::Fields;
use crate::admin::{self, AdminAction, UserPage, UserQuery, UserSummary};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::directory::Key;
use crate::store::Metadata;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![
        list_users,
        get_user,
        lock,
        unlock,
        deactivate,
        reactivate,
        set_roles,
        remove_second_factor
    ]
}

/// Search filters. At most one of `query`, `email` and `username`; each
/// shape of search pages in its own order (see the description).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UserSearch {
    /// A prefix of the email when it contains `@`, else of the username
    /// (ignoring case).
    query: Option<String>,
    /// A prefix of the email (ignoring case).
    email: Option<String>,
    /// A prefix of the username (ignoring case).
    username: Option<String>,
    /// `active`, `locked` or `deactivated`.
    status: Option<String>,
    /// The `next_cursor` of the previous page; omit for the first.
    cursor: Option<String>,
    /// Page size, 1-100 (default 20).
    per_page: Option<u32>,
    /// Refused: pages are by `cursor` (kept so that an old client is told,
    /// not silently given the first page again).
    page: Option<String>,
}

/// Search accounts (role `admin`). Pages by keyset: each page names the
/// `next_cursor` to pass for the next, `null` on the last; there is no
/// total (counting every match costs as much as reading them). Everyone,
/// or a `status`, comes oldest first; `locked` alone comes soonest to
/// unlock first; a prefix search comes in the order of the searched field.
#[utoipa::path(get, path = "/admin/users", tag = "admin", params(UserSearch), security(("bearer" = ["admin"])),
    description = "Requires role `admin`.",
    responses((status = 200, body = UserPage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    ApiQuery(search): ApiQuery<UserSearch>,
) -> Result<Json<UserPage>, AppError> {
    Ok(Json(
        admin::search_users(&state, parse_search(search)?).await?,
    ))
}

/// The search's filters, or every field error at once.
fn parse_search(search: UserSearch) -> Result<UserQuery, AppError> {
    let mut fields = Fields::default();
    let status = search.status.as_deref().and_then(|raw| {
        let parsed = admin::parse_status(raw);
        if parsed.is_none() {
            fields.push(
                "status",
                "invalid_value",
                "one of active, locked, deactivated",
            );
        }
        parsed
    });
    if search.page.is_some() {
        fields.push(
            "page",
            "unsupported",
            "pages are by cursor: pass a page's next_cursor as cursor",
        );
    }
    let (_, per_page) = fields.page(None, search.per_page);
    let key = search_key(&mut fields, search.query, search.email, search.username);
    let cursor = search.cursor.as_deref().and_then(|raw| {
        let decoded = admin::cursor::decode(raw, &key);
        if decoded.is_none() {
            fields.push(
                "cursor",
                "invalid_value",
                "not the next_cursor of a page of this search",
            );
        }
        decoded
    });
    fields.finish()?;
    Ok(UserQuery {
        key,
        status,
        cursor,
        per_page,
    })
}

/// What the search is by: at most one of `query` (an email prefix when it
/// holds `@`, else a username prefix), `email` and `username`; everyone
/// when none is given.
fn search_key(
    fields: &mut Fields,
    query: Option<String>,
    email: Option<String>,
    username: Option<String>,
) -> Key {
    let prefixes = [
        ("query", Fields::search_prefix(query)),
        ("email", Fields::search_prefix(email)),
        ("username", Fields::search_prefix(username)),
    ];
    let mut given = prefixes
        .into_iter()
        .filter_map(|(name, p)| p.map(|p| (name, p)));
    let key = match given.next() {
        None => Key::Created,
        Some((name, prefix)) => {
            let prefix = prefix.to_lowercase();
            match name {
                "email" => Key::Email(prefix),
                "username" => Key::Username(prefix),
                _ if prefix.contains('@') => Key::Email(prefix),
                _ => Key::Username(prefix),
            }
        }
    };
    for (name, _) in given {
        fields.push(name, "conflict", "give one of query, email and username");
    }
    key
}

/// One account (role `admin`).
#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])),
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
#[utoipa::path(post, path = "/admin/users/{id}/lock", tag = "admin", params(("id" = Uuid, Path)), request_body(content = LockRequest, description = "optional"),
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
#[utoipa::path(post, path = "/admin/users/{id}/unlock", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])),
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
#[utoipa::path(post, path = "/admin/users/{id}/deactivate", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])),
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

/// Remove the account's second factor (role `admin`), for a person who
/// lost the authenticator and the recovery codes.
#[utoipa::path(delete, path = "/admin/users/{id}/mfa", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])),
    description = "Requires role `admin`. Recorded as `TotpDisabled` with the admin in `by` and as the actor.",
    responses((status = 200, body = UserSummary), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "mfa_not_enabled")))]
pub async fn remove_second_factor(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    metadata: Metadata,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<UserSummary>, AppError> {
    act(
        &state,
        &admin,
        id,
        AdminAction::RemoveSecondFactor,
        metadata,
    )
    .await
}

/// Reactivate a deactivated account (role `admin`).
#[utoipa::path(post, path = "/admin/users/{id}/reactivate", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = ["admin"])),
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
    #[schema(value_type = Vec<String>, required = true)]
    #[serde(default)]
    roles: Option<Vec<String>>,
}

/// Replace an account's roles (role `admin`).
#[utoipa::path(put, path = "/admin/users/{id}/roles", tag = "admin", params(("id" = Uuid, Path)), request_body = RolesRequest,
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

//! Use cases of the admin API: searching accounts and acting on them. Every
//! command records the admin as the actor in the event metadata.

use std::collections::BTreeSet;

use aggregates::session::RevocationReason;
use aggregates::user::Role;
use aggregates::{UserCommand, UserError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::accounts::revoke_all_sessions;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::store::{on_either, CommandError, Metadata, Roles};

/// An account as admins see it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UserSummary {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    #[schema(value_type = Vec<String>)]
    pub roles: Roles,
    /// `active`, `locked` or `deactivated`.
    pub status: String,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserPage {
    pub items: Vec<UserSummary>,
    pub page: u32,
    pub per_page: u32,
    pub total: i64,
}

/// Search filters, already validated.
#[derive(Debug, Default)]
pub struct UserQuery {
    /// Prefix of the email or (case-insensitively) the username.
    pub prefix: Option<String>,
    pub status: Option<StatusFilter>,
    pub page: u32,
    pub per_page: u32,
}

#[derive(Debug, Clone, Copy)]
pub enum StatusFilter {
    Active,
    Locked,
    Deactivated,
}

impl StatusFilter {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "locked" => Some(Self::Locked),
            "deactivated" => Some(Self::Deactivated),
            _ => None,
        }
    }
}

/// The summary columns, with the time a lock is judged against in
/// parameter `now` (times are bound, not `now()`, so both dialects read it).
fn summary(now: &str) -> String {
    format!(
        "SELECT user_id AS id, username, email, email_verified, roles,
                CASE WHEN status = 'active' AND locked_until > {now} THEN 'locked' ELSE status END AS status,
                locked_until, created_at, updated_at, count(*) OVER () AS total
           FROM user_directory"
    )
}

pub async fn search_users(state: &AppState, query: UserQuery) -> Result<UserPage, AppError> {
    let status = match query.status {
        None => "true",
        Some(StatusFilter::Active) => {
            "status = 'active' AND (locked_until IS NULL OR locked_until <= $4)"
        }
        Some(StatusFilter::Locked) => "status = 'active' AND locked_until > $4",
        Some(StatusFilter::Deactivated) => "status = 'deactivated'",
    };
    let sql = format!(
        "{} WHERE (CAST($1 AS TEXT) IS NULL
                OR email LIKE $1 || '%' ESCAPE '\\' OR lower(username) LIKE lower($1) || '%' ESCAPE '\\')
            AND {status}
          ORDER BY created_at, user_id LIMIT $2 OFFSET $3",
        summary("$4")
    );
    let escaped = query.prefix.map(|p| {
        p.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    });
    let prefix = escaped.map(|p| p.to_lowercase());
    let limit = i64::from(query.per_page);
    let offset = i64::from(query.page.saturating_sub(1)) * i64::from(query.per_page);
    let rows: Vec<UserSummaryRow> = on_either!(&state.db, pool => {
        sqlx::query_as(&sql)
            .bind(&prefix)
            .bind(limit)
            .bind(offset)
            .bind(Utc::now())
            .fetch_all(pool)
            .await
    })?;
    let total = rows.first().map_or(0, |r| r.total);
    Ok(UserPage {
        items: rows.into_iter().map(|r| r.summary).collect(),
        page: query.page,
        per_page: query.per_page,
        total,
    })
}

#[derive(sqlx::FromRow)]
struct UserSummaryRow {
    #[sqlx(flatten)]
    summary: UserSummary,
    total: i64,
}

pub async fn get_user(state: &AppState, id: Uuid) -> Result<UserSummary, AppError> {
    let sql = format!("{} WHERE user_id = $1", summary("$2"));
    let row: Option<UserSummaryRow> = on_either!(&state.db, pool => {
        sqlx::query_as(&sql)
            .bind(id)
            .bind(Utc::now())
            .fetch_optional(pool)
            .await
    })?;
    row.map(|r| r.summary).ok_or(AppError::NotFound)
}

/// An admin action on one account.
#[derive(Debug, Clone)]
pub enum AdminAction {
    Lock { until: DateTime<Utc> },
    Unlock,
    Deactivate,
    Reactivate,
    SetRoles(BTreeSet<Role>),
}

/// Whether `action`, taken by an admin on their own account, would shut
/// them out of the admin API. Refused, so that a slip (or a stolen session
/// clicking around) cannot remove the last admin; another admin can.
fn locks_out(action: &AdminAction) -> bool {
    match action {
        AdminAction::Lock { .. } | AdminAction::Deactivate => true,
        AdminAction::SetRoles(roles) => !roles.contains(&Role::Admin),
        AdminAction::Unlock | AdminAction::Reactivate => false,
    }
}

/// Applies `action` to account `id` and returns the account afterwards.
pub async fn act(
    state: &AppState,
    id: Uuid,
    action: AdminAction,
    metadata: Metadata,
) -> Result<UserSummary, AppError> {
    let by = metadata.by();
    if by == id.to_string() && locks_out(&action) {
        return Err(AppError::Conflict {
            code: "cannot_lock_out_self",
            detail: "admins cannot deactivate, lock or take the admin role from their own \
                     account; another admin (or `identity admin grant-role`) can"
                .to_owned(),
        });
    }
    let at = Utc::now();
    let command = match action.clone() {
        AdminAction::Lock { until } => UserCommand::LockAccount { until, by, at },
        AdminAction::Unlock => UserCommand::UnlockAccount { by, at },
        AdminAction::Deactivate => UserCommand::DeactivateUser { by, at },
        AdminAction::Reactivate => UserCommand::ReactivateUser { by, at },
        AdminAction::SetRoles(roles) => UserCommand::SetRoles { roles, by, at },
    };
    let committed = match state
        .users
        .execute(&id.to_string(), command, &metadata)
        .await
    {
        Ok(committed) => committed,
        Err(CommandError::Domain(UserError::NotFound)) => return Err(AppError::NotFound),
        Err(CommandError::Domain(UserError::CannotRevokeUserRole)) => {
            return Err(AppError::Validation(vec![FieldError::new(
                "roles",
                "user_role_required",
                "every account keeps the user role",
            )]))
        }
        Err(other) => return Err(other.into()),
    };
    state.projections.wait_for(committed.cursor).await;
    if matches!(action, AdminAction::Deactivate) {
        revoke_all_sessions(state, id, RevocationReason::AccountDeactivated, metadata).await?;
    }
    get_user(state, id).await
}

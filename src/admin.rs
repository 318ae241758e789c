//! Use cases of the admin API: searching accounts and acting on them. Every
//! command records the admin as the actor in the event metadata.

use std::collections::BTreeSet;

use aggregates::session::RevocationReason;
use aggregates::user::Role;
use aggregates::UserCommand;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::accounts::revoke_all_sessions;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::directory::{self, After, Entry, Key, Search, Status};
use crate::store::{Metadata, Roles};

pub mod cursor;

/// An account as admins see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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

/// One page of a search. There is no total: counting every match would
/// cost as much as reading them all (see `store::directory`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserPage {
    pub items: Vec<UserSummary>,
    pub per_page: u32,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// Search filters, already validated.
#[derive(Debug)]
pub struct UserQuery {
    pub key: Key,
    pub status: Option<Status>,
    pub cursor: Option<After>,
    pub per_page: u32,
}

/// Parses a `status` filter.
pub fn parse_status(raw: &str) -> Option<Status> {
    match raw {
        "active" => Some(Status::Active),
        "locked" => Some(Status::Locked),
        "deactivated" => Some(Status::Deactivated),
        _ => None,
    }
}

impl From<Entry> for UserSummary {
    fn from(entry: Entry) -> Self {
        Self {
            id: entry.id,
            username: entry.username,
            email: entry.email,
            email_verified: entry.email_verified,
            roles: entry.roles,
            status: entry.status,
            locked_until: entry.locked_until,
            created_at: entry.created_at,
            updated_at: entry.updated_at,
        }
    }
}

pub async fn search_users(state: &AppState, query: UserQuery) -> Result<UserPage, AppError> {
    let search = Search {
        key: query.key,
        status: query.status,
        after: query.cursor,
        limit: i64::from(query.per_page),
        now: Utc::now(),
    };
    let page = directory::search(&state.db, &search).await?;
    Ok(UserPage {
        items: page.entries.into_iter().map(UserSummary::from).collect(),
        per_page: query.per_page,
        next_cursor: page.next.as_ref().map(cursor::encode),
    })
}

pub async fn get_user(state: &AppState, id: Uuid) -> Result<UserSummary, AppError> {
    directory::get(&state.db, id, Utc::now())
        .await?
        .map(UserSummary::from)
        .ok_or(AppError::NotFound)
}

/// An admin action on one account.
#[derive(Debug, Clone)]
pub enum AdminAction {
    Lock {
        until: DateTime<Utc>,
    },
    Unlock,
    Deactivate,
    Reactivate,
    SetRoles(BTreeSet<Role>),
    /// Turn the account's second factor off (a lost authenticator).
    RemoveSecondFactor,
}

/// Whether `action`, taken by an admin on their own account, would shut
/// them out of the admin API. Refused, so that a slip (or a stolen session
/// clicking around) cannot remove the last admin; another admin can.
fn locks_out(action: &AdminAction) -> bool {
    match action {
        AdminAction::Lock { .. } | AdminAction::Deactivate => true,
        AdminAction::SetRoles(roles) => !roles.contains(&Role::Admin),
        AdminAction::Unlock | AdminAction::Reactivate | AdminAction::RemoveSecondFactor => false,
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
        AdminAction::RemoveSecondFactor => UserCommand::DisableTotp {
            by: Some(by),
            step: None,
            at,
        },
    };
    let committed = state
        .users
        .execute(&id.to_string(), command, &metadata)
        .await?;
    state.projections.wait_for(committed.cursor).await;
    if matches!(action, AdminAction::Deactivate) {
        revoke_all_sessions(state, id, RevocationReason::AccountDeactivated, metadata).await?;
    }
    get_user(state, id).await
}

//! Applying to the program, and the admins' review of applications.

use std::collections::BTreeSet;

use aggregates::influencer::Channel;
use aggregates::user::Role;
use aggregates::values::{GENERATED_ALPHABET, GENERATED_LEN};
use aggregates::{InfluencerCommand, UserCommand};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use uuid::Uuid;

use super::{actor, execute};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{CommandError, Metadata};

/// How many generated codes approval tries before giving up. With 32^8
/// possible codes a single collision is already unlikely; several in a row
/// mean something else is wrong.
const CODE_ATTEMPTS: u32 = 8;

/// An application as its applicant and the admins see it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Application {
    pub id: Uuid,
    pub user_id: Uuid,
    pub display_name: String,
    pub channels: serde_json::Value,
    pub pitch: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub submitted_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Shown to the applicant too, so they know what to change.
    pub reason: Option<String>,
    pub referral_code: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ApplicationPage {
    pub items: Vec<Application>,
    pub page: u32,
    pub per_page: u32,
    pub total: i64,
}

/// The answer to a new application.
#[derive(Debug, Serialize)]
pub struct Submitted {
    pub id: Uuid,
    pub status: &'static str,
    pub submitted_at: DateTime<Utc>,
}

/// What the applicant wrote.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub display_name: String,
    pub channels: Vec<Channel>,
    pub pitch: String,
}

const COLUMNS: &str = "id, user_id, display_name, channels, pitch, status, submitted_at,
                       decided_at, reason, referral_code";

/// `user_id` applies. Whether the user is verified is read from the `User`
/// aggregate, not the token, so a verification a minute ago counts.
pub async fn submit(
    state: &AppState,
    user_id: Uuid,
    application: NewApplication,
    metadata: Metadata,
) -> Result<Submitted, AppError> {
    let (user, _) = state
        .users
        .load(&user_id.to_string())
        .await
        .map_err(AppError::internal)?;
    let committed = execute(
        state,
        user_id,
        InfluencerCommand::SubmitApplication {
            user_id,
            display_name: application.display_name,
            channels: application.channels,
            pitch: application.pitch,
            user_verified: user.email_verified,
            at: state.config.program_clock.now(),
            policy: state.config.program.clone(),
        },
        &metadata,
    )
    .await?;
    state.projections.wait_for(committed.cursor).await;
    let row: Option<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, submitted_at FROM influencer_applications
          WHERE user_id = $1 AND status = 'pending'",
    )
    .bind(user_id)
    .fetch_optional(&state.pool)
    .await?;
    let (id, submitted_at) =
        row.ok_or_else(|| AppError::internal(anyhow::anyhow!("application not projected")))?;
    Ok(Submitted {
        id,
        status: "pending",
        submitted_at,
    })
}

/// The caller's applications, newest first.
pub async fn mine(state: &AppState, user_id: Uuid) -> Result<Vec<Application>, AppError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM influencer_applications WHERE user_id = $1
          ORDER BY submitted_at DESC, id"
    ))
    .bind(user_id)
    .fetch_all(&state.pool)
    .await?)
}

/// Applications with `status`, oldest first (the review queue).
pub async fn list(
    state: &AppState,
    status: &str,
    page: u32,
    per_page: u32,
) -> Result<ApplicationPage, AppError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        application: Application,
        total: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, count(*) OVER () AS total FROM influencer_applications
          WHERE status = $1 ORDER BY submitted_at, id LIMIT $2 OFFSET $3"
    ))
    .bind(status)
    .bind(i64::from(per_page))
    .bind(i64::from(page.saturating_sub(1)) * i64::from(per_page))
    .fetch_all(&state.pool)
    .await?;
    Ok(ApplicationPage {
        total: rows.first().map_or(0, |r| r.total),
        items: rows.into_iter().map(|r| r.application).collect(),
        page,
        per_page,
    })
}

/// An application's applicant, status and code, from the read model.
async fn decision(state: &AppState, id: Uuid) -> Result<(Uuid, String, Option<String>), AppError> {
    let row: Option<(Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT user_id, status, referral_code FROM influencer_applications WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    row.ok_or(AppError::NotFound)
}

fn already_decided() -> AppError {
    AppError::Conflict {
        code: "already_decided",
        detail: "the application has already been decided".to_owned(),
    }
}

/// The applicant of a pending application. An application the read model
/// already shows decided is 409 at once; otherwise the aggregate decides
/// (it allows one pending application per user, so the pending application
/// of this user is this one).
async fn pending_applicant(state: &AppState, id: Uuid) -> Result<Uuid, AppError> {
    match decision(state, id).await? {
        (user_id, status, _) if status == "pending" => Ok(user_id),
        _ => Err(already_decided()),
    }
}

/// The answer to an approval.
#[derive(Debug, Serialize)]
pub struct Approved {
    pub influencer_id: Uuid,
    pub referral_code: String,
}

/// A fresh code of the unambiguous alphabet.
fn generate_code() -> String {
    let alphabet = GENERATED_ALPHABET.as_bytes();
    let mut rng = rand::thread_rng();
    (0..GENERATED_LEN)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

/// Approves application `id`: issues a generated code (a new one whenever
/// the last was taken) and grants the `influencer` role.
///
/// The role is granted in a second command on the `User` stream, after the
/// approval committed. Should the service stop between the two, the admin's
/// retry finishes the job: approving an approved application whose
/// applicant lacks the role grants it and answers like the first approval.
/// Once the role is there, a repeat is 409 `already_decided`.
pub async fn approve(state: &AppState, id: Uuid, metadata: Metadata) -> Result<Approved, AppError> {
    let user_id = match decision(state, id).await? {
        (user_id, status, _) if status == "pending" => user_id,
        (user_id, status, Some(code)) if status == "approved" => {
            return finish_approval(state, user_id, code, &metadata).await;
        }
        _ => return Err(already_decided()),
    };
    let mut approved = None;
    for _ in 0..CODE_ATTEMPTS {
        let command = InfluencerCommand::ApproveApplication {
            code: generate_code(),
            commission_rate: state.config.program.default_commission_rate,
            by: actor(&metadata),
            at: state.config.program_clock.now(),
        };
        match execute(state, user_id, command, &metadata).await {
            Err(AppError::CodeTaken) => continue,
            other => {
                approved = Some(other?);
                break;
            }
        }
    }
    let committed = approved.ok_or(AppError::Contention)?;
    let code = committed
        .state
        .generated_code
        .as_ref()
        .map(|c| c.as_str().to_owned())
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("approved without a code")))?;
    let cursor = grant_influencer_role(state, user_id, &metadata)
        .await?
        .or(committed.cursor);
    state.projections.wait_for(cursor).await;
    Ok(Approved {
        influencer_id: user_id,
        referral_code: code,
    })
}

/// The second half of an approval that stopped after the first.
async fn finish_approval(
    state: &AppState,
    user_id: Uuid,
    referral_code: String,
    metadata: &Metadata,
) -> Result<Approved, AppError> {
    let Some(cursor) = grant_influencer_role(state, user_id, metadata).await? else {
        return Err(already_decided());
    };
    state.projections.wait_for(Some(cursor)).await;
    Ok(Approved {
        influencer_id: user_id,
        referral_code,
    })
}

/// Grants the role unless the user has it; the cursor of the grant, if any.
async fn grant_influencer_role(
    state: &AppState,
    user_id: Uuid,
    metadata: &Metadata,
) -> Result<Option<projections::Cursor>, AppError> {
    let (user, _) = state
        .users
        .load(&user_id.to_string())
        .await
        .map_err(AppError::internal)?;
    let mut roles: BTreeSet<Role> = user.roles.clone();
    if !roles.insert(Role::Influencer) {
        return Ok(None);
    }
    let command = UserCommand::SetRoles {
        roles,
        by: actor(metadata),
        at: state.config.program_clock.now(),
    };
    match state
        .users
        .execute(&user_id.to_string(), command, metadata)
        .await
    {
        Ok(committed) => Ok(committed.cursor),
        Err(CommandError::Domain(error)) => Err(AppError::internal(error)),
        Err(other) => Err(other.into()),
    }
}

/// Rejects application `id` with `reason` (shown to the applicant).
pub async fn reject(
    state: &AppState,
    id: Uuid,
    reason: String,
    metadata: Metadata,
) -> Result<Application, AppError> {
    let user_id = pending_applicant(state, id).await?;
    let command = InfluencerCommand::RejectApplication {
        reason,
        by: actor(&metadata),
        at: state.config.program_clock.now(),
    };
    let committed = execute(state, user_id, command, &metadata).await?;
    state.projections.wait_for(committed.cursor).await;
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM influencer_applications WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::NotFound)
}

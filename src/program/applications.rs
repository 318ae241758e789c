//! Applying to the program, and the admins' review of applications.

use aggregates::influencer::Channel;
use aggregates::user::Role;
use aggregates::values::{GENERATED_ALPHABET, GENERATED_LEN};
use aggregates::{InfluencerCommand, UserCommand};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use uuid::Uuid;

use super::execute;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Metadata;

/// How many generated codes approval tries before giving up. With 32^8
/// possible codes a single collision is already unlikely; several in a row
/// mean something else is wrong.
const CODE_ATTEMPTS: u32 = 8;

/// An application as its applicant and the admins see it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApplicationPage {
    pub items: Vec<Application>,
    pub page: u32,
    pub per_page: u32,
    pub total: i64,
}

/// The answer to a new application.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
    let row: Option<(Uuid, DateTime<Utc>)> = crate::store::on_either!(&state.db, pool => {
    sqlx::query_as(
            "SELECT id, submitted_at FROM influencer_applications
              WHERE user_id = $1 AND status = 'pending'",
        )
        .bind(user_id)
        .fetch_optional(pool)
    .await
    })?;
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
    Ok(crate::store::on_either!(&state.db, pool => {
    sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM influencer_applications WHERE user_id = $1
              ORDER BY submitted_at DESC, id"
        ))
        .bind(user_id)
        .fetch_all(pool)
    .await
    })?)
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
    let rows: Vec<Row> = crate::store::on_either!(&state.db, pool => {
    sqlx::query_as(&format!(
            "SELECT {COLUMNS}, count(*) OVER () AS total FROM influencer_applications
              WHERE status = $1 ORDER BY submitted_at, id LIMIT $2 OFFSET $3"
        ))
        .bind(status)
        .bind(i64::from(per_page))
        .bind(i64::from(page.saturating_sub(1)) * i64::from(per_page))
        .fetch_all(pool)
    .await
    })?;
    Ok(ApplicationPage {
        total: rows.first().map_or(0, |r| r.total),
        items: rows.into_iter().map(|r| r.application).collect(),
        page,
        per_page,
    })
}

/// An application's applicant and status, from the read model.
async fn decision(state: &AppState, id: Uuid) -> Result<(Uuid, String), AppError> {
    let row: Option<(Uuid, String)> = crate::store::on_either!(&state.db, pool => {
    sqlx::query_as("SELECT user_id, status FROM influencer_applications WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
    .await
    })?;
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
        (user_id, status) if status == "pending" => Ok(user_id),
        _ => Err(already_decided()),
    }
}

/// The answer to an approval.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
/// applicant was never granted the role grants it and answers like the
/// first approval. Otherwise a repeat is 409 `already_decided`; in
/// particular a role an admin revoked on purpose is not granted again.
pub async fn approve(state: &AppState, id: Uuid, metadata: Metadata) -> Result<Approved, AppError> {
    let (user_id, status) = decision(state, id).await?;
    if status == "rejected" {
        return Err(already_decided());
    }
    if status == "pending" {
        match issue_code(state, user_id, &metadata).await {
            Ok((code, cursor)) => {
                let cursor = grant_influencer_role(state, user_id, &metadata)
                    .await?
                    .or(cursor);
                state.projections.wait_for(cursor).await;
                return Ok(Approved {
                    influencer_id: user_id,
                    referral_code: code,
                });
            }
            // Decided after the read model was read, possibly by an
            // earlier try of this very approval: see below.
            Err(AppError::Conflict {
                code: "already_decided",
                ..
            }) => {}
            Err(other) => return Err(other),
        }
    }
    finish_approval(state, user_id, &metadata).await
}

/// Commits the approval with a fresh generated code; the code and where
/// the approval landed in the log.
async fn issue_code(
    state: &AppState,
    user_id: Uuid,
    metadata: &Metadata,
) -> Result<(String, Option<projections::Cursor>), AppError> {
    for _ in 0..CODE_ATTEMPTS {
        let command = InfluencerCommand::ApproveApplication {
            code: generate_code(),
            commission_rate: state.config.program.default_commission_rate,
            by: metadata.by(),
            at: state.config.program_clock.now(),
        };
        match execute(state, user_id, command, metadata).await {
            Err(AppError::CodeTaken) => continue,
            Err(other) => return Err(other),
            Ok(committed) => {
                let code = committed
                    .state
                    .generated_code
                    .as_ref()
                    .map(|c| c.as_str().to_owned())
                    .ok_or_else(|| {
                        AppError::internal(anyhow::anyhow!("approved without a code"))
                    })?;
                return Ok((code, committed.cursor));
            }
        }
    }
    Err(AppError::Contention)
}

/// The second half of an approval that stopped after the first: grants the
/// role if the applicant is an approved influencer who never had it.
async fn finish_approval(
    state: &AppState,
    user_id: Uuid,
    metadata: &Metadata,
) -> Result<Approved, AppError> {
    let (influencer, _) = state
        .influencers
        .load(&user_id.to_string())
        .await
        .map_err(AppError::internal)?;
    let Some(code) = influencer.generated_code else {
        return Err(already_decided());
    };
    if ever_granted_influencer_role(state, user_id).await? {
        return Err(already_decided());
    }
    let cursor = grant_influencer_role(state, user_id, metadata).await?;
    state.projections.wait_for(cursor).await;
    Ok(Approved {
        influencer_id: user_id,
        referral_code: code.as_str().to_owned(),
    })
}

/// Whether the user's stream has ever granted the `influencer` role (and
/// so the approval's second half once ran). Read only on a retry.
async fn ever_granted_influencer_role(state: &AppState, user_id: Uuid) -> Result<bool, AppError> {
    Ok(crate::store::on_either!(&state.db, pool => {
    sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM events
                 WHERE aggregate_type = 'user' AND aggregate_id = $1
                   AND event_type = 'identity.user.RoleGranted'
                   AND payload->'RoleGranted'->>'role' = $2)",
        )
        .bind(user_id.to_string())
        .bind(Role::Influencer.as_str())
        .fetch_one(pool)
    .await
    })?)
}

/// Grants the role (a no-op when it is held); the cursor of the grant, if
/// anything was written. Account events keep the system clock.
async fn grant_influencer_role(
    state: &AppState,
    user_id: Uuid,
    metadata: &Metadata,
) -> Result<Option<projections::Cursor>, AppError> {
    let command = UserCommand::GrantRole {
        role: Role::Influencer,
        by: metadata.by(),
        at: Utc::now(),
    };
    let committed = state
        .users
        .execute(&user_id.to_string(), command, metadata)
        .await?;
    Ok(committed.cursor)
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
        by: metadata.by(),
        at: state.config.program_clock.now(),
    };
    let committed = execute(state, user_id, command, &metadata).await?;
    state.projections.wait_for(committed.cursor).await;
    crate::store::on_either!(&state.db, pool => {
    sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM influencer_applications WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
    .await
    })?
    .ok_or(AppError::NotFound)
}

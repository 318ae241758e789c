//! Use cases of the influencer and referral program: applications and
//! their review, referral codes, and the admin controls on influencers.
//!
//! Every domain error is mapped here, once, to a stable problem code
//! ([`influencer_error`]); handlers never see `InfluencerError`.

pub mod applications;
pub mod conversions;
pub mod dashboard;
pub mod directory;
pub mod influencers;
pub mod referrals;

use aggregates::influencer::ApplicationProblem;
use aggregates::{Influencer, InfluencerCommand, InfluencerError};

use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::store::{CommandError, Committed, Metadata, Repository, StoredAggregate};

/// The problem an `Influencer` refusal is answered with.
///
/// Decisions where the issue is silent: a reapplication that comes too
/// early is 409 (like `application_pending`, it is about the state, not
/// the input), with the date it becomes possible in the detail; an
/// unverified applicant gets the existing 403 `email_not_verified`; acting
/// on someone who is not (yet) an influencer is 404.
pub fn influencer_error(error: InfluencerError) -> AppError {
    let conflict = |code: &'static str, error: &InfluencerError| AppError::Conflict {
        code,
        detail: error.to_string(),
    };
    match &error {
        InfluencerError::NotVerified => AppError::EmailNotVerified,
        InfluencerError::ApplicationPending => conflict("application_pending", &error),
        InfluencerError::AlreadyInfluencer => conflict("already_influencer", &error),
        InfluencerError::TooSoonToReapply { .. } => conflict("too_soon_to_reapply", &error),
        InfluencerError::AlreadyDecided => conflict("already_decided", &error),
        InfluencerError::Suspended => conflict("influencer_suspended", &error),
        InfluencerError::VanityCodeLimitReached { .. } => {
            conflict("vanity_code_limit_reached", &error)
        }
        InfluencerError::NotFound
        | InfluencerError::NotAnInfluencer
        | InfluencerError::UnknownCode => AppError::NotFound,
        InfluencerError::InvalidApplication(problem) => {
            let field = match problem {
                ApplicationProblem::DisplayName => "display_name",
                ApplicationProblem::NoChannels
                | ApplicationProblem::TooManyChannels
                | ApplicationProblem::Channel => "channels",
                ApplicationProblem::Pitch => "pitch",
            };
            AppError::Validation(vec![FieldError::new(field, "invalid", problem.to_string())])
        }
        InfluencerError::ReasonRequired => AppError::Validation(vec![FieldError::new(
            "reason",
            "required",
            error.to_string(),
        )]),
        InfluencerError::InvalidCode(problem) => AppError::Validation(vec![FieldError::new(
            "code",
            problem.code(),
            problem.to_string(),
        )]),
    }
}

/// Runs `command` on aggregate `id`, answering the aggregate's refusals
/// with `refusal` and everything else (contention, store) as usual.
async fn run<A>(
    repository: &Repository<A>,
    id: &str,
    command: A::Command,
    metadata: &Metadata,
    refusal: impl FnOnce(A::Error) -> AppError,
) -> Result<Committed<A>, AppError>
where
    A: StoredAggregate<Services = ()>,
    A::Command: Clone,
    A::Error: Send + Sync + 'static,
{
    repository
        .execute(id, command, metadata)
        .await
        .map_err(|error| match error {
            CommandError::Domain(error) => refusal(error),
            other => other.into(),
        })
}

/// Runs one command on influencer `id`, mapping refusals to problems.
pub async fn execute(
    state: &AppState,
    id: uuid::Uuid,
    command: InfluencerCommand,
    metadata: &Metadata,
) -> Result<Committed<Influencer>, AppError> {
    run(
        &state.influencers,
        &id.to_string(),
        command,
        metadata,
        influencer_error,
    )
    .await
}

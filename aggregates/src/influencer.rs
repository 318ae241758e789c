//! The `Influencer` aggregate: an application to the referral program and,
//! once approved, the influencer's referral codes, suspension and
//! commission rate.
//!
//! Stream id: the applicant's user id. The state is bounded: the
//! application text lives only in its event, and only active codes are kept
//! (one generated code plus at most [`ProgramPolicy::max_vanity_codes`]).
//! Codes are unique across influencers through the store's claims table;
//! this aggregate only sees its own codes.

mod aggregate;
mod commands;
mod events;
mod policy;
#[cfg(test)]
mod tests;

pub use aggregate::{Influencer, InfluencerStatus};
pub use commands::{Channel, InfluencerCommand};
pub use events::InfluencerEvent;
pub use policy::ProgramPolicy;

use chrono::{DateTime, Utc};

use crate::values::ReferralCodeError;

/// Why the `Influencer` aggregate refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfluencerError {
    #[error("only users with a verified email may apply")]
    NotVerified,
    #[error("an application is already waiting for a decision")]
    ApplicationPending,
    #[error("the user is already an influencer")]
    AlreadyInfluencer,
    #[error("a rejected applicant may apply again from {allowed_from}")]
    TooSoonToReapply { allowed_from: DateTime<Utc> },
    #[error("the application is incomplete: {0}")]
    InvalidApplication(ApplicationProblem),
    #[error("no application to decide")]
    NotFound,
    #[error("the application has already been decided")]
    AlreadyDecided,
    #[error("a reason is required")]
    ReasonRequired,
    #[error("the user is not an approved influencer")]
    NotAnInfluencer,
    #[error("the influencer is suspended")]
    Suspended,
    #[error("invalid referral code: {0}")]
    InvalidCode(ReferralCodeError),
    #[error("at most {max} vanity codes may be active")]
    VanityCodeLimitReached { max: usize },
    #[error("the influencer has no active code like that")]
    UnknownCode,
}

/// What is wrong with an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApplicationProblem {
    #[error("the display name must have 1 to 64 characters")]
    DisplayName,
    #[error("at least one channel is required")]
    NoChannels,
    #[error("at most 10 channels")]
    TooManyChannels,
    #[error("each channel needs a platform (up to 32 characters) and an http(s) url")]
    Channel,
    #[error("the pitch must have 1 to 2000 characters")]
    Pitch,
}

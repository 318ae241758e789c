//! Commands accepted by the `Influencer` aggregate.
//!
//! Codes being issued (`ApproveApplication`, `ClaimVanityCode`) arrive as
//! the raw string and are parsed here, because which codes are acceptable
//! (alphabet, reserved words) is a rule of the program and part of the
//! policy; a code being deactivated is already a [`ReferralCode`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ApplicationProblem, ProgramPolicy};
use crate::values::{CommissionRate, ReferralCode};

const MAX_DISPLAY_NAME: usize = 64;
const MAX_CHANNELS: usize = 10;
const MAX_PLATFORM: usize = 32;
const MAX_URL: usize = 2048;
const MAX_PITCH: usize = 2000;

/// Where an applicant publishes, as they declared it (unverified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub platform: String,
    pub url: String,
    pub audience_size: u64,
}

impl Channel {
    fn is_valid(&self) -> bool {
        let platform = self.platform.trim();
        !platform.is_empty()
            && platform.chars().count() <= MAX_PLATFORM
            && self.url.len() <= MAX_URL
            && (self.url.starts_with("https://") || self.url.starts_with("http://"))
    }
}

/// Checks the free-text parts of an application.
pub(super) fn check_application(
    display_name: &str,
    channels: &[Channel],
    pitch: &str,
) -> Result<(), ApplicationProblem> {
    let name_len = display_name.trim().chars().count();
    if name_len == 0 || name_len > MAX_DISPLAY_NAME {
        return Err(ApplicationProblem::DisplayName);
    }
    if channels.is_empty() {
        return Err(ApplicationProblem::NoChannels);
    }
    if channels.len() > MAX_CHANNELS {
        return Err(ApplicationProblem::TooManyChannels);
    }
    if !channels.iter().all(Channel::is_valid) {
        return Err(ApplicationProblem::Channel);
    }
    let pitch_len = pitch.trim().chars().count();
    if pitch_len == 0 || pitch_len > MAX_PITCH {
        return Err(ApplicationProblem::Pitch);
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub enum InfluencerCommand {
    /// A user applies. `user_verified` is the `User` aggregate's answer,
    /// read by the edge: only verified users may apply.
    SubmitApplication {
        user_id: Uuid,
        display_name: String,
        channels: Vec<Channel>,
        pitch: String,
        user_verified: bool,
        at: DateTime<Utc>,
        policy: ProgramPolicy,
    },
    /// An admin approves. `code` was generated at the edge (8 characters of
    /// the unambiguous alphabet) and claimed in the store;
    /// `commission_rate` is normally the policy's default.
    ApproveApplication {
        code: String,
        commission_rate: CommissionRate,
        by: String,
        at: DateTime<Utc>,
    },
    RejectApplication {
        reason: String,
        by: String,
        at: DateTime<Utc>,
    },
    /// The influencer (or an admin for them) adds a code of their choosing.
    ClaimVanityCode {
        code: String,
        by: String,
        at: DateTime<Utc>,
        policy: ProgramPolicy,
    },
    /// Any active code, generated or vanity, stops attributing for good.
    DeactivateCode {
        code: ReferralCode,
        by: String,
        at: DateTime<Utc>,
    },
    SuspendInfluencer {
        reason: String,
        by: String,
        at: DateTime<Utc>,
    },
    ReinstateInfluencer {
        by: String,
        at: DateTime<Utc>,
    },
    SetCommissionRate {
        commission_rate: CommissionRate,
        by: String,
        at: DateTime<Utc>,
    },
}

//! State and rules of one influencer (or applicant).

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::commands::check_application;
use super::{InfluencerCommand, InfluencerError, InfluencerEvent, ProgramPolicy};
use crate::values::{CommissionRate, ReferralCode};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfluencerStatus {
    /// Never applied.
    #[default]
    None,
    /// An application waits for an admin.
    Pending,
    /// The last application was rejected.
    Rejected,
    Active,
    Suspended,
}

/// The applicant or influencer. Bounded: only active codes are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Influencer {
    pub id: Option<Uuid>,
    pub status: InfluencerStatus,
    pub rejected_at: Option<DateTime<Utc>>,
    pub commission_rate: CommissionRate,
    /// The code issued at approval, while active.
    pub generated_code: Option<ReferralCode>,
    /// Active vanity codes, at most the policy's `max_vanity_codes`.
    pub vanity_codes: Vec<ReferralCode>,
}

impl Influencer {
    /// Whether the influencer's conversions earn commission now.
    pub fn is_active(&self) -> bool {
        self.status == InfluencerStatus::Active
    }

    /// Every code that is still active, generated first.
    pub fn active_codes(&self) -> impl Iterator<Item = &ReferralCode> {
        self.generated_code.iter().chain(&self.vanity_codes)
    }

    /// Whether a signup with `code` is attributed to this influencer now:
    /// the code is active and the influencer is not suspended.
    pub fn attributes(&self, code: &ReferralCode) -> bool {
        self.is_active() && self.has_code(code)
    }

    fn has_code(&self, code: &ReferralCode) -> bool {
        self.active_codes().any(|active| active.same_as(code))
    }

    fn ensure_influencer(&self) -> Result<(), InfluencerError> {
        match self.status {
            InfluencerStatus::Active | InfluencerStatus::Suspended => Ok(()),
            _ => Err(InfluencerError::NotAnInfluencer),
        }
    }

    fn ensure_active(&self) -> Result<(), InfluencerError> {
        self.ensure_influencer()?;
        if self.status == InfluencerStatus::Suspended {
            return Err(InfluencerError::Suspended);
        }
        Ok(())
    }

    fn ensure_may_apply(
        &self,
        user_verified: bool,
        at: DateTime<Utc>,
        policy: &ProgramPolicy,
    ) -> Result<(), InfluencerError> {
        match (self.status, self.rejected_at) {
            (InfluencerStatus::Pending, _) => return Err(InfluencerError::ApplicationPending),
            (InfluencerStatus::Active | InfluencerStatus::Suspended, _) => {
                return Err(InfluencerError::AlreadyInfluencer)
            }
            (InfluencerStatus::Rejected, Some(rejected_at)) => {
                let allowed_from = rejected_at + policy.reapply_after;
                if at < allowed_from {
                    return Err(InfluencerError::TooSoonToReapply { allowed_from });
                }
            }
            (InfluencerStatus::Rejected | InfluencerStatus::None, _) => {}
        }
        if !user_verified {
            return Err(InfluencerError::NotVerified);
        }
        Ok(())
    }

    fn ensure_pending(&self) -> Result<(), InfluencerError> {
        match self.status {
            InfluencerStatus::Pending => Ok(()),
            InfluencerStatus::None => Err(InfluencerError::NotFound),
            _ => Err(InfluencerError::AlreadyDecided),
        }
    }

    fn claim(
        &self,
        raw: &str,
        by: String,
        at: DateTime<Utc>,
        policy: &ProgramPolicy,
    ) -> Result<Vec<InfluencerEvent>, InfluencerError> {
        self.ensure_active()?;
        let code =
            ReferralCode::vanity(raw, &policy.vanity).map_err(InfluencerError::InvalidCode)?;
        if self.has_code(&code) {
            // A retry, or the same code in other case: nothing to change.
            return Ok(vec![]);
        }
        if self.vanity_codes.len() >= policy.max_vanity_codes {
            return Err(InfluencerError::VanityCodeLimitReached {
                max: policy.max_vanity_codes,
            });
        }
        Ok(vec![InfluencerEvent::VanityCodeClaimed { code, by, at }])
    }

    fn set_suspended(
        &self,
        suspend: Option<String>,
        by: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<InfluencerEvent>, InfluencerError> {
        self.ensure_influencer()?;
        Ok(match (self.status, suspend) {
            (_, Some(reason)) if reason.trim().is_empty() => {
                return Err(InfluencerError::ReasonRequired)
            }
            (InfluencerStatus::Active, Some(reason)) => {
                vec![InfluencerEvent::InfluencerSuspended { reason, by, at }]
            }
            (InfluencerStatus::Suspended, None) => {
                vec![InfluencerEvent::InfluencerReinstated { by, at }]
            }
            _ => vec![],
        })
    }

    fn decide(&self, command: InfluencerCommand) -> Result<Vec<InfluencerEvent>, InfluencerError> {
        match command {
            InfluencerCommand::SubmitApplication {
                user_id,
                display_name,
                channels,
                pitch,
                user_verified,
                at,
                policy,
            } => {
                self.ensure_may_apply(user_verified, at, &policy)?;
                check_application(&display_name, &channels, &pitch)
                    .map_err(InfluencerError::InvalidApplication)?;
                Ok(vec![InfluencerEvent::ApplicationSubmitted {
                    user_id,
                    display_name: display_name.trim().to_owned(),
                    channels,
                    pitch,
                    at,
                }])
            }
            InfluencerCommand::ApproveApplication {
                code,
                commission_rate,
                by,
                at,
            } => {
                self.ensure_pending()?;
                let code = ReferralCode::generated(&code).map_err(InfluencerError::InvalidCode)?;
                Ok(vec![InfluencerEvent::ApplicationApproved {
                    code,
                    commission_rate,
                    by,
                    at,
                }])
            }
            InfluencerCommand::RejectApplication { reason, by, at } => {
                self.ensure_pending()?;
                if reason.trim().is_empty() {
                    return Err(InfluencerError::ReasonRequired);
                }
                Ok(vec![InfluencerEvent::ApplicationRejected {
                    reason,
                    by,
                    at,
                }])
            }
            InfluencerCommand::ClaimVanityCode {
                code,
                by,
                at,
                policy,
            } => self.claim(&code, by, at, &policy),
            InfluencerCommand::DeactivateCode { code, by, at } => {
                self.ensure_influencer()?;
                let active = self.active_codes().find(|active| active.same_as(&code));
                let code = active.cloned().ok_or(InfluencerError::UnknownCode)?;
                Ok(vec![InfluencerEvent::ReferralCodeDeactivated {
                    code,
                    by,
                    at,
                }])
            }
            InfluencerCommand::SuspendInfluencer { reason, by, at } => {
                self.set_suspended(Some(reason), by, at)
            }
            InfluencerCommand::ReinstateInfluencer { by, at } => self.set_suspended(None, by, at),
            InfluencerCommand::SetCommissionRate {
                commission_rate,
                by,
                at,
            } => {
                self.ensure_influencer()?;
                if commission_rate == self.commission_rate {
                    return Ok(vec![]);
                }
                Ok(vec![InfluencerEvent::CommissionRateSet {
                    commission_rate,
                    by,
                    at,
                }])
            }
        }
    }
}

impl Aggregate for Influencer {
    const TYPE: &'static str = "influencer";
    type Command = InfluencerCommand;
    type Event = InfluencerEvent;
    type Error = InfluencerError;
    type Services = ();

    async fn handle(
        &mut self,
        command: InfluencerCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), InfluencerError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: InfluencerEvent) {
        match event {
            InfluencerEvent::ApplicationSubmitted { user_id, .. } => {
                self.id = Some(user_id);
                self.status = InfluencerStatus::Pending;
            }
            InfluencerEvent::ApplicationApproved {
                code,
                commission_rate,
                ..
            } => {
                self.status = InfluencerStatus::Active;
                self.commission_rate = commission_rate;
                self.generated_code = Some(code);
            }
            InfluencerEvent::ApplicationRejected { at, .. } => {
                self.status = InfluencerStatus::Rejected;
                self.rejected_at = Some(at);
            }
            InfluencerEvent::VanityCodeClaimed { code, .. } => self.vanity_codes.push(code),
            InfluencerEvent::ReferralCodeDeactivated { code, .. } => {
                if self
                    .generated_code
                    .as_ref()
                    .is_some_and(|g| g.same_as(&code))
                {
                    self.generated_code = None;
                }
                self.vanity_codes.retain(|v| !v.same_as(&code));
            }
            InfluencerEvent::InfluencerSuspended { .. } => {
                self.status = InfluencerStatus::Suspended;
            }
            InfluencerEvent::InfluencerReinstated { .. } => self.status = InfluencerStatus::Active,
            InfluencerEvent::CommissionRateSet {
                commission_rate, ..
            } => self.commission_rate = commission_rate,
        }
    }
}

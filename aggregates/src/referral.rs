//! The `Referral` aggregate: which influencer, through which code, brought
//! one user in, and whether that user went on to verify.
//!
//! Stream id: the referred user's id. A user is attributed once, at
//! signup, and for good: later codes, suspensions or rate changes never
//! move them to another influencer. The state is one attribution and one
//! timestamp, so it is bounded.

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::ReferralCode;

/// Who referred a user. Read by the edge from this aggregate and passed to
/// `RecordConversion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    pub influencer_id: Uuid,
    pub code: ReferralCode,
    pub signed_up_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub enum ReferralCommand {
    /// Link a newly registered user to the influencer owning `code`. The
    /// edge resolved the code through the store's claims and asked the
    /// `Influencer` aggregate whether it attributes now
    /// (`Influencer::attributes`): a deactivated code or a suspended
    /// influencer attributes nothing.
    AttributeSignup {
        user_id: Uuid,
        influencer_id: Uuid,
        code: ReferralCode,
        code_attributes: bool,
        signed_up_at: DateTime<Utc>,
    },
    /// The referred user verified their email.
    RecordVerifiedSignup { at: DateTime<Utc> },
}

/// Events of the `Referral` aggregate (`identity.referral.<Event>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReferralEvent {
    SignupAttributed {
        user_id: Uuid,
        influencer_id: Uuid,
        code: ReferralCode,
        signed_up_at: DateTime<Utc>,
    },
    /// Carries the attribution so that counting verified signups per
    /// influencer or code needs no join.
    VerifiedSignupRecorded {
        user_id: Uuid,
        influencer_id: Uuid,
        code: ReferralCode,
        at: DateTime<Utc>,
    },
}

impl ReferralEvent {
    /// Every event name, for subscribers and schema checks.
    pub const NAMES: &'static [&'static str] = &["SignupAttributed", "VerifiedSignupRecorded"];

    /// The bare event name, without namespace.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SignupAttributed { .. } => "SignupAttributed",
            Self::VerifiedSignupRecorded { .. } => "VerifiedSignupRecorded",
        }
    }
}

impl DomainEvent for ReferralEvent {
    fn event_type(&self) -> String {
        format!("{}.referral.{}", crate::EVENT_NAMESPACE, self.name())
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why the `Referral` aggregate refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferralError {
    #[error("the user is already attributed to an influencer")]
    AlreadyAttributed,
    #[error("the code does not attribute signups (deactivated, or its influencer is suspended)")]
    CodeNotAttributing,
    #[error("influencers cannot refer themselves")]
    SelfReferral,
    #[error("the user was not referred")]
    NotAttributed,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Referral {
    pub user_id: Option<Uuid>,
    pub attribution: Option<Attribution>,
    pub verified_at: Option<DateTime<Utc>>,
}

impl Referral {
    fn attribute(
        &self,
        user_id: Uuid,
        influencer_id: Uuid,
        code: ReferralCode,
        code_attributes: bool,
        signed_up_at: DateTime<Utc>,
    ) -> Result<Vec<ReferralEvent>, ReferralError> {
        if self.attribution.is_some() {
            return Err(ReferralError::AlreadyAttributed);
        }
        if !code_attributes {
            return Err(ReferralError::CodeNotAttributing);
        }
        if user_id == influencer_id {
            return Err(ReferralError::SelfReferral);
        }
        Ok(vec![ReferralEvent::SignupAttributed {
            user_id,
            influencer_id,
            code,
            signed_up_at,
        }])
    }

    fn verified(&self, at: DateTime<Utc>) -> Result<Vec<ReferralEvent>, ReferralError> {
        let (Some(user_id), Some(attribution)) = (self.user_id, &self.attribution) else {
            return Err(ReferralError::NotAttributed);
        };
        if self.verified_at.is_some() {
            // Counted once; a repeated verification changes nothing.
            return Ok(vec![]);
        }
        Ok(vec![ReferralEvent::VerifiedSignupRecorded {
            user_id,
            influencer_id: attribution.influencer_id,
            code: attribution.code.clone(),
            at,
        }])
    }

    fn decide(&self, command: ReferralCommand) -> Result<Vec<ReferralEvent>, ReferralError> {
        match command {
            ReferralCommand::AttributeSignup {
                user_id,
                influencer_id,
                code,
                code_attributes,
                signed_up_at,
            } => self.attribute(user_id, influencer_id, code, code_attributes, signed_up_at),
            ReferralCommand::RecordVerifiedSignup { at } => self.verified(at),
        }
    }
}

impl Aggregate for Referral {
    const TYPE: &'static str = "referral";
    type Command = ReferralCommand;
    type Event = ReferralEvent;
    type Error = ReferralError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ReferralCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ReferralError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ReferralEvent) {
        match event {
            ReferralEvent::SignupAttributed {
                user_id,
                influencer_id,
                code,
                signed_up_at,
            } => {
                self.user_id = Some(user_id);
                self.attribution = Some(Attribution {
                    influencer_id,
                    code,
                    signed_up_at,
                });
            }
            ReferralEvent::VerifiedSignupRecorded { at, .. } => self.verified_at = Some(at),
        }
    }
}

//! `influencer_applications`: applications to the influencer program, for
//! the admin review queue and the applicant's own list.

use aggregates::InfluencerEvent;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::projector::{aggregate_uuid, decode, Change, Projection, ProjectionError};
use crate::StoredEvent;

pub struct InfluencerApplications;

/// One write to `influencer_applications`.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplicationChange {
    Submitted {
        id: Uuid,
        user_id: Uuid,
        display_name: String,
        channels: Value,
        pitch: String,
        at: DateTime<Utc>,
    },
    /// Decides the user's pending application, if any.
    Decided {
        user_id: Uuid,
        status: &'static str,
        at: DateTime<Utc>,
        by: String,
        referral_code: Option<String>,
        reason: Option<String>,
    },
}

/// Namespace of application ids (a fixed random UUID; never change it, or
/// every application id changes on the next rebuild).
const APPLICATION_NAMESPACE: Uuid = Uuid::from_u128(0x6f0b_5d2e_93a4_4c1b_8a7e_1d2c_3b4a_5f60);

/// The id of the application submitted as event `sequence` of the
/// influencer stream `user_id`: deterministic, so a rebuild keeps ids.
pub fn application_id(user_id: Uuid, sequence: i64) -> Uuid {
    let mut name = user_id.as_bytes().to_vec();
    name.extend_from_slice(&sequence.to_be_bytes());
    Uuid::new_v5(&APPLICATION_NAMESPACE, &name)
}

impl Projection for InfluencerApplications {
    fn name(&self) -> &'static str {
        "influencer_applications"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["influencer_applications"]
    }

    fn changes(&self, event: &StoredEvent) -> Result<Vec<Change>, ProjectionError> {
        if event.aggregate_type != "influencer" {
            return Ok(vec![]);
        }
        let user_id = aggregate_uuid(event)?;
        let change = match decode::<InfluencerEvent>(event)? {
            InfluencerEvent::ApplicationSubmitted {
                display_name,
                channels,
                pitch,
                at,
                ..
            } => ApplicationChange::Submitted {
                id: application_id(user_id, event.sequence),
                user_id,
                display_name,
                channels: serde_json::to_value(&channels).map_err(|source| {
                    ProjectionError::Decode {
                        position: event.position,
                        source,
                    }
                })?,
                pitch,
                at,
            },
            InfluencerEvent::ApplicationApproved { code, by, at, .. } => {
                ApplicationChange::Decided {
                    user_id,
                    status: "approved",
                    at,
                    by,
                    referral_code: Some(code.as_str().to_owned()),
                    reason: None,
                }
            }
            InfluencerEvent::ApplicationRejected { reason, by, at } => ApplicationChange::Decided {
                user_id,
                status: "rejected",
                at,
                by,
                referral_code: None,
                reason: Some(reason),
            },
            _ => return Ok(vec![]),
        };
        Ok(vec![Change::Application(change)])
    }
}

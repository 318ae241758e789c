//! `influencer_applications`: applications to the influencer program, for
//! the admin review queue and the applicant's own list.

use aggregates::InfluencerEvent;
use async_trait::async_trait;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::projector::{aggregate_uuid, decode, Projection, ProjectionError};
use crate::StoredEvent;

pub struct InfluencerApplications;

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

#[async_trait]
impl Projection for InfluencerApplications {
    fn name(&self) -> &'static str {
        "influencer_applications"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["influencer_applications"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if event.aggregate_type != "influencer" {
            return Ok(());
        }
        let user_id = aggregate_uuid(event)?;
        match decode::<InfluencerEvent>(event)? {
            InfluencerEvent::ApplicationSubmitted {
                display_name,
                channels,
                pitch,
                at,
                ..
            } => {
                let channels =
                    serde_json::to_value(&channels).map_err(|source| ProjectionError::Decode {
                        position: event.position,
                        source,
                    })?;
                sqlx::query(
                    "INSERT INTO influencer_applications
                         (id, user_id, display_name, channels, pitch, status, submitted_at)
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
                )
                .bind(application_id(user_id, event.sequence))
                .bind(user_id)
                .bind(display_name)
                .bind(channels)
                .bind(pitch)
                .bind(at)
                .execute(conn)
                .await?;
            }
            InfluencerEvent::ApplicationApproved { code, by, at, .. } => {
                sqlx::query(
                    "UPDATE influencer_applications
                        SET status = 'approved', decided_at = $2, decided_by = $3, referral_code = $4
                      WHERE user_id = $1 AND status = 'pending'",
                )
                .bind(user_id)
                .bind(at)
                .bind(by)
                .bind(code.as_str())
                .execute(conn)
                .await?;
            }
            InfluencerEvent::ApplicationRejected { reason, by, at } => {
                sqlx::query(
                    "UPDATE influencer_applications
                        SET status = 'rejected', decided_at = $2, decided_by = $3, reason = $4
                      WHERE user_id = $1 AND status = 'pending'",
                )
                .bind(user_id)
                .bind(at)
                .bind(by)
                .bind(reason)
                .execute(conn)
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

//! `influencer_dashboard`: codes, referred users, conversions and ledger
//! balances per influencer, for `/influencer/me` (see the migration for
//! why the tables hold facts and are summed when read).

use aggregates::{ConversionEvent, InfluencerEvent, LedgerEvent, ReferralEvent};
use async_trait::async_trait;
use sqlx::PgConnection;

use crate::projector::{aggregate_uuid, decode, Projection, ProjectionError};
use crate::StoredEvent;

pub struct InfluencerDashboard;

#[async_trait]
impl Projection for InfluencerDashboard {
    fn name(&self) -> &'static str {
        "influencer_dashboard"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "influencer_profiles",
            "influencer_codes",
            "influencer_referrals",
            "influencer_conversions",
            "influencer_balances",
            "influencer_pending",
        ]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        match event.aggregate_type.as_str() {
            "influencer" => influencer(conn, event).await,
            "referral" => referral(conn, event).await,
            "conversion" => conversion(conn, event).await,
            "ledger" => ledger(conn, event).await,
            _ => Ok(()),
        }
    }
}

async fn influencer(conn: &mut PgConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
    let id = aggregate_uuid(event)?;
    let decoded = decode::<InfluencerEvent>(event)?;
    profile(conn, id, &decoded).await?;
    let (code, kind, at) = match decoded {
        InfluencerEvent::ApplicationApproved { code, at, .. } => (code, "generated", at),
        InfluencerEvent::VanityCodeClaimed { code, at, .. } => (code, "vanity", at),
        InfluencerEvent::ReferralCodeDeactivated { code, .. } => {
            sqlx::query(
                "UPDATE influencer_codes SET active = false
                  WHERE influencer_id = $1 AND normalized = $2",
            )
            .bind(id)
            .bind(code.normalized())
            .execute(conn)
            .await?;
            return Ok(());
        }
        _ => return Ok(()),
    };
    sqlx::query(
        "INSERT INTO influencer_codes (influencer_id, normalized, code, kind, active, claimed_at)
         VALUES ($1, $2, $3, $4, true, $5)",
    )
    .bind(id)
    .bind(code.normalized())
    .bind(code.as_str())
    .bind(kind)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps `influencer_profiles` in step with the program status.
async fn profile(
    conn: &mut PgConnection,
    id: uuid::Uuid,
    event: &InfluencerEvent,
) -> Result<(), ProjectionError> {
    let query = match event {
        InfluencerEvent::ApplicationSubmitted { display_name, .. } => sqlx::query(
            "INSERT INTO influencer_profiles (influencer_id, display_name, status)
             VALUES ($1, $2, 'pending')
             ON CONFLICT (influencer_id)
             DO UPDATE SET display_name = EXCLUDED.display_name, status = 'pending'",
        )
        .bind(id)
        .bind(display_name),
        InfluencerEvent::ApplicationApproved {
            commission_rate,
            at,
            ..
        } => sqlx::query(
            "UPDATE influencer_profiles
                SET status = 'active', commission_rate_bps = $2, approved_at = $3
              WHERE influencer_id = $1",
        )
        .bind(id)
        .bind(i64::from(commission_rate.bps()))
        .bind(at),
        InfluencerEvent::CommissionRateSet {
            commission_rate, ..
        } => sqlx::query(
            "UPDATE influencer_profiles SET commission_rate_bps = $2 WHERE influencer_id = $1",
        )
        .bind(id)
        .bind(i64::from(commission_rate.bps())),
        InfluencerEvent::ApplicationRejected { .. } => sqlx::query(
            "UPDATE influencer_profiles SET status = 'rejected' WHERE influencer_id = $1",
        )
        .bind(id),
        InfluencerEvent::InfluencerSuspended { .. } => sqlx::query(
            "UPDATE influencer_profiles SET status = 'suspended' WHERE influencer_id = $1",
        )
        .bind(id),
        InfluencerEvent::InfluencerReinstated { .. } => {
            sqlx::query("UPDATE influencer_profiles SET status = 'active' WHERE influencer_id = $1")
                .bind(id)
        }
        _ => return Ok(()),
    };
    query.execute(conn).await?;
    Ok(())
}

async fn referral(conn: &mut PgConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
    match decode::<ReferralEvent>(event)? {
        ReferralEvent::SignupAttributed {
            user_id,
            influencer_id,
            code,
            signed_up_at,
        } => {
            sqlx::query(
                "INSERT INTO influencer_referrals (user_id, influencer_id, normalized, signed_up_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(user_id)
            .bind(influencer_id)
            .bind(code.normalized())
            .bind(signed_up_at)
            .execute(conn)
            .await?;
        }
        ReferralEvent::VerifiedSignupRecorded { user_id, at, .. } => {
            sqlx::query("UPDATE influencer_referrals SET verified_at = $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(at)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

async fn conversion(conn: &mut PgConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
    match decode::<ConversionEvent>(event)? {
        ConversionEvent::ConversionRecorded {
            external_id,
            user_id,
            amount_minor,
            currency,
            occurred_at,
            influencer_id: Some(influencer_id),
            code: Some(code),
            commission_minor,
            ..
        } => {
            sqlx::query(
                "INSERT INTO influencer_conversions (external_id, influencer_id, user_id, normalized,
                     currency, amount_minor, commission_minor, occurred_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(external_id)
            .bind(influencer_id)
            .bind(user_id)
            .bind(code.normalized())
            .bind(currency.as_str())
            .bind(amount_minor)
            .bind(commission_minor)
            .bind(occurred_at)
            .execute(conn)
            .await?;
        }
        ConversionEvent::ConversionRefunded {
            external_id, at, ..
        } => {
            sqlx::query(
                "UPDATE influencer_conversions SET refunded_at = $2 WHERE external_id = $1",
            )
            .bind(external_id)
            .bind(at)
            .execute(conn)
            .await?;
        }
        ConversionEvent::ConversionRecorded { .. } => {}
    }
    Ok(())
}

async fn ledger(conn: &mut PgConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
    let id = aggregate_uuid(event)?;
    // (currency, change of available, change of paid, bucket change)
    let (currency, available, paid, bucket) = match decode::<LedgerEvent>(event)? {
        LedgerEvent::EarningsAccrued {
            currency,
            commission_minor,
            release_on,
            ..
        } => (currency, 0, 0, Some((release_on, commission_minor))),
        LedgerEvent::EarningsReleased {
            currency,
            amount_minor,
            through,
            ..
        } => {
            sqlx::query(
                "DELETE FROM influencer_pending
                  WHERE influencer_id = $1 AND currency = $2 AND release_on <= $3",
            )
            .bind(id)
            .bind(currency.as_str())
            .bind(through)
            .execute(&mut *conn)
            .await?;
            (currency, amount_minor, 0, None)
        }
        LedgerEvent::EarningsReversed {
            currency,
            from_pending_minor,
            from_available_minor,
            release_on,
            ..
        } => (
            currency,
            -from_available_minor,
            0,
            Some((release_on, -from_pending_minor)),
        ),
        LedgerEvent::PayoutRecorded {
            amount_minor,
            currency,
            ..
        } => (currency, -amount_minor, amount_minor, None),
    };
    if let Some((release_on, amount)) = bucket {
        sqlx::query(
            "INSERT INTO influencer_pending (influencer_id, currency, release_on, amount)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (influencer_id, currency, release_on)
             DO UPDATE SET amount = influencer_pending.amount + EXCLUDED.amount",
        )
        .bind(id)
        .bind(currency.as_str())
        .bind(release_on)
        .bind(amount)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "INSERT INTO influencer_balances (influencer_id, currency, available, paid)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (influencer_id, currency)
         DO UPDATE SET available = influencer_balances.available + EXCLUDED.available,
                       paid = influencer_balances.paid + EXCLUDED.paid",
    )
    .bind(id)
    .bind(currency.as_str())
    .bind(available)
    .bind(paid)
    .execute(conn)
    .await?;
    Ok(())
}

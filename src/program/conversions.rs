//! Conversions reported by other services, the commission they earn on
//! the influencer's ledger, refunds, and payouts.
//!
//! A conversion is recorded on its own stream (keyed by `external_id`,
//! which makes recording idempotent) and then accrued on the influencer's
//! `Ledger` under a `conversion_accrual` claim, so each conversion accrues
//! at most once. Recording and accruing are two commits: a repeat of the
//! same report (the provider's retry) finishes an accrual that a crash
//! interrupted, and the claim keeps concurrent repeats from accruing twice.
//! A refund reverses under a `conversion_reversal` claim in the same way.

use std::collections::BTreeMap;

use aggregates::conversion::ConversionStatus;
use aggregates::ledger::Balance;
use aggregates::values::Currency;
use aggregates::{Conversion, ConversionCommand, LedgerCommand};
use chrono::{DateTime, Utc};
use projections::Cursor;
use serde::Serialize;
use uuid::Uuid;

use super::referrals::attribution_of;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{ClaimKind, CommandError, Metadata};

/// A sale as the reporting service sent it, validated for shape.
#[derive(Debug, Clone)]
pub struct ReportedSale {
    pub external_id: String,
    pub user_id: Uuid,
    pub amount_minor: i64,
    pub currency: Currency,
    pub occurred_at: DateTime<Utc>,
}

/// A conversion and what it earned: the same answer for the first report
/// and every repeat.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversionView {
    pub external_id: String,
    pub user_id: Uuid,
    pub amount_minor: i64,
    #[schema(value_type = String)]
    pub currency: Currency,
    pub occurred_at: DateTime<Utc>,
    /// `recorded` or `refunded`.
    #[schema(value_type = String)]
    pub status: ConversionStatus,
    /// Set whenever the buyer was referred, even if nothing was earned.
    pub influencer_id: Option<Uuid>,
    pub commission_minor: i64,
    /// When the commission stops being pending.
    pub release_at: Option<DateTime<Utc>>,
}

impl ConversionView {
    fn of(conversion: &Conversion) -> Result<Self, AppError> {
        let sale = conversion
            .sale
            .clone()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("conversion without a sale")))?;
        Ok(Self {
            external_id: sale.external_id,
            user_id: sale.user_id,
            amount_minor: sale.amount_minor,
            currency: sale.currency,
            occurred_at: sale.occurred_at,
            status: conversion.status,
            influencer_id: conversion.influencer_id,
            commission_minor: conversion.commission_minor,
            release_at: conversion.release_at,
        })
    }
}

async fn execute_conversion(
    state: &AppState,
    external_id: &str,
    command: ConversionCommand,
    metadata: &Metadata,
) -> Result<crate::store::Committed<Conversion>, AppError> {
    Ok(state
        .conversions
        .execute(external_id, command, metadata)
        .await?)
}

/// Records a reported sale (or answers a repeat with the original result)
/// and accrues its commission. The second value is whether this call
/// recorded it (false for a repeat).
///
/// The buyer need not be a known account: a sale by someone who was never
/// referred is recorded and earns nothing, whoever they are.
pub async fn record(
    state: &AppState,
    sale: ReportedSale,
    metadata: Metadata,
) -> Result<(ConversionView, bool), AppError> {
    let attribution = attribution_of(state, sale.user_id).await?;
    let (influencer_active, rate) = match &attribution {
        Some(a) => {
            let (influencer, _) = state
                .influencers
                .load(&a.influencer_id.to_string())
                .await
                .map_err(AppError::internal)?;
            (influencer.is_active(), influencer.commission_rate)
        }
        None => (false, Default::default()),
    };
    let policy = &state.config.program;
    let command = ConversionCommand::RecordConversion {
        external_id: sale.external_id.clone(),
        user_id: sale.user_id,
        amount_minor: sale.amount_minor,
        currency: sale.currency,
        occurred_at: sale.occurred_at,
        attribution,
        influencer_active,
        rate_bps: rate,
        window: policy.attribution_window,
        hold: policy.hold,
        at: state.config.program_clock.now(),
    };
    let committed = execute_conversion(state, &sale.external_id, command, &metadata).await?;
    let created = !committed.events.is_empty();
    let accrued = accrue(state, &committed.state, created, &metadata).await?;
    state
        .projections
        .wait_for(accrued.or(committed.cursor))
        .await;
    Ok((ConversionView::of(&committed.state)?, created))
}

/// Whether `kind` is already claimed for `external_id`.
async fn claimed(state: &AppState, kind: ClaimKind, external_id: &str) -> Result<bool, AppError> {
    Ok(crate::store::on_either!(&state.db, pool => {
    sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM unique_claims WHERE kind = $1 AND value = $2)",
        )
        .bind(kind.as_str())
        .bind(external_id)
        .fetch_one(pool)
    .await
    })?)
}

/// Accrues a recorded conversion's commission once. Zero commissions
/// (not referred, outside the window, suspended, rounded down to 0) are
/// not accrued: the ledger refuses non-positive amounts anyway.
///
/// A conversion this call just `created` cannot have been accrued yet, so
/// only a repeat asks whether the accrual claim is taken (sparing the
/// ledger a load and a rolled-back commit); a concurrent repeat that gets
/// there first still loses nothing but the claim race, which is success.
async fn accrue(
    state: &AppState,
    conversion: &Conversion,
    created: bool,
    metadata: &Metadata,
) -> Result<Option<Cursor>, AppError> {
    let (Some(influencer_id), Some(sale), Some(release_at)) = (
        conversion.influencer_id,
        &conversion.sale,
        conversion.release_at,
    ) else {
        return Ok(None);
    };
    if conversion.status != ConversionStatus::Recorded
        || conversion.commission_minor <= 0
        || (!created && claimed(state, ClaimKind::ConversionAccrual, &sale.external_id).await?)
    {
        return Ok(None);
    }
    let command = LedgerCommand::Accrue {
        external_id: sale.external_id.clone(),
        currency: sale.currency,
        commission_minor: conversion.commission_minor,
        release_at,
        at: state.config.program_clock.now(),
    };
    ledger(state, influencer_id, command, metadata).await
}

/// Runs a ledger command; a lost claim means a concurrent request already
/// did the same, which is success.
async fn ledger(
    state: &AppState,
    influencer_id: Uuid,
    command: LedgerCommand,
    metadata: &Metadata,
) -> Result<Option<Cursor>, AppError> {
    match state
        .ledgers
        .execute(&influencer_id.to_string(), command, metadata)
        .await
    {
        Ok(committed) => Ok(committed.cursor),
        Err(CommandError::Claimed(
            ClaimKind::ConversionAccrual | ClaimKind::ConversionReversal,
        )) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// Refunds conversion `external_id` and takes its commission back. A
/// repeated refund answers the refunded conversion and reverses nothing
/// more; a commission that was never accrued is not reversed.
pub async fn refund(
    state: &AppState,
    external_id: &str,
    metadata: Metadata,
) -> Result<ConversionView, AppError> {
    let command = ConversionCommand::RefundConversion {
        at: state.config.program_clock.now(),
    };
    let committed = execute_conversion(state, external_id, command, &metadata).await?;
    let conversion = &committed.state;
    let mut cursor = committed.cursor;
    if let (Some(influencer_id), Some(sale), Some(release_at)) = (
        conversion.influencer_id,
        &conversion.sale,
        conversion.release_at,
    ) {
        let accrued = claimed(state, ClaimKind::ConversionAccrual, external_id).await?;
        let reversed = claimed(state, ClaimKind::ConversionReversal, external_id).await?;
        if conversion.commission_minor > 0 && accrued && !reversed {
            let command = LedgerCommand::Reverse {
                external_id: external_id.to_owned(),
                currency: sale.currency,
                commission_minor: conversion.commission_minor,
                release_at,
                at: state.config.program_clock.now(),
            };
            cursor = ledger(state, influencer_id, command, &metadata)
                .await?
                .or(cursor);
        }
    }
    state.projections.wait_for(cursor).await;
    ConversionView::of(conversion)
}

/// An influencer's balances per currency, after a payout.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Balances {
    pub influencer_id: Uuid,
    /// Per currency: `{pending, available, paid}` in minor units.
    #[schema(value_type = Object)]
    pub balances: BTreeMap<Currency, Balance>,
}

/// Records a payout of `amount_minor` to influencer `id`, never above the
/// available balance (409 `payout_exceeds_available`).
///
/// Idempotent on `reference`: a repeat with the same amount and currency
/// (among the ledger's latest payouts) records no second payout and answers
/// the balances; any other use of a reference is 409
/// `payout_reference_reused`.
pub async fn payout(
    state: &AppState,
    id: Uuid,
    amount_minor: i64,
    currency: Currency,
    reference: String,
    metadata: Metadata,
) -> Result<Balances, AppError> {
    let at = state.config.program_clock.now();
    let command = LedgerCommand::RecordPayout {
        amount_minor,
        currency,
        reference,
        by: metadata.by(),
        at,
    };
    let committed = state
        .ledgers
        .execute(&id.to_string(), command, &metadata)
        .await?;
    state.projections.wait_for(committed.cursor).await;
    Ok(Balances {
        influencer_id: id,
        balances: committed.state.balances(at),
    })
}

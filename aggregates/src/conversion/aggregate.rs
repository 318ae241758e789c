//! State and rules of one conversion.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ConversionCommand, ConversionError, ConversionEvent, NoCommissionReason};
use crate::referral::Attribution;
use crate::values::{CommissionRate, Currency, MAX_AMOUNT_MINOR};

const MAX_EXTERNAL_ID: usize = 255;
/// Oldest sale that may still be reported: payment providers retry their
/// notifications for days, not months, and an older date could only be
/// used to squeeze a late sale into an attribution window.
pub const MAX_SALE_AGE: Duration = Duration::days(30);
/// How far a reporting service's clock may run ahead of ours.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversionStatus {
    #[default]
    NotRecorded,
    Recorded,
    Refunded,
}

/// The sale as the payment provider reported it: what a repeated
/// `RecordConversion` must match to count as the same conversion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sale {
    pub external_id: String,
    pub user_id: Uuid,
    pub amount_minor: i64,
    pub currency: Currency,
    pub occurred_at: DateTime<Utc>,
}

/// One conversion: a sale and its commission. Bounded by construction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversion {
    pub status: ConversionStatus,
    pub sale: Option<Sale>,
    pub influencer_id: Option<Uuid>,
    pub commission_minor: i64,
    pub release_at: Option<DateTime<Utc>>,
}

/// What a sale earns: commission, the rate applied, or why nothing.
struct Earning {
    commission_minor: i64,
    rate: Option<CommissionRate>,
    no_commission_reason: Option<NoCommissionReason>,
}

impl Earning {
    fn nothing(reason: NoCommissionReason) -> Self {
        Self {
            commission_minor: 0,
            rate: None,
            no_commission_reason: Some(reason),
        }
    }
}

fn earning(
    amount_minor: i64,
    occurred_at: DateTime<Utc>,
    attribution: Option<&Attribution>,
    influencer_active: bool,
    rate: CommissionRate,
    window: Duration,
) -> Earning {
    let Some(attribution) = attribution else {
        return Earning::nothing(NoCommissionReason::NotReferred);
    };
    // The window includes its last instant: a sale exactly at
    // `signed_up_at + window` still earns.
    // A window too long to add stays open (no overflow, no panic).
    let closes = attribution.signed_up_at.checked_add_signed(window);
    if closes.is_some_and(|closes| occurred_at > closes) {
        return Earning::nothing(NoCommissionReason::OutsideAttributionWindow);
    }
    if !influencer_active {
        return Earning::nothing(NoCommissionReason::InfluencerSuspended);
    }
    Earning {
        commission_minor: rate.commission_on(amount_minor),
        rate: Some(rate),
        no_commission_reason: None,
    }
}

/// What a new sale is recorded under, besides the sale itself.
struct Terms {
    attribution: Option<Attribution>,
    influencer_active: bool,
    rate: CommissionRate,
    window: Duration,
    hold: Duration,
    at: DateTime<Utc>,
}

impl Conversion {
    fn record(&self, sale: Sale, terms: Terms) -> Result<Vec<ConversionEvent>, ConversionError> {
        let Terms {
            attribution,
            influencer_active,
            rate,
            window,
            hold,
            at,
        } = terms;
        if let Some(recorded) = &self.sale {
            // Idempotency: the same sale again is answered by what is
            // already recorded; another sale under this id is a mistake.
            return if *recorded == sale {
                Ok(vec![])
            } else {
                Err(ConversionError::ExternalIdReused)
            };
        }
        if sale.external_id.is_empty() || sale.external_id.chars().count() > MAX_EXTERNAL_ID {
            return Err(ConversionError::InvalidExternalId);
        }
        if !(1..=MAX_AMOUNT_MINOR).contains(&sale.amount_minor) {
            return Err(ConversionError::AmountOutOfRange);
        }
        // `at` is the service's clock, so these subtractions stay in range;
        // comparing (not adding to) the reported date cannot overflow.
        if sale.occurred_at < at - MAX_SALE_AGE || sale.occurred_at > at + MAX_CLOCK_SKEW {
            return Err(ConversionError::OccurredAtOutOfRange);
        }
        if attribution
            .as_ref()
            .is_some_and(|a| sale.occurred_at < a.signed_up_at)
        {
            return Err(ConversionError::OccurredBeforeSignup);
        }
        let earned = earning(
            sale.amount_minor,
            sale.occurred_at,
            attribution.as_ref(),
            influencer_active,
            rate,
            window,
        );
        Ok(vec![ConversionEvent::ConversionRecorded {
            release_at: at
                .checked_add_signed(hold)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            external_id: sale.external_id,
            user_id: sale.user_id,
            amount_minor: sale.amount_minor,
            currency: sale.currency,
            occurred_at: sale.occurred_at,
            influencer_id: attribution.as_ref().map(|a| a.influencer_id),
            code: attribution.map(|a| a.code),
            commission_rate: earned.rate,
            commission_minor: earned.commission_minor,
            no_commission_reason: earned.no_commission_reason,
        }])
    }

    fn refund(&self, at: DateTime<Utc>) -> Result<Vec<ConversionEvent>, ConversionError> {
        let (Some(sale), Some(release_at)) = (&self.sale, self.release_at) else {
            return Err(ConversionError::NotFound);
        };
        if self.status == ConversionStatus::Refunded {
            return Ok(vec![]);
        }
        Ok(vec![ConversionEvent::ConversionRefunded {
            external_id: sale.external_id.clone(),
            user_id: sale.user_id,
            amount_minor: sale.amount_minor,
            currency: sale.currency,
            influencer_id: self.influencer_id,
            commission_minor: self.commission_minor,
            release_at,
            at,
        }])
    }

    fn decide(&self, command: ConversionCommand) -> Result<Vec<ConversionEvent>, ConversionError> {
        match command {
            ConversionCommand::RecordConversion {
                external_id,
                user_id,
                amount_minor,
                currency,
                occurred_at,
                attribution,
                influencer_active,
                rate_bps,
                window,
                hold,
                at,
            } => {
                let sale = Sale {
                    external_id,
                    user_id,
                    amount_minor,
                    currency,
                    occurred_at,
                };
                let terms = Terms {
                    attribution,
                    influencer_active,
                    rate: rate_bps,
                    window,
                    hold,
                    at,
                };
                self.record(sale, terms)
            }
            ConversionCommand::RefundConversion { at } => self.refund(at),
        }
    }
}

impl Aggregate for Conversion {
    const TYPE: &'static str = "conversion";
    type Command = ConversionCommand;
    type Event = ConversionEvent;
    type Error = ConversionError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ConversionCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ConversionError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ConversionEvent) {
        match event {
            ConversionEvent::ConversionRecorded {
                external_id,
                user_id,
                amount_minor,
                currency,
                occurred_at,
                influencer_id,
                commission_minor,
                release_at,
                ..
            } => {
                self.status = ConversionStatus::Recorded;
                self.sale = Some(Sale {
                    external_id,
                    user_id,
                    amount_minor,
                    currency,
                    occurred_at,
                });
                self.influencer_id = influencer_id;
                self.commission_minor = commission_minor;
                self.release_at = Some(release_at);
            }
            ConversionEvent::ConversionRefunded { .. } => self.status = ConversionStatus::Refunded,
        }
    }
}

//! Commands accepted by the `Conversion` aggregate.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::referral::Attribution;
use crate::values::{CommissionRate, Currency};

#[derive(Debug, Clone)]
pub enum ConversionCommand {
    /// Record a sale. The edge fills in what it read elsewhere:
    /// `attribution` from the buyer's `Referral` (if any),
    /// `influencer_active` and `rate_bps` from the `Influencer`, `window`
    /// and `hold` from the `ProgramPolicy`.
    ///
    /// Recording again with the same sale (`user_id`, `amount_minor`,
    /// `currency`, `occurred_at`) writes nothing, whatever the other fields
    /// say now: the first answer stands.
    RecordConversion {
        external_id: String,
        user_id: Uuid,
        amount_minor: i64,
        currency: Currency,
        occurred_at: DateTime<Utc>,
        attribution: Option<Attribution>,
        influencer_active: bool,
        rate_bps: CommissionRate,
        /// Conversions later than `signed_up_at + window` earn nothing.
        window: Duration,
        /// Earnings stay pending until `at + hold`: the hold runs from
        /// when the sale was reported, so no `occurred_at` shortens it.
        hold: Duration,
        /// When the sale is recorded (the service's clock).
        at: DateTime<Utc>,
    },
    /// The sale was refunded in full; its commission is taken back.
    RefundConversion { at: DateTime<Utc> },
}

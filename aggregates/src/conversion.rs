//! The `Conversion` aggregate: one sale reported by the payment provider,
//! what commission it earned (if any), and its refund.
//!
//! Stream id: the provider's `external_id`. That makes recording
//! idempotent: a webhook delivered twice finds the stream already written,
//! answers with the original result and writes nothing, and the same id
//! arriving with another sale is refused (`ExternalIdReused`).
//!
//! The commission is decided once, when the conversion is recorded, from
//! facts the edge read (the buyer's `Referral`, the influencer's status and
//! rate) and is carried in the event, so the ledger and the projections
//! never recompute it.

mod aggregate;
mod commands;
mod events;
#[cfg(test)]
mod tests;

pub use aggregate::{Conversion, ConversionStatus, Sale, MAX_CLOCK_SKEW, MAX_SALE_AGE};
pub use commands::ConversionCommand;
pub use events::{ConversionEvent, NoCommissionReason};

/// Why the `Conversion` aggregate refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    #[error("the amount must be between 1 and 1000000000000 minor units")]
    AmountOutOfRange,
    #[error(
        "the sale must have occurred at most 30 days before it is reported, and not in the future"
    )]
    OccurredAtOutOfRange,
    #[error("the sale cannot have occurred before the buyer signed up")]
    OccurredBeforeSignup,
    #[error("the external id must have 1 to 255 characters")]
    InvalidExternalId,
    #[error("the external id was already used for another conversion")]
    ExternalIdReused,
    #[error("no such conversion")]
    NotFound,
}

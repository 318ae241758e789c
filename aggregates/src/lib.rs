//! The identity domain: aggregates, their commands and events, and the value
//! objects that make bad input unrepresentable.
//!
//! This crate does no IO. Clocks, random ids and password hashes arrive inside
//! commands, so `handle` is deterministic and `apply` is pure; that is what lets
//! the same events be replayed by projections, auditors and tests.

pub mod audit;
pub mod conversion;
pub mod influencer;
pub mod ledger;
pub mod referral;
pub mod session;
pub mod user;
pub mod values;

pub use audit::{Audit, AuditCommand, AuditError, AuditEvent};
pub use conversion::{Conversion, ConversionCommand, ConversionError, ConversionEvent};
pub use influencer::{Influencer, InfluencerCommand, InfluencerError, InfluencerEvent};
pub use ledger::{Ledger, LedgerCommand, LedgerError, LedgerEvent};
pub use referral::{Referral, ReferralCommand, ReferralError, ReferralEvent};
pub use session::{Session, SessionCommand, SessionError, SessionEvent};
pub use user::{User, UserCommand, UserError, UserEvent};

/// Prefix of every event type name. Event names are part of our public
/// contract (NATS subjects, audit history), so they never change; a payload
/// change bumps `event_version` instead.
pub const EVENT_NAMESPACE: &str = "identity";

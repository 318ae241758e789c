//! Uniqueness that spans aggregates (one account per email, per username).
//!
//! An event that takes a unique value declares a [`Claim`]; the repository
//! inserts the claim rows in the same transaction as the event. Two
//! concurrent registrations with one email both reach the insert; the second
//! waits for the first to commit, finds the row taken and rolls back, so
//! exactly one of them exists afterwards and nothing is left half-written.
//!
//! Claims are kept for good unless an event gives them up: a deactivated
//! referral code stays claimed by the influencer who held it, so a code
//! once printed in someone's video can never start attributing signups to
//! somebody else. Given up, in the same transaction as the event that gives
//! them up:
//! - released at once (`releases`): a phone number removed or replaced, an
//!   email address changed for another, an unlinked provider identity;
//! - held (`holds`): a username changed for another stays its account's
//!   until `held_until` (`IDENTITY_USERNAME_RESERVATION_DAYS`), so nobody
//!   can take it to pose as the person; the account itself may take it
//!   back meanwhile (the hold ends), anyone may take it after.

use aggregates::{
    Audit, Conversion, Influencer, InfluencerEvent, Ledger, LedgerEvent, Referral, Session, User,
    UserEvent,
};

use chrono::{DateTime, Utc};

use super::StoredAggregate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClaimKind {
    Email,
    Username,
    /// A referral code (generated or vanity), normalized to upper case, so
    /// codes are unique ignoring case across influencers. The claim's owner
    /// is the influencer's id: that is how a code presented at signup is
    /// resolved to its influencer.
    ReferralCode,
    /// A conversion's `external_id` accrued on an influencer's ledger: each
    /// conversion accrues at most once, however often it is reported.
    ConversionAccrual,
    /// A refunded conversion's `external_id` reversed on the ledger: each
    /// refund reverses at most once, so a retried refund can finish a
    /// reversal a crash interrupted without ever reversing twice.
    ConversionReversal,
    /// A payout's `reference` (the payment provider's id for the transfer),
    /// as given: one transfer is recorded as one payout, on one ledger.
    PayoutReference,
    /// A verified phone number (E.164). The one claim that is released: a
    /// number given up (removed, or replaced by another) is free for its
    /// next owner, as carriers reassign numbers.
    Phone,
    /// An identity at an OpenID provider, as `issuer` and `subject` joined
    /// by a space (neither holds one): one account per identity. Released
    /// when the identity is unlinked.
    ExternalIdentity,
}

impl ClaimKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Username => "username",
            Self::ReferralCode => "referral_code",
            Self::ConversionAccrual => "conversion_accrual",
            Self::ConversionReversal => "conversion_reversal",
            Self::PayoutReference => "payout_reference",
            Self::Phone => "phone",
            Self::ExternalIdentity => "external_identity",
        }
    }

    /// Whether a claim of this kind can be held after it is given up; a
    /// claim of these kinds first takes over an expired hold.
    pub fn can_be_held(self) -> bool {
        matches!(self, Self::Username)
    }

    /// Whether the claim may be taken only once even by its owner. Emails
    /// and codes may be claimed again by the aggregate holding them (a
    /// retried command); a conversion's accrual or reversal must happen
    /// once on its ledger, and a payout reference is paid once, so a second
    /// claim by the same ledger is refused.
    pub fn once_per_owner(self) -> bool {
        matches!(
            self,
            Self::ConversionAccrual | Self::ConversionReversal | Self::PayoutReference
        )
    }
}

/// A unique value an event takes for its aggregate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Claim {
    pub kind: ClaimKind,
    /// The normalized value (lower-cased; referral codes upper-cased).
    pub value: String,
}

/// Deletes a claim its owner gives up: `(kind, value, owner)`.
pub(super) const RELEASE: &str =
    "DELETE FROM unique_claims WHERE kind = $1 AND value = $2 AND owner_id = $3";

/// Keeps a claim its owner stops using until `$4`: `(kind, value, owner,
/// until)`.
pub(super) const HOLD: &str =
    "UPDATE unique_claims SET held_until = $4 WHERE kind = $1 AND value = $2 AND owner_id = $3";

/// Before a claim of a kind that [can be held](ClaimKind::can_be_held):
/// frees the value if its hold is over (`$3` is now), or if the claimant
/// `$4` holds it itself (taking it back makes it a claim for good again).
pub(super) const FREE_HOLD: &str = "DELETE FROM unique_claims
    WHERE kind = $1 AND value = $2 AND held_until IS NOT NULL
      AND (held_until <= $3 OR owner_id = $4)";

/// A claim its owner stopped using and keeps until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub claim: Claim,
    pub until: DateTime<Utc>,
}

fn username(name: &str) -> Claim {
    Claim {
        kind: ClaimKind::Username,
        value: name.to_ascii_lowercase(),
    }
}

fn email(address: &str) -> Claim {
    Claim {
        kind: ClaimKind::Email,
        value: address.to_owned(),
    }
}

impl StoredAggregate for User {
    const SCHEMA_VERSION: i32 = 1;

    fn claims(event: &UserEvent) -> Vec<Claim> {
        match event {
            UserEvent::UserRegistered {
                email: address,
                username: name,
                ..
            } => vec![email(address), username(name)],
            UserEvent::EmailChanged { new_email, .. } => vec![email(new_email)],
            UserEvent::UsernameChanged { username: name, .. } => vec![username(name)],
            UserEvent::PhoneVerified { phone, .. } => vec![Claim {
                kind: ClaimKind::Phone,
                value: phone.clone(),
            }],
            UserEvent::ExternalIdentityLinked {
                issuer, subject, ..
            } => vec![external_identity(issuer, subject)],
            _ => vec![],
        }
    }

    fn releases(event: &UserEvent) -> Vec<Claim> {
        match event {
            UserEvent::ExternalIdentityUnlinked {
                issuer, subject, ..
            } => return vec![external_identity(issuer, subject)],
            UserEvent::EmailChanged { old_email, .. } => return vec![email(old_email)],
            _ => {}
        }
        let given_up = match event {
            UserEvent::PhoneVerified { replaced, .. } => replaced,
            UserEvent::PhoneRemoved { phone, .. } => phone,
            _ => &None,
        };
        given_up
            .iter()
            .map(|phone| Claim {
                kind: ClaimKind::Phone,
                value: phone.clone(),
            })
            .collect()
    }

    fn holds(event: &UserEvent) -> Vec<Hold> {
        match event {
            // A change of case only keeps the one claim, unheld.
            UserEvent::UsernameChanged {
                old_username,
                username: new,
                old_reserved_until,
                ..
            } if !old_username.eq_ignore_ascii_case(new) => vec![Hold {
                claim: username(old_username),
                until: *old_reserved_until,
            }],
            _ => vec![],
        }
    }
}

/// The claim of the identity `subject` at `issuer`.
pub fn external_identity(issuer: &str, subject: &str) -> Claim {
    Claim {
        kind: ClaimKind::ExternalIdentity,
        value: format!("{issuer} {subject}"),
    }
}

impl StoredAggregate for Session {
    const SCHEMA_VERSION: i32 = 1;
}

impl StoredAggregate for Audit {
    const SCHEMA_VERSION: i32 = 1;
}

impl StoredAggregate for Influencer {
    const SCHEMA_VERSION: i32 = 1;

    fn claims(event: &InfluencerEvent) -> Vec<Claim> {
        match event {
            InfluencerEvent::ApplicationApproved { code, .. }
            | InfluencerEvent::VanityCodeClaimed { code, .. } => vec![Claim {
                kind: ClaimKind::ReferralCode,
                value: code.normalized(),
            }],
            _ => vec![],
        }
    }
}

impl StoredAggregate for Referral {
    const SCHEMA_VERSION: i32 = 1;
}

/// Idempotency of conversions needs no claim: the stream id is the
/// `external_id`, so a repeat finds the stream already written.
impl StoredAggregate for Conversion {
    const SCHEMA_VERSION: i32 = 1;
}

impl StoredAggregate for Ledger {
    /// 2: the ledger remembers its recent payouts.
    const SCHEMA_VERSION: i32 = 2;

    /// Accruals and reversals claim the conversion's `external_id`, so
    /// each happens at most once whatever the retries; payouts claim
    /// their reference.
    fn claims(event: &LedgerEvent) -> Vec<Claim> {
        match event {
            LedgerEvent::EarningsAccrued { external_id, .. } => vec![Claim {
                kind: ClaimKind::ConversionAccrual,
                value: external_id.clone(),
            }],
            LedgerEvent::EarningsReversed { external_id, .. } => vec![Claim {
                kind: ClaimKind::ConversionReversal,
                value: external_id.clone(),
            }],
            LedgerEvent::PayoutRecorded { reference, .. } => vec![Claim {
                kind: ClaimKind::PayoutReference,
                value: reference.clone(),
            }],
            _ => vec![],
        }
    }
}

impl super::Database {
    /// The stream that holds `value` of `kind`, if one does.
    pub async fn claim_owner(
        &self,
        kind: ClaimKind,
        value: &str,
    ) -> Result<Option<String>, super::StoreError> {
        Ok(super::on_either!(self, pool => {
            sqlx::query_scalar(
                "SELECT owner_id FROM unique_claims
                  WHERE kind = $1 AND value = $2 AND (held_until IS NULL OR held_until > $3)",
            )
                .bind(kind.as_str())
                .bind(value)
                .bind(Utc::now())
                .fetch_optional(pool)
                .await
        })?)
    }
}

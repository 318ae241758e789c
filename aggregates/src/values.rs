//! Value objects: parsed once at the edge, trusted everywhere after.
//!
//! Each type has a private field and a `parse` constructor, so a `Username`,
//! `Email` or `Password` in hand has already passed the rules.

mod commission_rate;
mod currency;
mod email;
mod password;
mod phone;
mod profile;
mod referral_code;
mod token_hash;
mod username;

pub use commission_rate::{CommissionRate, CommissionRateError};
pub use currency::{Currency, CurrencyError};
pub use email::{Email, EmailError};
pub use password::{Password, PasswordError, PasswordPolicy};
pub use phone::{Phone, PhoneError};
pub use profile::{DisplayName, Locale, ProfileError, MAX_DISPLAY_NAME};
pub use referral_code::{
    ReferralCode, ReferralCodeError, VanityCodePolicy, GENERATED_ALPHABET, GENERATED_LEN,
};
pub use token_hash::TokenHash;

/// The largest amount of money, in minor units, that one sale or payout may
/// carry: 10^12 (ten billion in a two-decimal currency). Far above any real
/// sale, and small enough that ten million of them still fit a signed 64-bit
/// total, so sums in the ledger and the read models cannot overflow.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;
pub use username::{Username, UsernameError, UsernamePolicy};

//! Value objects: parsed once at the edge, trusted everywhere after.
//!
//! Each type has a private field and a `parse` constructor, so a `Username`,
//! `Email` or `Password` in hand has already passed the rules.

mod commission_rate;
mod currency;
mod email;
mod password;
mod referral_code;
mod token_hash;
mod username;

pub use commission_rate::{CommissionRate, CommissionRateError};
pub use currency::{Currency, CurrencyError};
pub use email::{Email, EmailError};
pub use password::{Password, PasswordError, PasswordPolicy};
pub use referral_code::{
    ReferralCode, ReferralCodeError, VanityCodePolicy, GENERATED_ALPHABET, GENERATED_LEN,
};
pub use token_hash::TokenHash;
pub use username::{Username, UsernameError, UsernamePolicy};

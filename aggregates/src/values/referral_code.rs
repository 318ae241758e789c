//! A referral code: issued ones are 8 characters from an unambiguous
//! alphabet, vanity ones are 4-20 of `[A-Za-z0-9_-]` and not a reserved word.
//!
//! Codes are unique ignoring case. The code keeps the case it was claimed
//! with (for display); uniqueness and lookup use [`ReferralCode::normalized`].
//! Uniqueness across influencers is the store's job (a claims table keyed by
//! the normalized code), not this type's.

use serde::{Deserialize, Serialize};

/// Characters of generated codes: no `0`/`O` and no `1`/`I`, which readers
/// confuse when a code is read aloud or copied from a video.
pub const GENERATED_ALPHABET: &str = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Length of generated codes.
pub const GENERATED_LEN: usize = 8;

/// Words nobody may claim as a vanity code (compared ignoring case): they
/// would let a code pass for the service itself.
pub const DEFAULT_RESERVED: &[&str] = &[
    "admin", "support", "help", "root", "system", "api", "identity", "official", "staff", "null",
];

/// Rules for vanity codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VanityCodePolicy {
    pub min_len: usize,
    pub max_len: usize,
    /// Compared ignoring case.
    pub reserved: Vec<String>,
}

impl Default for VanityCodePolicy {
    fn default() -> Self {
        Self {
            min_len: 4,
            max_len: 20,
            reserved: DEFAULT_RESERVED.iter().map(|w| (*w).to_owned()).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReferralCodeError {
    #[error("referral code has the wrong length")]
    WrongLength,
    #[error("referral code contains characters outside its alphabet")]
    InvalidCharacters,
    #[error("referral code is a reserved word")]
    Reserved,
}

impl ReferralCodeError {
    /// Stable machine-readable code for API clients.
    pub fn code(self) -> &'static str {
        match self {
            Self::WrongLength => "wrong_length",
            Self::InvalidCharacters => "invalid_characters",
            Self::Reserved => "reserved",
        }
    }
}

/// Longest and shortest code of any kind, for [`ReferralCode::parse`].
const ANY_MIN_LEN: usize = 4;
const ANY_MAX_LEN: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReferralCode(String);

impl ReferralCode {
    /// A code generated at the edge: exactly [`GENERATED_LEN`] characters
    /// of [`GENERATED_ALPHABET`], upper-case as generated.
    pub fn generated(raw: &str) -> Result<Self, ReferralCodeError> {
        if !raw.chars().all(|c| GENERATED_ALPHABET.contains(c)) {
            return Err(ReferralCodeError::InvalidCharacters);
        }
        // ASCII only past this point, so bytes == characters.
        if raw.len() != GENERATED_LEN {
            return Err(ReferralCodeError::WrongLength);
        }
        Ok(Self(raw.to_owned()))
    }

    /// A code an influencer chose. Case is kept for display.
    pub fn vanity(raw: &str, policy: &VanityCodePolicy) -> Result<Self, ReferralCodeError> {
        let code = Self::shaped(raw, policy.min_len, policy.max_len)?;
        if policy
            .reserved
            .iter()
            .any(|word| word.eq_ignore_ascii_case(raw))
        {
            return Err(ReferralCodeError::Reserved);
        }
        Ok(code)
    }

    /// A code as presented by someone signing up, for lookup: any string
    /// that could have been issued (4-20 of `[A-Za-z0-9_-]`). Whether it
    /// was issued, and to whom, is the store's answer.
    pub fn parse(raw: &str) -> Result<Self, ReferralCodeError> {
        Self::shaped(raw.trim(), ANY_MIN_LEN, ANY_MAX_LEN)
    }

    fn shaped(raw: &str, min_len: usize, max_len: usize) -> Result<Self, ReferralCodeError> {
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ReferralCodeError::InvalidCharacters);
        }
        if raw.len() < min_len || raw.len() > max_len {
            return Err(ReferralCodeError::WrongLength);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and lookup: upper-case.
    pub fn normalized(&self) -> String {
        self.0.to_ascii_uppercase()
    }

    /// Whether both are the same code, ignoring case.
    pub fn same_as(&self, other: &ReferralCode) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl std::fmt::Display for ReferralCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_code_uses_only_the_unambiguous_alphabet() {
        assert!(ReferralCode::generated("23456789").is_ok());
        assert!(ReferralCode::generated("ABCDEFGH").is_ok());
        for bad in [
            "ABCDEFG0", "ABCDEFGO", "ABCDEFG1", "ABCDEFGI", "abcdefgh", "ABCD-FGH",
        ] {
            assert_eq!(
                ReferralCode::generated(bad),
                Err(ReferralCodeError::InvalidCharacters),
                "{bad:?}"
            );
        }
        assert_eq!(
            ReferralCode::generated("ABCDEFG"),
            Err(ReferralCodeError::WrongLength)
        );
        assert_eq!(
            ReferralCode::generated("ABCDEFGHJ"),
            Err(ReferralCodeError::WrongLength)
        );
    }

    #[test]
    fn vanity_code_keeps_case_but_normalizes_to_upper_case() {
        let code = ReferralCode::vanity("Ada_Codes-1", &VanityCodePolicy::default()).unwrap();
        assert_eq!(code.as_str(), "Ada_Codes-1");
        assert_eq!(code.normalized(), "ADA_CODES-1");
        let shouted = ReferralCode::vanity("ADA_CODES-1", &VanityCodePolicy::default()).unwrap();
        assert!(code.same_as(&shouted));
    }

    #[test]
    fn vanity_code_rules_are_enforced() {
        let policy = VanityCodePolicy::default();
        assert_eq!(
            ReferralCode::vanity("abc", &policy),
            Err(ReferralCodeError::WrongLength)
        );
        assert_eq!(
            ReferralCode::vanity(&"a".repeat(21), &policy),
            Err(ReferralCodeError::WrongLength)
        );
        assert!(ReferralCode::vanity(&"a".repeat(20), &policy).is_ok());
        assert!(ReferralCode::vanity("abcd", &policy).is_ok());
        for bad in ["ada lovelace", "adä1", "ada!", "ada.codes"] {
            assert_eq!(
                ReferralCode::vanity(bad, &policy),
                Err(ReferralCodeError::InvalidCharacters),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn vanity_code_refuses_reserved_words_in_any_case() {
        let policy = VanityCodePolicy::default();
        for word in DEFAULT_RESERVED.iter().filter(|w| w.len() >= 4) {
            assert_eq!(
                ReferralCode::vanity(&word.to_ascii_uppercase(), &policy),
                Err(ReferralCodeError::Reserved),
                "{word:?}"
            );
        }
        assert!(ReferralCode::vanity("admins", &policy).is_ok());
    }

    #[test]
    fn parse_accepts_any_issuable_shape_for_lookup() {
        assert!(ReferralCode::parse(" ABCDEFGH ").is_ok());
        assert!(ReferralCode::parse("ada_codes").is_ok());
        assert!(ReferralCode::parse("a b c d").is_err());
        assert!(ReferralCode::parse("abc").is_err());
    }
}

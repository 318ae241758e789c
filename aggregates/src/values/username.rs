//! A username: 3-32 of `[A-Za-z0-9_]` by default, unique ignoring case.

use serde::{Deserialize, Serialize};

/// Length bounds for usernames; the alphabet is fixed because usernames
/// appear in URLs and mentions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsernamePolicy {
    pub min_len: usize,
    pub max_len: usize,
}

impl Default for UsernamePolicy {
    fn default() -> Self {
        Self {
            min_len: 3,
            max_len: 32,
        }
    }
}

/// A username as the user typed it (case kept for display); compare with
/// [`Username::normalized`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("username is too short")]
    TooShort,
    #[error("username is too long")]
    TooLong,
    #[error("username may contain only letters, digits and underscores")]
    InvalidCharacters,
}

impl UsernameError {
    pub fn code(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::InvalidCharacters => "invalid_characters",
        }
    }
}

impl Username {
    pub fn parse(raw: &str, policy: &UsernamePolicy) -> Result<Self, UsernameError> {
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(UsernameError::InvalidCharacters);
        }
        // ASCII only past this point, so bytes == characters.
        if raw.len() < policy.min_len {
            return Err(UsernameError::TooShort);
        }
        if raw.len() > policy.max_len {
            return Err(UsernameError::TooLong);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and lookup.
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_keeps_case_but_normalizes_for_lookup() {
        let name = Username::parse("Ada_99", &UsernamePolicy::default()).unwrap();
        assert_eq!(name.as_str(), "Ada_99");
        assert_eq!(name.normalized(), "ada_99");
    }

    #[test]
    fn username_rules_are_enforced() {
        let policy = UsernamePolicy::default();
        assert_eq!(Username::parse("ab", &policy), Err(UsernameError::TooShort));
        assert_eq!(
            Username::parse(&"a".repeat(33), &policy),
            Err(UsernameError::TooLong)
        );
        assert_eq!(
            Username::parse("ada lovelace", &policy),
            Err(UsernameError::InvalidCharacters)
        );
        assert_eq!(
            Username::parse("adä", &policy),
            Err(UsernameError::InvalidCharacters)
        );
        assert!(Username::parse(&"a".repeat(32), &policy).is_ok());
    }
}

//! What a person says about themselves: a display name and a locale.

use serde::{Deserialize, Serialize};

/// A name to show, 1 to 64 characters, no control characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName(String);

/// A BCP 47 language tag (RFC 5646), well-formed, as given (`de-CH`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locale(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("must be 1 to 64 characters")]
    Length,
    #[error("must not contain control characters")]
    ControlCharacters,
    #[error("must be a BCP 47 language tag such as en or de-CH")]
    NotALanguageTag,
}

impl ProfileError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Length => "length",
            Self::ControlCharacters => "control_characters",
            Self::NotALanguageTag => "not_a_language_tag",
        }
    }
}

pub const MAX_DISPLAY_NAME: usize = 64;

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, ProfileError> {
        let name = raw.trim();
        if name.chars().any(char::is_control) {
            return Err(ProfileError::ControlCharacters);
        }
        let count = name.chars().count();
        if count == 0 || count > MAX_DISPLAY_NAME {
            return Err(ProfileError::Length);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Locale {
    pub fn parse(raw: &str) -> Result<Self, ProfileError> {
        let tag = raw.trim();
        // Private-use-only and grandfathered tags are well-formed but name
        // no language a person reads.
        let lower = tag.to_ascii_lowercase();
        let names_a_language = !lower.starts_with("x-") && !lower.starts_with("i-");
        match language_tags::LanguageTag::parse(tag) {
            Ok(_) if names_a_language && tag.len() <= 35 => Ok(Self(tag.to_owned())),
            _ => Err(ProfileError::NotALanguageTag),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_display_name_is_trimmed_and_kept_within_its_rules() {
        assert_eq!(DisplayName::parse("  Ada L.  ").unwrap().as_str(), "Ada L.");
        assert_eq!(DisplayName::parse("Zoë 🦀").unwrap().as_str(), "Zoë 🦀");
        assert_eq!(DisplayName::parse("   "), Err(ProfileError::Length));
        assert_eq!(
            DisplayName::parse(&"x".repeat(65)),
            Err(ProfileError::Length)
        );
        assert!(
            DisplayName::parse(&"é".repeat(64)).is_ok(),
            "characters, not bytes"
        );
        assert_eq!(
            DisplayName::parse("Ada\u{0}"),
            Err(ProfileError::ControlCharacters)
        );
        assert_eq!(
            DisplayName::parse("Ada\nLovelace"),
            Err(ProfileError::ControlCharacters)
        );
    }

    #[test]
    fn a_locale_is_a_well_formed_bcp_47_tag() {
        for good in ["en", "de-CH", "zh-Hant-TW", "es-419", "sr-Latn"] {
            assert_eq!(Locale::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "englishes", "en_US", "de-", "x-private", "1234"] {
            assert_eq!(
                Locale::parse(bad),
                Err(ProfileError::NotALanguageTag),
                "{bad}"
            );
        }
    }
}

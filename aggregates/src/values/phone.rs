//! A phone number in E.164 (`+4915123456789`), parsed and checked against
//! libphonenumber's metadata (the `phonenumber` crate). Numbers are given
//! in international form, with their country code: the service has no
//! region to guess one from.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("not a phone number in international form (+ and the country code)")]
    Unparsable,
    #[error("not a valid number for its country")]
    Invalid,
}

impl PhoneError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Unparsable => "invalid_format",
            Self::Invalid => "invalid_number",
        }
    }
}

/// A valid phone number, normalized to E.164.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        let trimmed = raw.trim();
        if !trimmed.starts_with('+') {
            return Err(PhoneError::Unparsable);
        }
        let number = phonenumber::parse(None, trimmed).map_err(|_| PhoneError::Unparsable)?;
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::Invalid);
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_normalized_to_e164() {
        let phone = Phone::parse(" +49 151 2345 6789 ").unwrap();
        assert_eq!(phone.as_str(), "+4915123456789");
        assert_eq!(
            Phone::parse("+1 (415) 555-2671").unwrap().as_str(),
            "+14155552671"
        );
    }

    #[test]
    fn a_number_without_country_code_or_not_valid_is_refused() {
        assert_eq!(Phone::parse("0151 23456789"), Err(PhoneError::Unparsable));
        assert_eq!(Phone::parse("+abc"), Err(PhoneError::Unparsable));
        assert_eq!(Phone::parse("+49 12"), Err(PhoneError::Invalid));
    }
}

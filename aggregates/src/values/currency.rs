//! An ISO 4217 currency code: three ASCII letters, stored upper-case.
//!
//! Only the shape is checked; whether the code is a currency we actually
//! take payments in is the payment provider's (and the edge's) business.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("currency must be three letters (ISO 4217)")]
pub struct CurrencyError;

impl CurrencyError {
    /// Stable machine-readable code for API clients.
    pub fn code(self) -> &'static str {
        "invalid_currency"
    }
}

impl Currency {
    /// Accepts three ASCII letters in any case (payment providers send
    /// `usd` as often as `USD`) and stores them upper-case.
    pub fn parse(raw: &str) -> Result<Self, CurrencyError> {
        match raw.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_alphabetic) => Ok(Self([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ])),
            _ => Err(CurrencyError),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored, so this is always valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;

    fn try_from(raw: String) -> Result<Self, CurrencyError> {
        Self::parse(&raw)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.as_str().to_owned()
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_is_three_letters_stored_upper_case() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        assert_eq!(Currency::parse("usd").unwrap().as_str(), "USD");
        for bad in ["", "EU", "EURO", "E1R", "€UR", " EUR"] {
            assert_eq!(Currency::parse(bad), Err(CurrencyError), "{bad:?}");
        }
    }

    #[test]
    fn currency_serializes_as_a_string_and_validates_when_read() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(serde_json::to_string(&eur).unwrap(), "\"EUR\"");
        assert_eq!(serde_json::from_str::<Currency>("\"eur\"").unwrap(), eur);
        assert!(serde_json::from_str::<Currency>("\"EU\"").is_err());
    }
}

//! The hash of a secret token (refresh token), hex encoded. Aggregates and
//! events only ever see these, never the token itself.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    /// Wraps an already computed digest (hex). Hashing lives at the edge so
    /// this crate stays free of crypto dependencies.
    pub fn from_hex(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

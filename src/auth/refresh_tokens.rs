//! Refresh tokens: opaque to clients, stored only as SHA-256 hashes.
//!
//! A token is `base64url(session id (16 bytes) || 32 secret bytes)`. The
//! session id lets us load the one aggregate that can know the token; the 256
//! secret bits are what proves possession. The first token of a session is
//! random; each successor is HMAC-SHA256(derived server key, token), so a
//! token presented twice within the grace window maps to the same successor
//! and racing tabs end up with one token, while nothing but hashes is stored.
//! Without the server secret a successor is as unpredictable as a random
//! token.

use aggregates::values::TokenHash;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

const SECRET_LEN: usize = 32;
const TOKEN_LEN: usize = 16 + SECRET_LEN;

#[derive(Clone)]
pub struct RefreshToken(Zeroizing<[u8; TOKEN_LEN]>);

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

impl RefreshToken {
    /// A fresh random token for a new session.
    pub fn generate(session: Uuid) -> Self {
        let mut bytes = Zeroizing::new([0u8; TOKEN_LEN]);
        bytes[..16].copy_from_slice(session.as_bytes());
        rand::rngs::OsRng.fill_bytes(&mut bytes[16..]);
        Self(bytes)
    }

    /// Parses what a client sent; `None` for anything that is not a token.
    pub fn parse(raw: &str) -> Option<Self> {
        let decoded = Zeroizing::new(URL_SAFE_NO_PAD.decode(raw.trim()).ok()?);
        let bytes: [u8; TOKEN_LEN] = decoded.as_slice().try_into().ok()?;
        Some(Self(Zeroizing::new(bytes)))
    }

    pub fn session_id(&self) -> Uuid {
        let mut id = [0u8; 16];
        id.copy_from_slice(&self.0[..16]);
        Uuid::from_bytes(id)
    }

    /// The deterministic successor of this token (see the module docs).
    pub fn successor(&self, key: &[u8; 32]) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(&self.0[..]);
        let digest = mac.finalize().into_bytes();
        let mut bytes = Zeroizing::new([0u8; TOKEN_LEN]);
        bytes[..16].copy_from_slice(&self.0[..16]);
        bytes[16..].copy_from_slice(&digest[..SECRET_LEN]);
        Self(bytes)
    }

    /// What the store keeps: SHA-256 of the whole token, hex.
    pub fn hash(&self) -> TokenHash {
        TokenHash::from_hex(hex::encode(Sha256::digest(&self.0[..])))
    }

    /// The string handed to the client.
    pub fn expose(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_and_names_its_session() {
        let session = Uuid::now_v7();
        let token = RefreshToken::generate(session);
        let parsed = RefreshToken::parse(&token.expose()).unwrap();
        assert_eq!(parsed.session_id(), session);
        assert_eq!(parsed.hash(), token.hash());
    }

    #[test]
    fn successor_is_deterministic_and_differs_from_its_parent() {
        let token = RefreshToken::generate(Uuid::now_v7());
        let key = [7u8; 32];
        assert_eq!(token.successor(&key).hash(), token.successor(&key).hash());
        assert_ne!(token.successor(&key).hash(), token.hash());
        assert_ne!(
            token.successor(&key).hash(),
            token.successor(&[8u8; 32]).hash()
        );
        assert_eq!(token.successor(&key).session_id(), token.session_id());
    }

    #[test]
    fn garbage_is_not_a_token() {
        assert!(RefreshToken::parse("not a token").is_none());
        assert!(RefreshToken::parse("").is_none());
        assert!(RefreshToken::parse(&URL_SAFE_NO_PAD.encode([1u8; 20])).is_none());
    }
}

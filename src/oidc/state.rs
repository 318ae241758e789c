//! The `state` of a web sign-in, carried by the browser through the
//! provider and back: sealed (XChaCha20-Poly1305 under a key derived from
//! the server secret), so nobody can read its PKCE verifier and nonce or
//! forge one, and single use (its id is a one-time token in the codes
//! table, taken at the callback). It expires after [`STATE_TTL`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

/// How long a started web sign-in may take.
pub const STATE_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// What the callback needs to finish what the start began.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowState {
    /// The one-time token's subject and value (single use).
    pub id: Uuid,
    pub token: String,
    pub provider: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The client's page to return to (checked against the allowlist).
    pub redirect_uri: String,
    /// Set when a signed-in person links an identity to their account.
    pub link_to: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct StateSealer {
    key: Zeroizing<[u8; 32]>,
}

impl StateSealer {
    pub fn new(key: Zeroizing<[u8; 32]>) -> Self {
        Self { key }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.key).into())
    }

    pub fn seal(&self, state: &FlowState) -> String {
        // Strings, a UUID and a timestamp always serialize.
        let plain = Zeroizing::new(serde_json::to_vec(state).unwrap_or_default());
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: &plain,
            aad: b"identity/oidc-state/v1",
        };
        // Encryption of a message this small cannot fail; an empty
        // ciphertext would simply never open.
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        URL_SAFE_NO_PAD.encode([nonce.as_slice(), &sealed].concat())
    }

    /// The state `sealed` holds, if it is one of ours and not expired.
    pub fn open(&self, sealed: &str, now: DateTime<Utc>) -> Option<FlowState> {
        let raw = URL_SAFE_NO_PAD.decode(sealed.trim()).ok()?;
        if raw.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = raw.split_at(24);
        let payload = Payload {
            msg: ciphertext,
            aad: b"identity/oidc-state/v1",
        };
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(XNonce::from_slice(nonce), payload)
                .ok()?,
        );
        let state: FlowState = serde_json::from_slice(&plain).ok()?;
        (state.expires_at > now).then_some(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(expires_at: DateTime<Utc>) -> FlowState {
        FlowState {
            id: Uuid::from_u128(1),
            token: "t".into(),
            provider: "google".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            redirect_uri: "https://app.example/cb".into(),
            link_to: None,
            expires_at,
        }
    }

    #[test]
    fn a_sealed_state_opens_until_it_expires_and_only_with_its_key() {
        let sealer = StateSealer::new(Zeroizing::new([3; 32]));
        let now = Utc::now();
        let sealed = sealer.seal(&state(now + chrono::Duration::minutes(10)));
        assert!(!sealed.contains("pkce") && !sealed.contains("app.example"));
        assert_eq!(sealer.open(&sealed, now).unwrap().provider, "google");
        assert!(sealer
            .open(&sealed, now + chrono::Duration::minutes(11))
            .is_none());
        let other = StateSealer::new(Zeroizing::new([4; 32]));
        assert!(other.open(&sealed, now).is_none());
        assert!(sealer.open("not-a-state", now).is_none());
    }
}

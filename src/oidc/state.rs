//! What a provider flow hands to the browser and wants back, sealed
//! (XChaCha20-Poly1305 under a key derived from the server secret) so
//! nobody can read or forge it, each single use (its id is a one-time token
//! in the codes table) and short-lived:
//! - the `state` of a web sign-in, through the provider and back, with its
//!   PKCE verifier and nonce ([`STATE_TTL`]); a sign-in's state is also
//!   bound to the browser that started it by a cookie of its id, so a
//!   callback URL sent to someone else signs nobody in (login CSRF);
//! - the `link_code` a link flow's callback returns with ([`LinkGrant`]),
//!   which links only when the signed-in person who started the flow
//!   confirms it with their own token (so a link flow cannot be finished in
//!   someone else's browser to attach their identity to the starter's
//!   account).

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

/// A provider identity checked at a link flow's callback, waiting for the
/// person who started the flow to confirm it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkGrant {
    pub id: Uuid,
    pub token: String,
    pub user: Uuid,
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// Something sealed that runs out.
pub trait Expiring {
    fn expires_at(&self) -> DateTime<Utc>;
}

impl Expiring for FlowState {
    fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
}

impl Expiring for LinkGrant {
    fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
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

    pub fn seal<T: Serialize>(&self, state: &T) -> String {
        // Strings, UUIDs and timestamps always serialize.
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

    /// What `sealed` holds, if it is one of ours and not expired.
    pub fn open<T: serde::de::DeserializeOwned + Expiring>(
        &self,
        sealed: &str,
        now: DateTime<Utc>,
    ) -> Option<T> {
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
        let state: T = serde_json::from_slice(&plain).ok()?;
        (state.expires_at() > now).then_some(state)
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
        let opened: FlowState = sealer.open(&sealed, now).unwrap();
        assert_eq!(opened.provider, "google");
        let late = now + chrono::Duration::minutes(11);
        assert!(sealer.open::<FlowState>(&sealed, late).is_none());
        let other = StateSealer::new(Zeroizing::new([4; 32]));
        assert!(other.open::<FlowState>(&sealed, now).is_none());
        assert!(sealer.open::<FlowState>("not-a-state", now).is_none());
        assert!(
            sealer.open::<LinkGrant>(&sealed, now).is_none(),
            "not a link grant"
        );
    }
}

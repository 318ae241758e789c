//! JWT signing keys: Ed25519, created on first start, kept in the database with
//! the private half sealed (XChaCha20-Poly1305 under a key derived from the
//! server secret), so every instance sharing the database and the secret
//! signs with the same key and a database dump alone cannot forge tokens.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::RngCore;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::store::keys::StoredKey;
use crate::store::{Database, StoreError};

const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("database error")]
    Database(#[from] StoreError),
    #[error("a signing key could not be unsealed: wrong IDENTITY_SECRET?")]
    Unseal,
    #[error("a stored signing key is malformed")]
    Malformed,
}

/// The keys this instance signs and verifies with.
pub struct KeyRing {
    pub active_kid: String,
    pub encoding: EncodingKey,
    pub decoding: HashMap<String, DecodingKey>,
    /// The JWKS document (`{"keys": [...]}`).
    pub jwks: Value,
}

impl KeyRing {
    /// Loads the active key, creating it if none exists. Creation happens
    /// under an advisory lock so instances starting together agree on one.
    pub async fn load_or_create(db: &Database, seal_key: &[u8; 32]) -> Result<Self, KeyError> {
        let cipher = XChaCha20Poly1305::new(seal_key.into());
        let keys = db
            .signing_keys_or_create(|| {
                let key = generate(&cipher)?;
                tracing::info!(kid = %key.kid, "created a new JWT signing key");
                Ok::<_, KeyError>(key)
            })
            .await?;
        Self::from_stored(&cipher, &keys)
    }

    fn from_stored(cipher: &XChaCha20Poly1305, keys: &[StoredKey]) -> Result<Self, KeyError> {
        let active = keys.first().ok_or(KeyError::Malformed)?;
        let der = unseal(cipher, active)?;
        let mut decoding = HashMap::new();
        let mut jwks = Vec::new();
        for key in keys {
            let x = URL_SAFE_NO_PAD.encode(&key.public_key);
            let decoding_key =
                DecodingKey::from_ed_components(&x).map_err(|_| KeyError::Malformed)?;
            decoding.insert(key.kid.clone(), decoding_key);
            jwks.push(json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": key.kid, "alg": "EdDSA", "use": "sig"}));
        }
        Ok(Self {
            active_kid: active.kid.clone(),
            encoding: EncodingKey::from_ed_der(&der),
            decoding,
            jwks: json!({ "keys": jwks }),
        })
    }
}

fn generate(cipher: &XChaCha20Poly1305) -> Result<StoredKey, KeyError> {
    let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let der = signing.to_pkcs8_der().map_err(|_| KeyError::Malformed)?;
    let public_key = signing.verifying_key().to_bytes().to_vec();
    let kid = URL_SAFE_NO_PAD.encode(
        &sha2::Digest::finalize(sha2::Digest::chain_update(
            <sha2::Sha256 as sha2::Digest>::new(),
            &public_key,
        ))[..12],
    );
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: der.as_bytes(),
                aad: kid.as_bytes(),
            },
        )
        .map_err(|_| KeyError::Malformed)?;
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ciphertext);
    Ok(StoredKey {
        kid,
        public_key,
        sealed,
    })
}

fn unseal(cipher: &XChaCha20Poly1305, key: &StoredKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    if key.sealed.len() <= NONCE_LEN {
        return Err(KeyError::Malformed);
    }
    let (nonce, ciphertext) = key.sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: key.kid.as_bytes(),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| KeyError::Unseal)
}

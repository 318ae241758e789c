//! JWT signing keys, created on first start and rotated (see [`KeyRing`]),
//! kept in the database with the private half sealed (XChaCha20-Poly1305
//! under a key derived from the server secret), so every instance sharing
//! the database and the secret signs with the same key and a database
//! dump alone cannot forge tokens.
//!
//! Two algorithms, each with its own key, made and rotated together:
//! Ed25519 (`EdDSA`) signs the access tokens (small, fast to verify), and
//! RSA 2048 (`RS256`) the ID tokens, the one algorithm OpenID Connect
//! requires every provider to offer and relying parties expect by
//! default. A database from before RS256 gets its first RSA key at the
//! next start.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::RngCore;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::store::keys::{Rotation, StoredKey};
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

/// How long a JWKS may be cached (its `Cache-Control: max-age`): a new
/// key is published at least this long before it signs.
pub const JWKS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(300);

/// Past a token's expiry, how long a replaced key stays published: the
/// verifiers' clock leeway (30 s here) and some.
const RETIRE_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// When keys rotate (`IDENTITY_SIGNING_KEY_*`).
#[derive(Debug, Clone, Copy)]
pub struct RotationPolicy {
    /// A key older than this is replaced automatically; zero: never.
    pub every: chrono::Duration,
    /// How long a new key is published before it signs (never less than
    /// twice `jwt::KEY_REFRESH`, so every instance knows it first).
    pub publish_ahead: std::time::Duration,
    /// The access tokens' lifetime: a replaced key is published until the
    /// last token it signed has expired.
    pub access_ttl: std::time::Duration,
}

impl RotationPolicy {
    /// Whether a key made at `newest` is to be replaced at `now`.
    pub fn due(&self, newest: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        !self.every.is_zero() && newest + self.every <= now
    }
}

/// The algorithms keys are made for, each rotated with the others.
pub const ALGORITHMS: [Algorithm; 2] = [Algorithm::EdDSA, Algorithm::RS256];

/// RSA modulus size: NIST's minimum through 2030, and what Keycloak and
/// ZITADEL make.
const RSA_BITS: usize = 2048;

/// A key that signs, from `activates_at` on.
pub struct SigningKey {
    pub kid: String,
    pub algorithm: Algorithm,
    pub activates_at: DateTime<Utc>,
    pub encoding: EncodingKey,
}

/// The keys this instance signs and verifies with: every published key
/// (the JWKS), and of them the one that signs now.
///
/// Rotation, as Keycloak and ZITADEL do it: a new key is published at once
/// but signs only `publish_ahead` later (at least a JWKS cache lifetime),
/// so no verifier meets a `kid` it cannot have fetched; the key it
/// replaces signs until then and stays published until every token it
/// signed has expired, then leaves the JWKS. Every instance reads the keys
/// from the database every few seconds and picks the signing key by the
/// same rule (the newest key whose time has come), so all agree.
pub struct KeyRing {
    /// Newest first.
    signing: Vec<SigningKey>,
    /// When the newest key was made (what rotation is due by).
    pub newest_created_at: DateTime<Utc>,
    /// Each published key by its id, with its algorithm.
    pub decoding: HashMap<String, (Algorithm, DecodingKey)>,
    /// The JWKS document (`{"keys": [...]}`).
    pub jwks: Value,
}

impl KeyRing {
    /// Loads the published keys, creating the first if none exists.
    /// Creation happens under a lock so instances starting together agree
    /// on one.
    pub async fn load_or_create(db: &Database, seal_key: &[u8; 32]) -> Result<Self, KeyError> {
        let cipher = XChaCha20Poly1305::new(seal_key.into());
        let keys = db
            .signing_keys_or_create(|published| {
                let mut made = Vec::new();
                for algorithm in ALGORITHMS {
                    let name = name_of(algorithm);
                    if !published.iter().any(|key| key.algorithm == name) {
                        let key = generate(&cipher, None, algorithm)?;
                        tracing::info!(kid = %key.kid, algorithm = name, "created a new JWT signing key");
                        made.push(key);
                    }
                }
                Ok::<_, KeyError>(made)
            })
            .await?;
        Self::from_stored(&cipher, &keys)
    }

    /// Loads the published keys as they are now.
    pub async fn load(db: &Database, seal_key: &[u8; 32]) -> Result<Self, KeyError> {
        let cipher = XChaCha20Poly1305::new(seal_key.into());
        Self::from_stored(&cipher, &db.signing_keys().await?)
    }

    /// Adds a key if the newest is older than `policy.every` (or at once
    /// when `force`), and schedules the retirement of the ones it
    /// replaces. Answers the new key's id and when it starts signing.
    pub async fn rotate(
        db: &Database,
        seal_key: &[u8; 32],
        policy: RotationPolicy,
        force: bool,
    ) -> Result<Option<(String, DateTime<Utc>)>, KeyError> {
        let cipher = XChaCha20Poly1305::new(seal_key.into());
        let now = Utc::now();
        let due = |newest: DateTime<Utc>| force || policy.due(newest, now);
        // Never less than two reads of the keys by every instance: all of
        // them know a key before any of them signs with it.
        let lead = policy.publish_ahead.max(2 * crate::auth::jwt::KEY_REFRESH);
        let ahead = chrono::Duration::from_std(lead).unwrap_or(RETIRE_MARGIN);
        let ttl = chrono::Duration::from_std(policy.access_ttl).unwrap_or(RETIRE_MARGIN);
        let activates_at = now + ahead;
        let rotation = || {
            let keys = ALGORITHMS
                .into_iter()
                .map(|algorithm| generate(&cipher, Some(activates_at), algorithm))
                .collect::<Result<_, _>>()?;
            Ok::<_, KeyError>(Rotation {
                keys,
                retire_replaced_at: activates_at + ttl + RETIRE_MARGIN,
            })
        };
        let added = db.rotate_signing_key(due, rotation).await?;
        for key in added.iter().flatten() {
            tracing::info!(kid = %key.kid, algorithm = key.algorithm, %activates_at, "rotated a JWT signing key");
        }
        // The access tokens' key names the rotation.
        let access_key = added
            .into_iter()
            .flatten()
            .find(|key| key.algorithm == name_of(Algorithm::EdDSA));
        Ok(access_key.map(|key| (key.kid, activates_at)))
    }

    /// The key of `algorithm` that signs at `now`: the newest whose time
    /// has come.
    pub fn active(&self, now: DateTime<Utc>, algorithm: Algorithm) -> Option<&SigningKey> {
        let mut of_algorithm = self.signing.iter().filter(|key| key.algorithm == algorithm);
        of_algorithm
            .clone()
            .find(|key| key.activates_at <= now)
            .or(of_algorithm.next_back())
    }

    fn from_stored(cipher: &XChaCha20Poly1305, keys: &[StoredKey]) -> Result<Self, KeyError> {
        let newest_created_at = keys.first().ok_or(KeyError::Malformed)?.created_at;
        let mut decoding = HashMap::new();
        let mut signing = Vec::new();
        let mut jwks = Vec::new();
        for key in keys {
            let der = unseal(cipher, key)?;
            let (algorithm, decoding_key, encoding, jwk) = match key.algorithm.as_str() {
                "EdDSA" => {
                    let x = URL_SAFE_NO_PAD.encode(&key.public_key);
                    let decoding_key =
                        DecodingKey::from_ed_components(&x).map_err(|_| KeyError::Malformed)?;
                    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": key.kid, "alg": "EdDSA", "use": "sig"});
                    (
                        Algorithm::EdDSA,
                        decoding_key,
                        EncodingKey::from_ed_der(&der),
                        jwk,
                    )
                }
                "RS256" => {
                    use rsa::pkcs1::DecodeRsaPublicKey;
                    use rsa::traits::PublicKeyParts;
                    let public = rsa::RsaPublicKey::from_pkcs1_der(&key.public_key)
                        .map_err(|_| KeyError::Malformed)?;
                    let n = URL_SAFE_NO_PAD.encode(public.n().to_bytes_be());
                    let e = URL_SAFE_NO_PAD.encode(public.e().to_bytes_be());
                    let decoding_key = DecodingKey::from_rsa_components(&n, &e)
                        .map_err(|_| KeyError::Malformed)?;
                    let jwk = json!({"kty": "RSA", "n": n, "e": e, "kid": key.kid, "alg": "RS256", "use": "sig"});
                    (
                        Algorithm::RS256,
                        decoding_key,
                        EncodingKey::from_rsa_der(&der),
                        jwk,
                    )
                }
                _ => return Err(KeyError::Malformed),
            };
            decoding.insert(key.kid.clone(), (algorithm, decoding_key));
            signing.push(SigningKey {
                kid: key.kid.clone(),
                algorithm,
                activates_at: key.activates_at.unwrap_or(key.created_at),
                encoding,
            });
            jwks.push(jwk);
        }
        Ok(Self {
            signing,
            newest_created_at,
            decoding,
            jwks: json!({ "keys": jwks }),
        })
    }
}

/// The name an algorithm is stored and published under.
pub fn name_of(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::RS256 => "RS256",
        _ => "EdDSA",
    }
}

/// A new key pair of `algorithm`: the private half as DER (PKCS#8 for
/// Ed25519, PKCS#1 for RSA, what `jsonwebtoken` reads) and the public
/// half (the raw 32 bytes, or PKCS#1 DER).
fn key_pair(algorithm: Algorithm) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), KeyError> {
    match algorithm {
        Algorithm::RS256 => {
            use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
            let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
                .map_err(|_| KeyError::Malformed)?;
            let der = private.to_pkcs1_der().map_err(|_| KeyError::Malformed)?;
            let public = private
                .to_public_key()
                .to_pkcs1_der()
                .map_err(|_| KeyError::Malformed)?;
            Ok((Zeroizing::new(der.as_bytes().to_vec()), public.into_vec()))
        }
        _ => {
            let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
            let der = signing.to_pkcs8_der().map_err(|_| KeyError::Malformed)?;
            let public = signing.verifying_key().to_bytes().to_vec();
            Ok((Zeroizing::new(der.as_bytes().to_vec()), public))
        }
    }
}

fn generate(
    cipher: &XChaCha20Poly1305,
    activates_at: Option<DateTime<Utc>>,
    algorithm: Algorithm,
) -> Result<StoredKey, KeyError> {
    let (der, public_key) = key_pair(algorithm)?;
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
                msg: &der,
                aad: kid.as_bytes(),
            },
        )
        .map_err(|_| KeyError::Malformed)?;
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ciphertext);
    Ok(StoredKey {
        kid,
        algorithm: name_of(algorithm).to_owned(),
        public_key,
        sealed,
        created_at: Utc::now(),
        activates_at,
        retired_at: None,
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

//! Access tokens: short-lived EdDSA JWTs with `kid`, verified by any
//! instance (and any downstream service) against the published JWKS.
//!
//! Verifying one needs no database: the signature and claims here, and the
//! in-memory revocation set (`auth::revocations`) in the Bearer extractor,
//! so that a token of an ended session stops at once.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::{KeyError, KeyRing, RotationPolicy};
use super::verified::VerifiedTokens;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: Uuid,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: Uuid,
    pub sid: Uuid,
    pub roles: Vec<String>,
    /// How the person signed in (RFC 8176 `amr`): `pwd`, `email_code`,
    /// `sms_code`, `oidc`, and with a second factor `otp` or
    /// `recovery_code` and `mfa`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("token could not be signed")]
    Sign(#[source] jsonwebtoken::errors::Error),
    #[error("token is invalid")]
    Invalid,
}

/// How often each instance reads the signing keys again (and rotates
/// them when due): a rotation by any instance or by `identity keys
/// rotate` shows in every JWKS within this.
pub const KEY_REFRESH: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct TokenIssuer {
    /// Replaced whole when the keys are read again.
    keys: Arc<RwLock<Arc<KeyRing>>>,
    /// Tokens verified before: the next use skips the signature check.
    verified: Arc<VerifiedTokens>,
    issuer: String,
    audience: String,
    ttl: Duration,
}

/// Seconds past `exp` a token is still accepted (clock skew).
const LEEWAY_SECS: i64 = 30;

impl TokenIssuer {
    pub async fn load(
        db: &crate::store::Database,
        seal_key: &[u8; 32],
        issuer: String,
        audience: String,
        ttl: Duration,
    ) -> Result<Self, KeyError> {
        let keys = KeyRing::load_or_create(db, seal_key).await?;
        Ok(Self {
            keys: Arc::new(RwLock::new(Arc::new(keys))),
            verified: Arc::default(),
            issuer,
            audience,
            ttl,
        })
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Signs an access token for `user` in `session`.
    pub fn issue(
        &self,
        user: Uuid,
        session: Uuid,
        roles: Vec<String>,
        amr: Vec<String>,
    ) -> Result<String, JwtError> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: user,
            aud: self.audience.clone(),
            exp: now + self.ttl.as_secs() as i64,
            iat: now,
            jti: Uuid::now_v7(),
            sid: session,
            roles,
            amr,
        };
        self.sign(&claims, Algorithm::EdDSA)
    }

    /// Signs `claims` with the active key of `algorithm` (access tokens
    /// EdDSA; the ID tokens of `accounts::authorization` RS256, whose `aud`
    /// is a client's id and which so never pass [`Self::verify`]).
    pub fn sign(&self, claims: &impl Serialize, algorithm: Algorithm) -> Result<String, JwtError> {
        let keys = self.ring();
        let key = keys
            .active(chrono::Utc::now(), algorithm)
            .ok_or(JwtError::Sign(
                jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into(),
            ))?;
        let mut header = Header::new(algorithm);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(JwtError::Sign)
    }

    /// The `iss` of every token signed here.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Checks signature, issuer, audience and expiry; a token verified
    /// before is only checked for expiry again ([`VerifiedTokens`]).
    pub fn verify(&self, token: &str) -> Result<AccessClaims, JwtError> {
        let now = chrono::Utc::now().timestamp();
        if let Some(claims) = self.verified.get(token, now, LEEWAY_SECS) {
            return Ok(claims);
        }
        let claims = self.verify_signed(token)?;
        self.verified.insert(token, &claims, now, LEEWAY_SECS);
        Ok(claims)
    }

    fn verify_signed(&self, token: &str) -> Result<AccessClaims, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid)?;
        let keys = self.ring();
        // Access tokens are EdDSA only: a key of another algorithm (an
        // ID token's) never verifies one.
        let key = header
            .kid
            .and_then(|kid| keys.decoding.get(&kid))
            .filter(|(algorithm, _)| *algorithm == Algorithm::EdDSA)
            .map(|(_, key)| key)
            .ok_or(JwtError::Invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS as u64;
        jsonwebtoken::decode::<AccessClaims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|_| JwtError::Invalid)
    }

    /// The published keys (the JWKS document).
    pub fn jwks(&self) -> serde_json::Value {
        self.ring().jwks.clone()
    }

    fn ring(&self) -> Arc<KeyRing> {
        // A poisoned lock only means a panic while swapping in a whole new
        // ring: the one there is complete.
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Every [`KEY_REFRESH`]: reads the keys again and, when `policy`
    /// says the newest is due, rotates them (under the store's lock, which
    /// checks again) and reads them once more; until `shutdown`. Only a
    /// due rotation writes. Failures are logged; the keys in hand go on
    /// working.
    pub async fn keep_fresh(
        self,
        db: crate::store::Database,
        seal_key: zeroize::Zeroizing<[u8; 32]>,
        policy: RotationPolicy,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                () = tokio::time::sleep(KEY_REFRESH) => {}
            }
            let mut read = KeyRing::load(&db, &seal_key).await;
            let due = |ring: &KeyRing| policy.due(ring.newest_created_at, chrono::Utc::now());
            if read.as_ref().is_ok_and(due) {
                if let Err(error) = KeyRing::rotate(&db, &seal_key, policy, false).await {
                    tracing::warn!(error = %crate::telemetry::Chain(&error), "signing-key rotation failed");
                }
                read = KeyRing::load(&db, &seal_key).await;
            }
            match read {
                Ok(ring) => {
                    *self
                        .keys
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(ring);
                }
                Err(error) => {
                    tracing::warn!(error = %crate::telemetry::Chain(&error), "signing keys could not be read again");
                }
            }
        }
    }
}

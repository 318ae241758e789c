//! Access tokens: short-lived EdDSA JWTs with `kid`, verified by any
//! instance (and any downstream service) against the published JWKS.
//!
//! Verifying one needs no database: the signature and claims here, and the
//! in-memory revocation set (`auth::revocations`) in the Bearer extractor,
//! so that a token of an ended session stops at once.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::{KeyError, KeyRing};

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

#[derive(Clone)]
pub struct TokenIssuer {
    keys: Arc<KeyRing>,
    issuer: String,
    audience: String,
    ttl: Duration,
}

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
            keys: Arc::new(keys),
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
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.keys.active_kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.keys.encoding).map_err(JwtError::Sign)
    }

    /// Checks signature, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid)?;
        let key = header
            .kid
            .and_then(|kid| self.keys.decoding.get(&kid))
            .ok_or(JwtError::Invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        jsonwebtoken::decode::<AccessClaims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|_| JwtError::Invalid)
    }

    pub fn jwks(&self) -> &serde_json::Value {
        &self.keys.jwks
    }
}

//! Access tokens already verified, remembered until they expire, so a
//! client calling with the same token again costs a hash lookup instead of
//! an Ed25519 verification (most of what an authenticated read costs).
//!
//! Keyed by the token's SHA-256, never the token itself. A hit is only a
//! token this instance verified whole (signature, issuer, audience,
//! expiry) and it is re-checked for expiry on every use. Revocation is not
//! cached: the caller still asks [`super::Revocations`] on every request,
//! so an ended session stops at once. A retired signing key needs no
//! eviction: keys are retired only after every token they signed expired.
//!
//! Bounded: at [`CAPACITY`] entries the expired ones are dropped, and if
//! that frees nothing the whole map is (the next calls verify again).

use std::collections::HashMap;
use std::sync::RwLock;

use sha2::{Digest, Sha256};

use super::AccessClaims;

/// Tokens remembered at most: about 200 bytes each with their claims.
pub const CAPACITY: usize = 100_000;

#[derive(Default)]
pub struct VerifiedTokens {
    entries: RwLock<HashMap<[u8; 32], AccessClaims>>,
}

impl VerifiedTokens {
    /// The claims of `token` if it was verified before and has not expired
    /// (`leeway` seconds past `exp`, as the verifier allows) at `now`.
    pub fn get(&self, token: &str, now: i64, leeway: i64) -> Option<AccessClaims> {
        let key = key(token);
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&key)
            .filter(|claims| claims.exp + leeway > now)
            .cloned()
    }

    /// Remembers `claims` as the verified content of `token`.
    pub fn insert(&self, token: &str, claims: &AccessClaims, now: i64, leeway: i64) {
        let key = key(token);
        // A poisoned lock only means a panic while changing a plain map.
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY {
            entries.retain(|_, c| c.exp + leeway > now);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, claims.clone());
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: "iss".into(),
            sub: Uuid::now_v7(),
            aud: "aud".into(),
            exp,
            iat: exp - 900,
            jti: Uuid::now_v7(),
            sid: Uuid::now_v7(),
            roles: vec!["user".into()],
            amr: vec!["pwd".into()],
        }
    }

    #[test]
    fn a_remembered_token_is_answered_until_it_expires_and_never_after() {
        let cache = VerifiedTokens::default();
        let remembered = claims(1_000);
        cache.insert("token", &remembered, 500, 30);
        assert_eq!(
            cache.get("token", 500, 30).map(|c| c.jti),
            Some(remembered.jti)
        );
        assert_eq!(
            cache.get("token", 1_029, 30).map(|c| c.jti),
            Some(remembered.jti)
        );
        assert!(cache.get("token", 1_030, 30).is_none(), "expired");
        assert!(cache.get("tokem", 500, 30).is_none(), "another token");
    }

    #[test]
    fn a_full_cache_drops_the_expired_tokens_first_then_everything() {
        let cache = VerifiedTokens::default();
        for i in 0..CAPACITY {
            // Half of them expired by `now` = 100.
            let exp = if i % 2 == 0 { 50 } else { 1_000 };
            cache.insert(&format!("t{i}"), &claims(exp), 0, 0);
        }
        assert_eq!(cache.len(), CAPACITY);
        cache.insert("new", &claims(1_000), 100, 0);
        assert_eq!(cache.len(), CAPACITY / 2 + 1);
        assert!(cache.get("t1", 100, 0).is_some());
    }
}

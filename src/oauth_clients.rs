//! Services registered to call `/oauth/introspect` with HTTP basic auth
//! (RFC 7662 section 2.1, with the client authentication of RFC 6749
//! section 2.3.1), beside those holding an access token with the `service`
//! role. An operator registers one with `identity clients add NAME`, which
//! prints its secret once: 256 random bits, kept only as a SHA-256 hash
//! (a slow hash adds nothing to a secret nobody can guess, and would cost
//! every introspection an argon2 run).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{Database, StoreError};

/// A client id: 1 to 64 of letters, digits, `.`, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "{raw:?} is not a client id: 1 to 64 letters, digits, '.', '_' or '-'"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Registers `id` and returns its secret (shown once), or `None` when the
/// id is taken.
pub async fn register(db: &Database, id: &ClientId) -> Result<Option<String>, StoreError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let added = db.add_client(id.as_str(), &hash(&secret)).await?;
    Ok(added.then_some(secret))
}

/// Whether `authorization` (the header's value) is `Basic` with the id and
/// secret of a registered client.
pub async fn authenticate(db: &Database, authorization: &str) -> Result<bool, StoreError> {
    let Some((id, secret)) = basic_credentials(authorization) else {
        return Ok(false);
    };
    let Some(stored) = db.client_secret_hash(&id).await? else {
        return Ok(false);
    };
    Ok(bool::from(hash(&secret).as_slice().ct_eq(&stored)))
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, decoded.
fn basic_credentials(authorization: &str) -> Option<(String, String)> {
    let (scheme, encoded) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| -> Option<String> {
        form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    #[test]
    fn basic_credentials_are_decoded_and_unescaped_as_rfc_6749_says() {
        assert_eq!(
            basic_credentials(&basic("billing:s3cr%3At")),
            Some(("billing".to_owned(), "s3cr:t".to_owned()))
        );
        assert_eq!(
            basic_credentials(&format!("basic  {}", STANDARD.encode("a:b"))),
            Some(("a".to_owned(), "b".to_owned()))
        );
        for bad in ["Bearer abc", "Basic !!!", &basic("no-colon"), "Basic"] {
            assert_eq!(basic_credentials(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_client_id_is_a_short_plain_name() {
        assert!(ClientId::parse("billing-service.eu_1").is_ok());
        for bad in ["", "has space", "ü", &"x".repeat(65), "a:b"] {
            assert!(ClientId::parse(bad).is_err(), "{bad:?}");
        }
    }
}

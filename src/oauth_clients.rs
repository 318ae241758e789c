//! Registered OAuth clients: services that call `/oauth/introspect` with
//! HTTP basic auth (RFC 7662 section 2.1, beside those holding an access
//! token with the `service` role), and applications that sign people in
//! through `/oauth/authorize` (`accounts::authorization`), each with the
//! exact redirect URIs it may be sent back to. An operator registers one
//! with `identity clients add NAME [--redirect-uri URI]...`, which prints
//! its secret once: 256 random bits, kept only as a SHA-256 hash (a slow
//! hash adds nothing to a secret nobody can guess, and would cost every
//! introspection an argon2 run). Clients authenticate as RFC 6749 section
//! 2.3.1 says: HTTP basic, or `client_id` and `client_secret` in the form.

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

/// Where a client may have a browser sent back: an absolute URI without a
/// fragment (RFC 6749 3.1.2), `https`, or `http` on a loopback host only
/// (RFC 8252 7.3), or a native app's private-use scheme with a dot in it
/// (RFC 8252 7.1, `com.example.app:/callback`). Compared exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let refuse = |why: &str| format!("{raw:?} is not a redirect URI: {why}");
        let url = reqwest::Url::parse(raw).map_err(|e| refuse(&e.to_string()))?;
        if url.fragment().is_some() {
            return Err(refuse("it has a fragment"));
        }
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
        match url.scheme() {
            "https" if url.has_host() => {}
            "http" if loopback => {}
            "http" => return Err(refuse("plain http only to a loopback host")),
            scheme if scheme.contains('.') => {}
            _ => {
                return Err(refuse(
                    "https, http to a loopback host, or an app's reverse-domain scheme",
                ))
            }
        }
        if raw.len() > 512 {
            return Err(refuse("longer than 512 characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Registers `id` with `redirect_uris` and returns its secret (shown once),
/// or `None` when the id is taken.
pub async fn register(
    db: &Database,
    id: &ClientId,
    redirect_uris: &[RedirectUri],
) -> Result<Option<String>, StoreError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let uris: Vec<String> = redirect_uris.iter().map(|u| u.0.clone()).collect();
    let added = db.add_client(id.as_str(), &hash(&secret), &uris).await?;
    Ok(added.then_some(secret))
}

/// Whether `authorization` (the header's value) is `Basic` with the id and
/// secret of a registered client.
pub async fn authenticate(db: &Database, authorization: &str) -> Result<bool, StoreError> {
    let Some((id, secret)) = basic_credentials(authorization) else {
        return Ok(false);
    };
    Ok(verify(db, &id, &secret).await?.is_some())
}

/// The id of the client a token request authenticates as: HTTP basic
/// (`authorization`, the header) or the form's `client_id` and
/// `client_secret`; `None` when neither proves a registered client.
pub async fn authenticated_client(
    db: &Database,
    authorization: Option<&str>,
    form: Option<(&str, &str)>,
) -> Result<Option<String>, StoreError> {
    let (id, secret) = match (authorization.and_then(basic_credentials), form) {
        (Some(basic), _) => basic,
        (None, Some((id, secret))) => (id.to_owned(), secret.to_owned()),
        (None, None) => return Ok(None),
    };
    verify(db, &id, &secret).await
}

/// `id` when `secret` is its secret.
async fn verify(db: &Database, id: &str, secret: &str) -> Result<Option<String>, StoreError> {
    let Some(stored) = db.client_secret_hash(id).await? else {
        return Ok(None);
    };
    let right = bool::from(hash(secret).as_slice().ct_eq(&stored));
    Ok(right.then(|| id.to_owned()))
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
    fn a_redirect_uri_is_https_loopback_http_or_an_apps_own_scheme() {
        for good in [
            "https://app.example/callback?x=1",
            "http://127.0.0.1:8080/cb",
            "http://localhost/cb",
            "com.example.app:/oauth",
        ] {
            assert!(RedirectUri::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#x",
            "/relative",
            "javascript:alert(1)",
            "data:text/html,x",
            "",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
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

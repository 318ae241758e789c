//! The server secret (`IDENTITY_SECRET`) and the independent keys derived
//! from it with HKDF-SHA256, one per purpose, so no key serves two jobs.

use std::path::Path;

use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

const MIN_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("IDENTITY_SECRET must be hex encoded and at least {MIN_LEN} bytes long")]
    Invalid,
    #[error("cannot read or create the secret file {path}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a derived key is for; the label is part of the derivation.
#[derive(Debug, Clone, Copy)]
pub enum KeyPurpose {
    OneTimeCodes,
    RefreshSuccessors,
    SigningKeySeal,
    RateLimitKeys,
    TotpSeal,
    RecoveryCodes,
    OidcState,
}

impl KeyPurpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::OneTimeCodes => b"identity/one-time-codes/v1",
            Self::RefreshSuccessors => b"identity/refresh-successors/v1",
            Self::SigningKeySeal => b"identity/signing-key-seal/v1",
            Self::RateLimitKeys => b"identity/rate-limit-keys/v1",
            Self::TotpSeal => b"identity/totp-seal/v1",
            Self::RecoveryCodes => b"identity/recovery-codes/v1",
            Self::OidcState => b"identity/oidc-state/v1",
        }
    }
}

#[derive(Clone)]
pub struct ServerSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(<redacted>)")
    }
}

impl ServerSecret {
    pub fn from_hex(hex_value: &str) -> Result<Self, SecretError> {
        let bytes = hex::decode(hex_value.trim()).map_err(|_| SecretError::Invalid)?;
        if bytes.len() < MIN_LEN {
            return Err(SecretError::Invalid);
        }
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// Reads the secret kept in `dir/secret.key`, creating a random one on
    /// first start (readable by the owner only).
    pub fn load_or_create(dir: &Path) -> Result<Self, SecretError> {
        let path = dir.join("secret.key");
        let file_error = |source| SecretError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(contents) => return Self::from_hex(&contents),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_error(e)),
        }
        std::fs::create_dir_all(dir).map_err(file_error)?;
        let mut bytes = Zeroizing::new(vec![0u8; MIN_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        write_private(&path, &hex::encode(&*bytes)).map_err(file_error)?;
        tracing::warn!(path = %path.display(), "created a new server secret; set IDENTITY_SECRET to share one across instances");
        Ok(Self(bytes))
    }

    pub fn derive(&self, purpose: KeyPurpose) -> Zeroizing<[u8; 32]> {
        let mut key = Zeroizing::new([0u8; 32]);
        // HKDF-SHA256 can emit up to 255 * 32 bytes; 32 always fits.
        #[allow(clippy::expect_used)]
        Hkdf::<Sha256>::new(None, &self.0)
            .expand(purpose.label(), &mut *key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        key
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_differ_by_purpose() {
        let secret = ServerSecret::from_hex(&"ab".repeat(32)).unwrap();
        assert_ne!(
            *secret.derive(KeyPurpose::OneTimeCodes),
            *secret.derive(KeyPurpose::RefreshSuccessors)
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(ServerSecret::from_hex("abcd").is_err());
    }
}

//! TOTP (RFC 6238) secrets and codes, and recovery codes.
//!
//! The secret is 160 random bits (RFC 4226's recommendation), SHA-1, six
//! digits, 30 s steps: what every authenticator app reads from an
//! `otpauth://` URI. It is kept sealed (XChaCha20-Poly1305 under a key
//! derived from the server secret, the account id as associated data, so
//! a sealed secret cannot be moved to another account) and unsealed only
//! to check a code. A code is good for its own step and one step either
//! side (clock skew); which step matched is returned so the account can
//! refuse it ever after. Recovery codes are ten random 50-bit codes, kept
//! as keyed hashes like the one-time codes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};
use uuid::Uuid;
use zeroize::Zeroizing;

/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
const DIGITS: usize = 6;
/// Steps either side of now that are still accepted.
const SKEW: u64 = 1;
pub const RECOVERY_CODES: usize = 10;
/// Lower-case letters and digits without look-alikes (no 0/o, 1/l/i).
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("a TOTP secret could not be unsealed: wrong IDENTITY_SECRET?")]
    Unseal,
    #[error("the TOTP secret could not be sealed")]
    Seal,
    #[error("the otpauth URI could not be made: {0}")]
    Uri(String),
    #[error("the QR code could not be drawn")]
    Qr(#[from] qrcode::types::QrError),
}

/// What enrollment shows the person, once.
#[derive(Debug)]
pub struct Enrollment {
    /// Base32, for typing into an app by hand.
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
    /// What the account keeps.
    pub sealed: String,
}

/// Seals, unseals and checks TOTP secrets, and hashes recovery codes.
#[derive(Clone)]
pub struct Totp {
    seal_key: Zeroizing<[u8; 32]>,
    recovery_key: Zeroizing<[u8; 32]>,
    issuer: String,
}

impl Totp {
    pub fn new(
        seal_key: Zeroizing<[u8; 32]>,
        recovery_key: Zeroizing<[u8; 32]>,
        issuer: String,
    ) -> Self {
        Self {
            seal_key,
            recovery_key,
            issuer,
        }
    }

    /// A fresh secret for `user`, sealed, with what the person scans.
    pub fn enroll(&self, user: Uuid, account_name: &str) -> Result<Enrollment, TotpError> {
        let mut bytes = Zeroizing::new(vec![0u8; 20]);
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let totp = self.totp(bytes.to_vec(), account_name)?;
        let otpauth_uri = totp.get_url();
        let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())?
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build();
        Ok(Enrollment {
            secret: totp.get_secret_base32(),
            otpauth_uri,
            qr_svg,
            sealed: self.seal(user, &bytes)?,
        })
    }

    /// The step whose code `code` is, within the skew of `now` (Unix
    /// seconds) and later than `after`, if any.
    pub fn matching_step(
        &self,
        user: Uuid,
        sealed: &str,
        code: &str,
        now: u64,
        after: u64,
    ) -> Result<Option<u64>, TotpError> {
        let secret = self.unseal(user, sealed)?;
        let totp = totp_rs::TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            0,
            STEP_SECONDS,
            secret.to_vec(),
            None,
            String::new(),
        );
        Ok(step_of(&totp, code.trim(), now, after))
    }

    /// Ten new recovery codes (to show once) and their keyed hashes (to
    /// keep), in the same order.
    pub fn recovery_codes(&self, user: Uuid) -> (Vec<String>, Vec<String>) {
        let mut rng = rand::rngs::OsRng;
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| {
                let chars: String = (0..10)
                    .map(|_| RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())] as char)
                    .collect();
                format!("{}-{}", &chars[..5], &chars[5..])
            })
            .collect();
        let hashes = codes.iter().map(|c| self.recovery_hash(user, c)).collect();
        (codes, hashes)
    }

    /// The keyed hash a recovery code is kept as (dashes, spaces and case
    /// ignored).
    pub fn recovery_hash(&self, user: Uuid, code: &str) -> String {
        let normalized: String = code
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&*self.recovery_key)
            .expect("HMAC takes any key length");
        mac.update(user.as_bytes());
        mac.update(normalized.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn totp(&self, secret: Vec<u8>, account_name: &str) -> Result<TOTP, TotpError> {
        // The otpauth label is `issuer:account`, so neither may hold a colon.
        TOTP::new(
            Algorithm::SHA1,
            DIGITS,
            SKEW as u8,
            STEP_SECONDS,
            secret,
            Some(self.issuer.replace(':', "")),
            account_name.replace(':', ""),
        )
        .map_err(|e| TotpError::Uri(e.to_string()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.seal_key).into())
    }

    fn seal(&self, user: Uuid, secret: &[u8]) -> Result<String, TotpError> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret,
            aad: user.as_bytes(),
        };
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), payload)
            .map_err(|_| TotpError::Seal)?;
        Ok(URL_SAFE_NO_PAD.encode([nonce.as_slice(), &sealed].concat()))
    }

    fn unseal(&self, user: Uuid, sealed: &str) -> Result<Zeroizing<Vec<u8>>, TotpError> {
        let raw = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| TotpError::Unseal)?;
        if raw.len() < 24 {
            return Err(TotpError::Unseal);
        }
        let (nonce, ciphertext) = raw.split_at(24);
        let payload = Payload {
            msg: ciphertext,
            aad: user.as_bytes(),
        };
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), payload)
            .map(Zeroizing::new)
            .map_err(|_| TotpError::Unseal)
    }
}

/// The step within `SKEW` of `now` whose code is `code`, later than
/// `after`; every candidate is compared, in constant time.
fn step_of(totp: &TOTP, code: &str, now: u64, after: u64) -> Option<u64> {
    if code.len() != totp.digits || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now / STEP_SECONDS;
    let mut found = None;
    for step in current.saturating_sub(SKEW)..=current + SKEW {
        let expected = totp.generate(step * STEP_SECONDS);
        let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if equal && step > after && found.is_none() {
            found = Some(step);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_totp(algorithm: Algorithm, secret: &[u8]) -> TOTP {
        TOTP::new_unchecked(algorithm, 8, 0, 30, secret.to_vec(), None, String::new())
    }

    /// RFC 6238, appendix B: every time and algorithm of the table.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let sha1 = rfc_totp(Algorithm::SHA1, b"12345678901234567890");
        let sha256 = rfc_totp(Algorithm::SHA256, b"12345678901234567890123456789012");
        let sha512 = rfc_totp(
            Algorithm::SHA512,
            b"1234567890123456789012345678901234567890123456789012345678901234",
        );
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (time, one, two_five_six, five_one_two) in table {
            assert_eq!(sha1.generate(time), one, "SHA-1 at {time}");
            assert_eq!(sha256.generate(time), two_five_six, "SHA-256 at {time}");
            assert_eq!(sha512.generate(time), five_one_two, "SHA-512 at {time}");
            // The step matcher finds the vector's own step.
            assert_eq!(step_of(&sha1, one, time, 0), Some(time / 30));
        }
    }

    #[test]
    fn a_code_is_good_one_step_either_side_and_only_after_the_last_used_step() {
        let totp = rfc_totp(Algorithm::SHA1, b"12345678901234567890");
        let now = 1_111_111_111;
        let step = now / 30;
        let code = totp.generate(now);
        assert_eq!(step_of(&totp, &code, now + 30, 0), Some(step));
        assert_eq!(step_of(&totp, &code, now - 30, 0), Some(step));
        assert_eq!(step_of(&totp, &code, now + 60, 0), None, "two steps late");
        assert_eq!(step_of(&totp, &code, now, step), None, "already used");
        assert_eq!(step_of(&totp, "not-a-code", now, 0), None);
    }

    fn service() -> Totp {
        Totp::new(
            Zeroizing::new([7; 32]),
            Zeroizing::new([8; 32]),
            "identity".to_owned(),
        )
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_account() {
        let totp = service();
        let user = Uuid::from_u128(1);
        let enrollment = totp.enroll(user, "alice").unwrap();
        assert!(enrollment.otpauth_uri.starts_with("otpauth://totp/"));
        assert!(enrollment.qr_svg.contains("<svg"));
        assert!(!enrollment.sealed.contains(&enrollment.secret));
        let bytes = totp.unseal(user, &enrollment.sealed).unwrap();
        assert_eq!(bytes.len(), 20);
        assert!(totp.unseal(Uuid::from_u128(2), &enrollment.sealed).is_err());
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_alike_however_typed() {
        let totp = service();
        let user = Uuid::from_u128(1);
        let (codes, hashes) = totp.recovery_codes(user);
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::BTreeSet<_> = hashes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        let typed = codes[0].to_uppercase().replace('-', " ");
        assert_eq!(totp.recovery_hash(user, &typed), hashes[0]);
        assert_ne!(totp.recovery_hash(Uuid::from_u128(2), &codes[0]), hashes[0]);
    }
}

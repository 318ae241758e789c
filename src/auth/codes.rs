//! One-time codes (6 digits) for email verification and, later, passwordless
//! login and password reset.
//!
//! Stored only as HMAC-SHA256(derived server key, purpose, subject, code):
//! with a million possible codes a plain hash would fall to brute force, a
//! keyed one does not without the secret. Codes never enter the event log.
//! A new code for the same purpose and subject replaces the old one.

use std::future::Future;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::store::codes::{StoredCode, Taken};
use crate::store::{Database, StoreError};
use crate::telemetry::Chain;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    EmailVerification,
    /// Valid for [`crate::accounts::RESET_CODE_TTL`], whatever the
    /// verification codes' lifetime.
    PasswordReset,
    /// Passwordless sign-in, by email or SMS.
    SignIn,
    /// A phone number being added to an account.
    PhoneVerification,
    /// A new email address for a signed-in account.
    EmailChange,
    /// The `mfa_token` between a first factor and the second: a long
    /// random token, not six digits (see [`OneTimeCodes::issue_token`]).
    SecondFactor,
    /// A web sign-in's `state` at an OpenID provider (single use).
    OidcState,
    /// The `login_code` a finished provider sign-in redirects with.
    ExternalLogin,
    /// An authorization code of `/oauth/authorize` (single use).
    AuthorizationCode,
}

impl CodePurpose {
    /// Part of the key and of the MAC: a code of one purpose never opens
    /// another.
    fn as_str(self) -> &'static str {
        match self {
            Self::EmailVerification => "email_verification",
            Self::PasswordReset => "password_reset",
            Self::SignIn => "sign_in",
            Self::PhoneVerification => "phone_verification",
            Self::EmailChange => "email_change",
            Self::SecondFactor => "second_factor",
            Self::OidcState => "oidc_state",
            Self::ExternalLogin => "external_login",
            Self::AuthorizationCode => "authorization_code",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodeError<E> {
    /// Wrong, expired, already used or replaced.
    #[error("the code is not valid")]
    Invalid,
    #[error("too many wrong attempts for this code")]
    TooManyAttempts,
    #[error("database error")]
    Database(#[from] StoreError),
    /// The follow-up action failed; the code was put back.
    #[error(transparent)]
    Then(E),
}

/// A freshly issued code, to be sent and then dropped.
pub struct IssuedCode(Zeroizing<String>);

impl IssuedCode {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for IssuedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedCode(<redacted>)")
    }
}

#[derive(Clone)]
pub struct OneTimeCodes {
    db: Database,
    key: Zeroizing<[u8; 32]>,
    ttl: Duration,
    max_attempts: i32,
}

impl OneTimeCodes {
    pub fn new(
        db: impl Into<Database>,
        key: Zeroizing<[u8; 32]>,
        ttl: Duration,
        max_attempts: i32,
    ) -> Self {
        Self {
            db: db.into(),
            key,
            ttl,
            max_attempts,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Creates a code for `subject`, replacing any earlier one.
    pub async fn issue(
        &self,
        purpose: CodePurpose,
        subject: &str,
    ) -> Result<IssuedCode, StoreError> {
        let code = Zeroizing::new(format!(
            "{:06}",
            rand::rngs::OsRng.gen_range(0..1_000_000u32)
        ));
        self.store(purpose, subject, code).await
    }

    /// Creates a token of 256 random bits for `subject`, after `prefix`
    /// (which the MAC covers, so it cannot be changed), replacing any
    /// earlier one: for codes that travel between programs, never typed.
    pub async fn issue_token(
        &self,
        purpose: CodePurpose,
        subject: &str,
        prefix: &str,
    ) -> Result<IssuedCode, StoreError> {
        use base64::Engine;
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut *bytes);
        let random = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(*bytes);
        self.store(
            purpose,
            subject,
            Zeroizing::new(format!("{prefix}{random}")),
        )
        .await
    }

    async fn store(
        &self,
        purpose: CodePurpose,
        subject: &str,
        code: Zeroizing<String>,
    ) -> Result<IssuedCode, StoreError> {
        let mac = self.mac(purpose, subject, &code);
        let ttl = match purpose {
            CodePurpose::EmailVerification
            | CodePurpose::SignIn
            | CodePurpose::PhoneVerification
            | CodePurpose::EmailChange => self.ttl,
            CodePurpose::PasswordReset => crate::accounts::RESET_CODE_TTL,
            CodePurpose::SecondFactor => crate::accounts::MFA_TOKEN_TTL,
            CodePurpose::OidcState => crate::oidc::STATE_TTL,
            CodePurpose::ExternalLogin => crate::accounts::LOGIN_CODE_TTL,
            CodePurpose::AuthorizationCode => crate::accounts::oauth::CODE_TTL,
        };
        self.db
            .put_code(purpose.as_str(), subject, &mac, ttl)
            .await?;
        Ok(IssuedCode(code))
    }

    /// Checks `code`; if it is right, takes it and runs `then`, and puts it
    /// back if `then` fails (unless a newer code replaced it meanwhile). A
    /// wrong code counts against the attempt limit; once the limit is
    /// reached even the right code is refused.
    ///
    /// The code's row is locked only while it is checked and taken, not
    /// while `then` runs: `then` needs a connection of its own, and holding
    /// one per verification while waiting for a second would stall every
    /// verification once the pool is exhausted. Two concurrent tries of the
    /// right code still succeed once: the second finds it taken. A crash
    /// between taking the code and putting it back loses it; the user asks
    /// for a new one.
    pub async fn redeem<T, E, F, Fut>(
        &self,
        purpose: CodePurpose,
        subject: &str,
        code: &str,
        then: F,
    ) -> Result<T, CodeError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let taken = self.take(purpose, subject, code).await?;
        match then().await {
            Ok(value) => Ok(value),
            Err(error) => {
                if let Err(db) = self.put_back(purpose, subject, &taken).await {
                    tracing::warn!(error = %Chain(&db), "could not put back a one-time code");
                }
                Err(CodeError::Then(error))
            }
        }
    }

    /// Takes `code` for good if it is right (a single-use token that no
    /// follow-up can give back).
    pub async fn consume(
        &self,
        purpose: CodePurpose,
        subject: &str,
        code: &str,
    ) -> Result<(), CodeError<std::convert::Infallible>> {
        self.take(purpose, subject, code).await.map(|_| ())
    }

    /// Checks `code` under the row's lock and deletes it if it is right.
    async fn take<E>(
        &self,
        purpose: CodePurpose,
        subject: &str,
        code: &str,
    ) -> Result<StoredCode, CodeError<E>> {
        let taken = self
            .db
            .take_code(purpose.as_str(), subject, self.max_attempts, |mac| {
                self.matches(purpose, subject, code, mac)
            })
            .await?;
        match taken {
            Taken::Code(code) => Ok(code),
            Taken::Wrong | Taken::Missing => Err(CodeError::Invalid),
            Taken::Exhausted => Err(CodeError::TooManyAttempts),
        }
    }

    /// Restores a taken code, unless a new one was issued since.
    async fn put_back(
        &self,
        purpose: CodePurpose,
        subject: &str,
        taken: &StoredCode,
    ) -> Result<(), StoreError> {
        self.db.restore_code(purpose.as_str(), subject, taken).await
    }

    fn hmac(&self, purpose: CodePurpose, subject: &str, code: &str) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&*self.key).expect("HMAC takes any key length");
        for part in [purpose.as_str(), subject, code] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac
    }

    fn mac(&self, purpose: CodePurpose, subject: &str, code: &str) -> Vec<u8> {
        self.hmac(purpose, subject, code)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    /// Constant-time comparison against the stored MAC.
    fn matches(&self, purpose: CodePurpose, subject: &str, code: &str, stored: &[u8]) -> bool {
        self.hmac(purpose, subject, code.trim())
            .verify_slice(stored)
            .is_ok()
    }
}

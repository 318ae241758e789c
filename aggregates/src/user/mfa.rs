//! The second factor of an account: a TOTP (RFC 6238) secret and the
//! recovery codes that stand in for it.
//!
//! The aggregate never sees a secret or a code in plain text: the TOTP
//! secret arrives sealed (encrypted at the edge with a key derived from the
//! server secret) and recovery codes as keyed hashes. What it decides is
//! the order of things: a secret is confirmed before it counts, a time step
//! is accepted at most once (a code seen once is never good again, even
//! within its window), and a recovery code works once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{UserError, UserEvent};

/// The second-factor part of the account state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactor {
    /// A sealed secret shown to the person, waiting for its first code.
    pub pending_secret: Option<String>,
    /// The sealed secret in force: TOTP is on when this is set.
    pub totp_secret: Option<String>,
    /// The last time step whose code was accepted; only later ones are.
    pub last_used_step: u64,
    /// Keyed hashes of the recovery codes not used yet.
    pub recovery_codes: Vec<String>,
}

/// What proved the second factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactorProof {
    /// A TOTP code, matched at this time step.
    Totp { step: u64 },
    /// A recovery code, by its keyed hash.
    RecoveryCode { hash: String },
}

/// The kind of second factor used, as events and tokens tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactorMethod {
    Totp,
    RecoveryCode,
}

impl SecondFactorProof {
    pub fn method(&self) -> SecondFactorMethod {
        match self {
            Self::Totp { .. } => SecondFactorMethod::Totp,
            Self::RecoveryCode { .. } => SecondFactorMethod::RecoveryCode,
        }
    }
}

impl SecondFactor {
    pub fn enabled(&self) -> bool {
        self.totp_secret.is_some()
    }

    pub(super) fn start(
        &self,
        sealed_secret: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        if self.enabled() {
            return Err(UserError::TotpAlreadyEnabled);
        }
        Ok(vec![UserEvent::TotpEnrollmentStarted { sealed_secret, at }])
    }

    pub(super) fn confirm(
        &self,
        step: u64,
        recovery_codes: Vec<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        if self.enabled() {
            return Err(UserError::TotpAlreadyEnabled);
        }
        if self.pending_secret.is_none() {
            return Err(UserError::NoTotpEnrollment);
        }
        Ok(vec![UserEvent::TotpEnabled {
            step,
            recovery_codes,
            at,
        }])
    }

    /// Checks a proof against what was used before; the caller has matched
    /// the code itself.
    pub(super) fn verify(
        &self,
        proof: SecondFactorProof,
        at: DateTime<Utc>,
    ) -> Result<UserEvent, UserError> {
        if !self.enabled() {
            return Err(UserError::TotpNotEnabled);
        }
        match &proof {
            SecondFactorProof::Totp { step } if *step <= self.last_used_step => {
                return Err(UserError::SecondFactorReplayed)
            }
            SecondFactorProof::RecoveryCode { hash } if !self.recovery_codes.contains(hash) => {
                return Err(UserError::SecondFactorReplayed)
            }
            _ => {}
        }
        let remaining = match proof {
            SecondFactorProof::RecoveryCode { .. } => self.recovery_codes.len() - 1,
            SecondFactorProof::Totp { .. } => self.recovery_codes.len(),
        };
        Ok(UserEvent::SecondFactorVerified {
            proof,
            remaining_recovery_codes: remaining as u32,
            at,
        })
    }

    pub(super) fn replace_codes(
        &self,
        recovery_codes: Vec<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        if !self.enabled() {
            return Err(UserError::TotpNotEnabled);
        }
        Ok(vec![UserEvent::RecoveryCodesReplaced {
            recovery_codes,
            at,
        }])
    }

    pub(super) fn disable(
        &self,
        by: Option<String>,
        step: Option<u64>,
        at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        if !self.enabled() && self.pending_secret.is_none() {
            return Err(UserError::TotpNotEnabled);
        }
        if step.is_some_and(|step| step <= self.last_used_step) {
            return Err(UserError::SecondFactorReplayed);
        }
        Ok(vec![UserEvent::TotpDisabled { by, at }])
    }

    /// The state change of a second-factor event (pure).
    pub(super) fn apply(&mut self, event: &UserEvent) {
        match event {
            UserEvent::TotpEnrollmentStarted { sealed_secret, .. } => {
                self.pending_secret = Some(sealed_secret.clone());
            }
            UserEvent::TotpEnabled {
                step,
                recovery_codes,
                ..
            } => {
                self.totp_secret = self.pending_secret.take();
                self.last_used_step = *step;
                self.recovery_codes = recovery_codes.clone();
            }
            UserEvent::SecondFactorVerified { proof, .. } => match proof {
                SecondFactorProof::Totp { step } => self.last_used_step = *step,
                SecondFactorProof::RecoveryCode { hash } => {
                    self.recovery_codes.retain(|kept| kept != hash);
                }
            },
            UserEvent::RecoveryCodesReplaced { recovery_codes, .. } => {
                self.recovery_codes = recovery_codes.clone();
            }
            UserEvent::TotpDisabled { .. } => *self = Self::default(),
            _ => {}
        }
    }
}

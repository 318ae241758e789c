//! Identities at OpenID providers linked to an account: one per provider,
//! each an `(issuer, subject)` pair unique across accounts (a claim).
//!
//! How a provider's word reaches an account is decided here:
//! - a linked identity signs into its account;
//! - a provider-verified email that matches a *verified* account links to
//!   it (the provider and this service both vouch for the address);
//! - a provider-verified email that matches an *unverified* account takes
//!   it over (pre-account-takeover defence): whoever registered the address
//!   never proved it, the provider's user did, so the account becomes
//!   theirs and the password it was registered with is removed
//!   (`claimed_unverified`); its sessions end with it. An unverified
//!   provider email never links to anything.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{User, UserError, UserEvent};

/// One identity at an OpenID provider, as the account keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalIdentity {
    /// The configured provider's lower-case name (`google`).
    pub provider: String,
    /// The provider's `iss`.
    pub issuer: String,
    /// The provider's `sub`: stable for the person at that issuer.
    pub subject: String,
    /// The email the provider gave when the identity was linked.
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
}

impl User {
    /// Whether the account has a password to sign in with.
    pub fn has_password(&self) -> bool {
        !self.password_hash.is_empty()
    }

    /// The linked identity of `provider`, if any.
    pub fn identity(&self, provider: &str) -> Option<&ExternalIdentity> {
        self.identities.iter().find(|i| i.provider == provider)
    }

    pub(super) fn link(
        &self,
        identity: ExternalIdentity,
        claim_unverified: bool,
    ) -> Result<Vec<UserEvent>, UserError> {
        if let Some(linked) = self.identity(&identity.provider) {
            if linked.issuer == identity.issuer && linked.subject == identity.subject {
                return Ok(vec![]);
            }
            return Err(UserError::ProviderAlreadyLinked);
        }
        let at = identity.linked_at;
        let mut events = Vec::new();
        let claimed_unverified = claim_unverified && !self.email_verified;
        if claimed_unverified {
            events.push(UserEvent::EmailVerified { verified_at: at });
        }
        events.push(linked(identity, claimed_unverified));
        Ok(events)
    }

    pub(super) fn unlink(
        &self,
        provider: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        let identity = self
            .identity(provider)
            .ok_or(UserError::IdentityNotLinked)?;
        if !self.has_password() && self.identities.len() == 1 {
            return Err(UserError::LastSignInMethod);
        }
        Ok(vec![UserEvent::ExternalIdentityUnlinked {
            provider: identity.provider.clone(),
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            at,
        }])
    }

    /// The state change of an identity event (pure).
    pub(super) fn apply_identity(&mut self, event: UserEvent) {
        match event {
            UserEvent::ExternalIdentityLinked {
                provider,
                issuer,
                subject,
                email,
                claimed_unverified,
                at,
            } => {
                if claimed_unverified {
                    // The password of whoever registered the address
                    // without proving it never opens the account again.
                    self.password_hash.clear();
                    self.lockout.reset();
                }
                self.identities.push(ExternalIdentity {
                    provider,
                    issuer,
                    subject,
                    email,
                    linked_at: at,
                });
            }
            UserEvent::ExternalIdentityUnlinked { provider, .. } => {
                self.identities.retain(|i| i.provider != provider);
            }
            _ => {}
        }
    }
}

/// The event linking `identity`.
pub(super) fn linked(identity: ExternalIdentity, claimed_unverified: bool) -> UserEvent {
    UserEvent::ExternalIdentityLinked {
        provider: identity.provider,
        issuer: identity.issuer,
        subject: identity.subject,
        email: identity.email,
        claimed_unverified,
        at: identity.linked_at,
    }
}

//! Signing in through an OpenID provider (Google by default): the web
//! flow (start, callback, exchange of a one-time `login_code`), the native
//! flow (an ID token the app obtained), and linking or unlinking an
//! identity to one's own account.
//!
//! Which account a provider's identity reaches is the `User` aggregate's
//! rule (`aggregates::user::identities`): a linked `(issuer, subject)`
//! signs into its account; else a provider-verified email links to the
//! account of that address (taking over an account whose owner never
//! verified it, password removed and sessions ended); else a new account
//! is made. A provider that has not verified the email reaches nothing:
//! 403 `provider_email_not_verified`.
//!
//! Tokens never travel in a URL: the callback redirects with a `login_code`
//! (60 s, single use, kept as a MAC) that `POST /auth/oidc/exchange`
//! turns into tokens, or into the second-factor challenge.

use std::time::Duration;

use aggregates::session::RevocationReason;
use aggregates::user::{ExternalIdentity, LoginMethod};
use aggregates::values::{Email, Username};
use aggregates::{User, UserCommand, UserEvent};
use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use super::mfa::{after_first_factor, SignedIn};
use super::sessions::ClientInfo;
use super::Identifier;
use crate::auth::codes::CodePurpose;
use crate::auth::CodeError;
use crate::error::{AppError, FieldError};
use crate::oidc::{FlowState, LinkGrant, OidcError, VerifiedIdentity};
use crate::state::AppState;
use crate::store::claims::external_identity;
use crate::store::{Actor, ClaimKind, CommandError, Committed, Metadata};

/// How long a `login_code` may wait for its exchange.
pub const LOGIN_CODE_TTL: Duration = Duration::from_secs(60);

/// How long a used native ID token is remembered (so it signs in once):
/// longer than providers let ID tokens live.
const ID_TOKEN_MEMORY: Duration = Duration::from_secs(2 * 3600);

/// `GET /auth/oidc/{provider}/start` and `POST /me/identities/{provider}`:
/// the provider's authorization URL, with a sealed single-use `state`.
pub async fn start(
    state: &AppState,
    provider: &str,
    redirect_uri: &str,
    link_to: Option<Uuid>,
) -> Result<Started, AppError> {
    known(state, provider)?;
    if !state
        .config
        .oidc
        .redirect_uris
        .iter()
        .any(|u| u == redirect_uri)
    {
        return Err(AppError::Validation(vec![FieldError::new(
            "redirect_uri",
            "not_allowed",
            "not one of IDENTITY_OIDC_REDIRECT_URIS",
        )]));
    }
    let id = Uuid::new_v4();
    let token = state
        .codes
        .issue_token(CodePurpose::OidcState, &id.to_string(), "")
        .await?;
    let make_state = |nonce: &str, pkce_verifier: &str| {
        state.oidc_states.seal(&FlowState {
            id,
            token: token.expose().to_owned(),
            provider: provider.to_owned(),
            nonce: nonce.to_owned(),
            pkce_verifier: pkce_verifier.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            link_to,
            expires_at: Utc::now() + super::sessions::span(crate::oidc::STATE_TTL),
        })
    };
    let url = state.oidc.authorize(provider, make_state).await?;
    Ok(Started {
        url,
        browser: id.simple().to_string(),
    })
}

/// A started flow: where to send the browser, and what the browser keeps
/// (in a cookie) to prove at the callback that it is the one that started.
pub struct Started {
    pub url: String,
    pub browser: String,
}

/// `GET /auth/oidc/{provider}/callback`: where to send the browser now.
pub async fn callback(
    state: &AppState,
    provider: &str,
    code: &str,
    sealed_state: &str,
    browser: Option<&str>,
    metadata: Metadata,
) -> Result<String, AppError> {
    let flow = take_state(state, provider, sealed_state, browser).await?;
    let identity = state
        .oidc
        .exchange(provider, code, &flow.pkce_verifier, &flow.nonce)
        .await?;
    let mut back = reqwest::Url::parse(&flow.redirect_uri).map_err(AppError::internal)?;
    if let Some(user_id) = flow.link_to {
        let link_code = grant_link(state, user_id, identity).await?;
        back.query_pairs_mut().append_pair("link_code", &link_code);
        return Ok(back.to_string());
    }
    let user_id = resolve(state, identity, metadata).await?;
    // An id of its own: two sign-ins of one person do not replace each
    // other's code.
    let id = Uuid::new_v4();
    let prefix = format!("{}.", user_id.simple());
    let code = state
        .codes
        .issue_token(CodePurpose::ExternalLogin, &id.to_string(), &prefix)
        .await?;
    let login_code = format!("{}.{}", id.simple(), code.expose());
    back.query_pairs_mut()
        .append_pair("login_code", &login_code);
    Ok(back.to_string())
}

/// `GET /auth/oidc/{provider}/callback?error=...`: the provider (or the
/// person there) said no; the browser goes back to the client with the
/// provider's `error` code, as OAuth 2.0 does, and the state is spent.
pub async fn callback_refused(
    state: &AppState,
    provider: &str,
    sealed_state: &str,
    browser: Option<&str>,
    error: &str,
) -> Result<String, AppError> {
    let flow = take_state(state, provider, sealed_state, browser).await?;
    let mut back = reqwest::Url::parse(&flow.redirect_uri).map_err(AppError::internal)?;
    // Only the code's characters (RFC 6749: printable ASCII) go back.
    let error: String = error
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect();
    back.query_pairs_mut().append_pair("error", &error);
    Ok(back.to_string())
}

/// Opens and spends a callback's `state`: one of ours, of this provider,
/// not expired, not used before, and (a sign-in's) coming back to the
/// browser that started it (`browser`, its cookie).
async fn take_state(
    state: &AppState,
    provider: &str,
    sealed_state: &str,
    browser: Option<&str>,
) -> Result<FlowState, AppError> {
    known(state, provider)?;
    let flow: FlowState = state
        .oidc_states
        .open(sealed_state, Utc::now())
        .filter(|flow: &FlowState| flow.provider == provider)
        .ok_or(AppError::InvalidState)?;
    let started_here = browser == Some(flow.id.simple().to_string().as_str());
    if flow.link_to.is_none() && !started_here {
        return Err(AppError::InvalidState);
    }
    // Single use: taken before anything else, whatever follows.
    state
        .codes
        .consume(CodePurpose::OidcState, &flow.id.to_string(), &flow.token)
        .await
        .map_err(|_| AppError::InvalidState)?;
    Ok(flow)
}

/// `POST /auth/oidc/exchange`: the `login_code` for tokens (or the
/// second-factor challenge).
pub async fn exchange(
    state: &AppState,
    login_code: &str,
    client: ClientInfo,
    mut metadata: Metadata,
) -> Result<SignedIn, AppError> {
    // `id.user.random`; the MAC covers `user.random`.
    let (id, mac_part) = login_code
        .trim()
        .split_once('.')
        .ok_or(AppError::InvalidCode)?;
    let (user, _) = mac_part.split_once('.').ok_or(AppError::InvalidCode)?;
    let id = Uuid::try_parse(id).map_err(|_| AppError::InvalidCode)?;
    let user_id = Uuid::try_parse(user).map_err(|_| AppError::InvalidCode)?;
    metadata.actor.get_or_insert(Actor::User(user_id));
    let session_id = Uuid::now_v7();
    let complete = || complete_sign_in(state, user_id, session_id, &metadata);
    let committed = match state
        .codes
        .redeem(
            CodePurpose::ExternalLogin,
            &id.to_string(),
            mac_part,
            complete,
        )
        .await
    {
        Ok(committed) => committed,
        Err(CodeError::Invalid | CodeError::TooManyAttempts) => return Err(AppError::InvalidCode),
        Err(CodeError::Then(error)) => return Err(error),
        Err(CodeError::Database(error)) => return Err(error.into()),
    };
    let method = LoginMethod::Oidc;
    after_first_factor(state, committed, session_id, method, client, metadata).await
}

/// `POST /auth/oidc/{provider}/id-token`: a native app's ID token, with the
/// nonce it asked for. Each ID token signs in once.
pub async fn sign_in_with_id_token(
    state: &AppState,
    provider: &str,
    id_token: &str,
    nonce: &str,
    client: ClientInfo,
    mut metadata: Metadata,
) -> Result<SignedIn, AppError> {
    known(state, provider)?;
    let identity = state.oidc.verify_raw(provider, id_token, nonce).await?;
    let fingerprint = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(id_token.trim()));
    let first_use = state
        .cooldowns
        .try_start("oidc-id-token", &fingerprint, ID_TOKEN_MEMORY)
        .await?;
    if first_use.is_some() {
        return Err(OidcError::InvalidIdToken("this ID token was already used".into()).into());
    }
    let user_id = resolve(state, identity, metadata.clone()).await?;
    metadata.actor.get_or_insert(Actor::User(user_id));
    let session_id = Uuid::now_v7();
    let committed = complete_sign_in(state, user_id, session_id, &metadata).await?;
    let method = LoginMethod::Oidc;
    after_first_factor(state, committed, session_id, method, client, metadata).await
}

/// The first factor of a provider sign-in, under the account's lockout as
/// any other: a locked account is not signed into by its provider either.
async fn complete_sign_in(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
    metadata: &Metadata,
) -> Result<Committed<User>, AppError> {
    let id = user_id.to_string();
    super::login::reserve_check(state, &id, metadata).await?;
    let complete = UserCommand::CompletePasswordCheck {
        at: Utc::now(),
        session_id,
        method: LoginMethod::Oidc,
    };
    Ok(state.users.execute(&id, complete, metadata).await?)
}

/// The account `identity` signs into, linked or made as needed.
async fn resolve(
    state: &AppState,
    identity: VerifiedIdentity,
    mut metadata: Metadata,
) -> Result<Uuid, AppError> {
    let claim = external_identity(&identity.issuer, &identity.subject);
    if let Some(owner) = state
        .db
        .claim_owner(ClaimKind::ExternalIdentity, &claim.value)
        .await?
    {
        return Uuid::try_parse(&owner).map_err(AppError::internal);
    }
    let email = match (&identity.email, identity.email_verified) {
        (Some(email), true) => Email::parse(email).map_err(|_| unverified_email())?,
        _ => return Err(unverified_email()),
    };
    let linked = ExternalIdentity {
        provider: identity.provider.clone(),
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        email: Some(email.as_str().to_owned()),
        linked_at: Utc::now(),
    };
    if let Some(account) = super::find_login(state, &Identifier::Email(email.clone())).await? {
        metadata.actor.get_or_insert(Actor::User(account.user_id));
        link_by_email(state, account.user_id, linked, metadata).await?;
        return Ok(account.user_id);
    }
    create(state, email, linked, metadata).await
}

fn unverified_email() -> AppError {
    AppError::ProviderEmailNotVerified
}

/// Links to the account holding the provider-verified address; an account
/// whose owner never verified it is taken over (its sessions end).
async fn link_by_email(
    state: &AppState,
    user_id: Uuid,
    identity: ExternalIdentity,
    metadata: Metadata,
) -> Result<(), AppError> {
    let command = UserCommand::LinkExternalIdentity {
        identity,
        claim_unverified: true,
    };
    let committed = state
        .users
        .execute(&user_id.to_string(), command, &metadata)
        .await?;
    let taken_over = committed.events.iter().any(|e| {
        matches!(
            e,
            UserEvent::ExternalIdentityLinked {
                claimed_unverified: true,
                ..
            }
        )
    });
    if taken_over {
        tracing::warn!(%user_id, "an unverified account was taken over by the provider-verified owner of its address");
        let reason = RevocationReason::AccountClaimed;
        super::revoke_all_sessions(state, user_id, reason, metadata).await?;
    }
    super::settle(state, committed.cursor).await;
    Ok(())
}

/// A new account for the provider's user: its verified email, a username
/// made from the address (with a number when taken), no password.
async fn create(
    state: &AppState,
    email: Email,
    identity: ExternalIdentity,
    mut metadata: Metadata,
) -> Result<Uuid, AppError> {
    let policy = &state.config.username_policy;
    let base = username_base(email.as_str(), policy.min_len, policy.max_len);
    for attempt in 0..5 {
        let candidate = if attempt == 0 {
            base.clone()
        } else {
            let suffix = rand::Rng::gen_range(&mut rand::rngs::OsRng, 1000..10000);
            format!("{}{suffix}", &base[..base.len().min(policy.max_len - 4)])
        };
        let username = Username::parse(&candidate, policy).map_err(AppError::internal)?;
        let user_id = Uuid::now_v7();
        metadata.actor = Some(Actor::User(user_id));
        let command = UserCommand::RegisterExternalUser {
            user_id,
            username,
            email: email.clone(),
            identity: identity.clone(),
        };
        match state
            .users
            .execute(&user_id.to_string(), command, &metadata)
            .await
        {
            Ok(committed) => {
                super::settle(state, committed.cursor).await;
                return Ok(user_id);
            }
            Err(CommandError::Claimed(ClaimKind::Username)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(AppError::Contention)
}

/// The local part of `email`, kept to what usernames allow and fitted to
/// the policy's lengths.
fn username_base(email: &str, min: usize, max: usize) -> String {
    let local = email.split('@').next().unwrap_or_default();
    let mut name: String = local
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(max.saturating_sub(4).max(min))
        .collect();
    while name.len() < min.max(1) {
        name.push('_');
    }
    name
}

/// An identity linked to the signed-in person's account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkedIdentity {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub linked_at: chrono::DateTime<Utc>,
}

/// `GET /me/identities`.
pub async fn identities(state: &AppState, user_id: Uuid) -> Result<Vec<LinkedIdentity>, AppError> {
    let (user, _) = state.users.load(&user_id.to_string()).await?;
    Ok(user
        .identities
        .into_iter()
        .map(|i| LinkedIdentity {
            provider: i.provider,
            issuer: i.issuer,
            subject: i.subject,
            email: i.email,
            linked_at: i.linked_at,
        })
        .collect())
}

/// A link flow's checked identity, sealed for its starter to confirm:
/// the `link_code`.
async fn grant_link(
    state: &AppState,
    user: Uuid,
    identity: VerifiedIdentity,
) -> Result<String, AppError> {
    let id = Uuid::new_v4();
    let token = state
        .codes
        .issue_token(CodePurpose::ExternalLogin, &id.to_string(), "link.")
        .await?;
    Ok(state.oidc_states.seal(&LinkGrant {
        id,
        token: token.expose().to_owned(),
        user,
        provider: identity.provider,
        issuer: identity.issuer,
        subject: identity.subject,
        email: identity.email.filter(|_| identity.email_verified),
        expires_at: Utc::now() + super::sessions::span(LOGIN_CODE_TTL),
    }))
}

/// `POST /me/identities/{provider}/confirm`: the signed-in person who
/// started a link flow links the identity its callback checked.
pub async fn confirm_link(
    state: &AppState,
    user_id: Uuid,
    provider: &str,
    link_code: &str,
    metadata: Metadata,
) -> Result<(), AppError> {
    known(state, provider)?;
    let grant: LinkGrant = state
        .oidc_states
        .open(link_code, Utc::now())
        .filter(|g: &LinkGrant| g.provider == provider && g.user == user_id)
        .ok_or(AppError::InvalidCode)?;
    state
        .codes
        .consume(
            CodePurpose::ExternalLogin,
            &grant.id.to_string(),
            &grant.token,
        )
        .await
        .map_err(|_| AppError::InvalidCode)?;
    let command = UserCommand::LinkExternalIdentity {
        identity: ExternalIdentity {
            provider: grant.provider,
            issuer: grant.issuer,
            subject: grant.subject,
            email: grant.email,
            linked_at: Utc::now(),
        },
        claim_unverified: false,
    };
    super::on_account(state, user_id, command, &metadata).await?;
    Ok(())
}

/// `DELETE /me/identities/{provider}`.
pub async fn unlink(
    state: &AppState,
    user_id: Uuid,
    provider: &str,
    metadata: Metadata,
) -> Result<(), AppError> {
    let command = UserCommand::UnlinkExternalIdentity {
        provider: provider.to_owned(),
        at: Utc::now(),
    };
    super::on_account(state, user_id, command, &metadata).await?;
    Ok(())
}

fn known(state: &AppState, provider: &str) -> Result<(), AppError> {
    if state.oidc.knows(provider) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::username_base;

    #[test]
    fn a_username_is_made_from_the_local_part_within_the_policy() {
        assert_eq!(
            username_base("Ada.Lovelace+x@example.com", 3, 32),
            "adalovelacex"
        );
        assert_eq!(username_base("a@example.com", 3, 32), "a__");
        assert_eq!(
            username_base(&format!("{}@x.io", "b".repeat(40)), 3, 32).len(),
            28
        );
    }
}

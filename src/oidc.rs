//! OpenID Connect providers as a relying party: discovery, the
//! authorization URL (code flow with PKCE S256, `state`, `nonce`), the code
//! exchange, and the ID token's checks (signature against the provider's
//! JWKS, `iss`, `aud`, `exp`, `nonce`), all by the `openidconnect` crate.
//!
//! Each provider is discovered on first use and its metadata (with its
//! JWKS) kept; an ID token signed by a key the cached JWKS lacks makes one
//! fetch of the JWKS before it is refused, so a provider's key rotation
//! costs one request, not an outage. Every call to a provider goes through
//! the provider's circuit breaker (`breaker`) with the configured timeout:
//! a provider that is down answers 503 `provider_unavailable` promptly.

mod state;

use std::collections::HashMap;
use std::sync::Arc;

use openidconnect::core::{
    CoreClient, CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreProviderMetadata,
    CoreResponseType,
};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use tokio::sync::RwLock;

pub use state::{Expiring, FlowState, LinkGrant, StateSealer, STATE_TTL};

use crate::breaker::{BreakerError, CircuitBreaker};
use crate::config::oidc::{OidcConfig, OidcProvider};

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("no OpenID provider named {0} is configured")]
    UnknownProvider(String),
    /// The provider could not be reached, timed out, its breaker is open,
    /// or it answered something unusable.
    #[error("the OpenID provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the code (wrong, used, expired).
    #[error("the provider refused the authorization code: {0}")]
    CodeRefused(String),
    /// The ID token failed a check (signature, issuer, audience, expiry,
    /// nonce) or could not be read.
    #[error("the ID token is not valid: {0}")]
    InvalidIdToken(String),
}

/// What a checked ID token says about the person.
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    /// The email, with whether the provider says it verified it.
    pub email: Option<String>,
    pub email_verified: bool,
}

/// The configured providers.
#[derive(Clone)]
pub struct Providers {
    providers: Arc<HashMap<String, Provider>>,
    http: openidconnect::reqwest::Client,
    callback_base: String,
}

struct Provider {
    config: OidcProvider,
    metadata: RwLock<Option<CoreProviderMetadata>>,
    breaker: CircuitBreaker,
}

impl Providers {
    pub fn new(config: &OidcConfig, public_url: &str) -> anyhow::Result<Self> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would let a provider's answer send us
            // anywhere (SSRF); providers answer directly.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .build()?;
        let providers = config
            .providers
            .iter()
            .map(|p| {
                let breaker = CircuitBreaker::new(
                    "oidc",
                    5,
                    config.breaker_cool_down,
                    config.timeout + std::time::Duration::from_secs(1),
                );
                let provider = Provider {
                    config: p.clone(),
                    metadata: RwLock::new(None),
                    breaker,
                };
                (p.name.clone(), provider)
            })
            .collect();
        Ok(Self {
            providers: Arc::new(providers),
            http,
            callback_base: public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Whether `name` is a configured provider.
    pub fn knows(&self, name: &str) -> bool {
        self.providers.contains_key(name)
    }

    /// Where the provider sends the browser back to.
    pub fn callback_url(&self, provider: &str) -> String {
        format!(
            "{}/api/v1/auth/oidc/{provider}/callback",
            self.callback_base
        )
    }

    fn provider(&self, name: &str) -> Result<&Provider, OidcError> {
        self.providers
            .get(name)
            .ok_or_else(|| OidcError::UnknownProvider(name.to_owned()))
    }

    /// The provider's authorization URL for a web sign-in. `make_state`
    /// gets the request's nonce and PKCE verifier and answers the `state`
    /// parameter that will bring them back.
    pub async fn authorize(
        &self,
        name: &str,
        make_state: impl FnOnce(&str, &str) -> String,
    ) -> Result<String, OidcError> {
        let provider = self.provider(name)?;
        let client = self.client(provider, provider.metadata(&self.http).await?)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = Nonce::new_random();
        let state = make_state(nonce.secret(), verifier.secret());
        let (url, _, _) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                move || CsrfToken::new(state),
                move || nonce,
            )
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(url.to_string())
    }

    /// Exchanges the callback's `code` and checks the ID token it brings.
    pub async fn exchange(
        &self,
        name: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedIdentity, OidcError> {
        let provider = self.provider(name)?;
        let client = self.client(provider, provider.metadata(&self.http).await?)?;
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Unavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()));
        let response = provider
            .breaker
            .call(request.request_async(&self.http))
            .await
            .map_err(|error| match error {
                BreakerError::Inner(openidconnect::RequestTokenError::ServerResponse(r)) => {
                    OidcError::CodeRefused(r.error().to_string())
                }
                other => OidcError::Unavailable(crate::telemetry::Chain(&other).to_string()),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::InvalidIdToken("the provider sent no ID token".into()))?;
        self.verify(name, id_token, nonce).await
    }

    /// Checks an ID token the client obtained itself (native apps).
    pub async fn verify_raw(
        &self,
        name: &str,
        id_token: &str,
        nonce: &str,
    ) -> Result<VerifiedIdentity, OidcError> {
        let token: CoreIdToken = id_token
            .parse()
            .map_err(|e: serde_json::Error| OidcError::InvalidIdToken(e.to_string()))?;
        self.verify(name, &token, nonce).await
    }

    /// Checks `token`, fetching the JWKS once more if its key is unknown.
    async fn verify(
        &self,
        name: &str,
        token: &CoreIdToken,
        nonce: &str,
    ) -> Result<VerifiedIdentity, OidcError> {
        use openidconnect::{ClaimsVerificationError as Claims, SignatureVerificationError as Sig};
        let provider = self.provider(name)?;
        let nonce = Nonce::new(nonce.to_owned());
        let metadata = provider.metadata(&self.http).await?;
        let client = self.client(provider, metadata.clone())?;
        let verifier = client.id_token_verifier();
        let claims = match token.claims(&verifier, &nonce) {
            Ok(claims) => identity(name, claims),
            Err(Claims::SignatureVerification(Sig::NoMatchingKey)) => {
                let metadata = provider.refresh_keys(&self.http, metadata).await?;
                let client = self.client(provider, metadata)?;
                let verifier = client.id_token_verifier();
                let claims = token
                    .claims(&verifier, &nonce)
                    .map_err(|e| OidcError::InvalidIdToken(e.to_string()))?;
                identity(name, claims)
            }
            Err(other) => return Err(OidcError::InvalidIdToken(other.to_string())),
        };
        Ok(claims)
    }

    fn client(
        &self,
        provider: &Provider,
        metadata: CoreProviderMetadata,
    ) -> Result<Client, OidcError> {
        let redirect = RedirectUrl::new(self.callback_url(&provider.config.name))
            .map_err(|e| OidcError::Unavailable(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.config.client_id.clone()),
            provider.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }
}

fn identity(provider: &str, claims: &CoreIdTokenClaims) -> VerifiedIdentity {
    VerifiedIdentity {
        provider: provider.to_owned(),
        issuer: claims.issuer().as_str().to_owned(),
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().to_ascii_lowercase()),
        email_verified: claims.email_verified().unwrap_or(false),
    }
}

impl Provider {
    /// The provider's metadata, discovered on first use.
    async fn metadata(
        &self,
        http: &openidconnect::reqwest::Client,
    ) -> Result<CoreProviderMetadata, OidcError> {
        if let Some(metadata) = self.metadata.read().await.as_ref() {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| OidcError::Unavailable(e.to_string()))?;
        let discovered = self
            .breaker
            .call(CoreProviderMetadata::discover_async(issuer, http))
            .await
            .map_err(|e| OidcError::Unavailable(crate::telemetry::Chain(&e).to_string()))?;
        *self.metadata.write().await = Some(discovered.clone());
        Ok(discovered)
    }

    /// Fetches the JWKS again (an ID token named a key it lacked).
    async fn refresh_keys(
        &self,
        http: &openidconnect::reqwest::Client,
        metadata: CoreProviderMetadata,
    ) -> Result<CoreProviderMetadata, OidcError> {
        let jwks = self
            .breaker
            .call(CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), http))
            .await
            .map_err(|e| OidcError::Unavailable(crate::telemetry::Chain(&e).to_string()))?;
        let refreshed = metadata.set_jwks(jwks);
        *self.metadata.write().await = Some(refreshed.clone());
        Ok(refreshed)
    }
}

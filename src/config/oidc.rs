//! OpenID providers to sign in with: `IDENTITY_OIDC_PROVIDERS` names them
//! (`google` by default), and each named provider is on when its
//! `IDENTITY_OIDC_<NAME>_CLIENT_ID` is set. Google's issuer is known; any
//! other provider gives its `_ISSUER`, and everything else is discovered
//! from `<issuer>/.well-known/openid-configuration`.

use std::time::Duration;

use super::{ConfigError, Env};

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub providers: Vec<OidcProvider>,
    /// Where a finished web sign-in may send the browser back to (exact
    /// matches only).
    pub redirect_uris: Vec<String>,
    /// Timeout of one call to a provider.
    pub timeout: Duration,
    /// How long a provider's breaker stays open (not a setting: tests
    /// shorten it).
    pub breaker_cool_down: Duration,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            redirect_uris: Vec::new(),
            timeout: Duration::from_secs(5),
            breaker_cool_down: crate::breaker::COOL_DOWN,
        }
    }
}

/// One configured provider.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    /// Lower case, as in the paths (`/auth/oidc/google/start`).
    pub name: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub issuer: String,
}

impl OidcConfig {
    pub(super) fn read(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let names = env
            .var("IDENTITY_OIDC_PROVIDERS")
            .unwrap_or_else(|| "google".to_owned());
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let name = name.to_ascii_lowercase();
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ConfigError::unparsable("IDENTITY_OIDC_PROVIDERS", &names));
            }
            let client_id = env.per_provider("IDENTITY_OIDC_<NAME>_CLIENT_ID", &name);
            let client_secret = env.per_provider("IDENTITY_OIDC_<NAME>_CLIENT_SECRET", &name);
            let issuer = env.per_provider("IDENTITY_OIDC_<NAME>_ISSUER", &name);
            let Some(client_id) = client_id else {
                continue;
            };
            let issuer = match (issuer, name.as_str()) {
                (Some(issuer), _) => issuer,
                (None, "google") => GOOGLE_ISSUER.to_owned(),
                (None, _) => {
                    let variable = format!("IDENTITY_OIDC_{}_ISSUER", name.to_ascii_uppercase());
                    return Err(ConfigError::new(
                        "IDENTITY_OIDC_<NAME>_ISSUER",
                        format!("{variable} is required for a provider other than google"),
                    ));
                }
            };
            self.providers.push(OidcProvider {
                name,
                client_id,
                client_secret,
                issuer: issuer.trim_end_matches('/').to_owned(),
            });
        }
        if let Some(uris) = env.var("IDENTITY_OIDC_REDIRECT_URIS") {
            self.redirect_uris = uris
                .split(',')
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty())
                .collect();
        }
        env.millis(&mut self.timeout, "IDENTITY_OIDC_TIMEOUT_MS")
    }
}

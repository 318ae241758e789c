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
                    return Err(ConfigError::new(
                        issuer_variable(&name),
                        "required for a provider other than google",
                    ));
                }
            };
            if !is_http_url(&issuer) {
                return Err(ConfigError::new(
                    issuer_variable(&name),
                    format!("cannot parse {issuer:?}: expected an http(s) URL"),
                ));
            }
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
            if let Some(bad) = self.redirect_uris.iter().find(|u| !is_http_url(u)) {
                return Err(ConfigError::unparsable("IDENTITY_OIDC_REDIRECT_URIS", bad));
            }
        }
        env.millis(&mut self.timeout, "IDENTITY_OIDC_TIMEOUT_MS")
    }
}

fn issuer_variable(provider: &str) -> String {
    format!("IDENTITY_OIDC_{}_ISSUER", provider.to_ascii_uppercase())
}

/// An absolute `http` or `https` URL.
fn is_http_url(raw: &str) -> bool {
    reqwest::Url::parse(raw).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, String> {
        Config::from_lookup(|name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_provider_is_on_when_its_client_id_is_set_and_google_knows_its_issuer() {
        let google = config(&[("IDENTITY_OIDC_GOOGLE_CLIENT_ID", "id")]).unwrap();
        assert_eq!(google.oidc.providers[0].issuer, super::GOOGLE_ISSUER);
        assert!(config(&[]).unwrap().oidc.providers.is_empty());
        let acme = config(&[
            ("IDENTITY_OIDC_PROVIDERS", "google,acme"),
            ("IDENTITY_OIDC_ACME_CLIENT_ID", "id"),
            ("IDENTITY_OIDC_ACME_ISSUER", "https://id.acme.test/"),
        ])
        .unwrap();
        assert_eq!(acme.oidc.providers[0].name, "acme");
        assert_eq!(acme.oidc.providers[0].issuer, "https://id.acme.test");
    }

    #[test]
    fn a_bad_provider_setting_stops_start_up_naming_it() {
        let no_issuer = config(&[
            ("IDENTITY_OIDC_PROVIDERS", "acme"),
            ("IDENTITY_OIDC_ACME_CLIENT_ID", "id"),
        ]);
        assert!(no_issuer.unwrap_err().contains("IDENTITY_OIDC_ACME_ISSUER"));
        let bad_uri = config(&[(
            "IDENTITY_OIDC_REDIRECT_URIS",
            "https://ok.test/back, not a url",
        )]);
        assert_eq!(
            bad_uri.unwrap_err(),
            r#"IDENTITY_OIDC_REDIRECT_URIS: cannot parse "not a url": expected comma-separated URLs"#
        );
        let bad_issuer = config(&[
            ("IDENTITY_OIDC_GOOGLE_CLIENT_ID", "id"),
            ("IDENTITY_OIDC_GOOGLE_ISSUER", "accounts.google.com"),
        ]);
        assert_eq!(
            bad_issuer.unwrap_err(),
            r#"IDENTITY_OIDC_GOOGLE_ISSUER: cannot parse "accounts.google.com": expected an http(s) URL"#
        );
    }
}

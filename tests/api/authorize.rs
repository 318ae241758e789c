//! The service as an OpenID provider: the authorization-code grant with
//! PKCE through the sign-in page of `/oauth/authorize`, the code's
//! exchange at `/oauth/token`, and the ID token, checked by a third-party
//! verifier (PyJWT) from the JWKS.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use std::time::Duration;

use crate::helpers::*;
use crate::keys::Verifier;
use crate::mfa::next_code;

/// Where the test client says it lives; nothing needs to listen there, the
/// redirects are read, not followed.
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// A registered application and one authorization request of it.
struct Client {
    id: String,
    secret: String,
    verifier: String,
}

impl Client {
    async fn register(app: &TestApp) -> Self {
        let id = unique_name();
        let uri = identity::oauth_clients::RedirectUri::parse(REDIRECT_URI).unwrap();
        let client_id = identity::oauth_clients::ClientId::parse(&id).unwrap();
        let secret = identity::oauth_clients::register(&app.db, &client_id, &[uri])
            .await
            .expect("registered")
            .expect("a new id");
        Self {
            id,
            secret,
            verifier: format!("{}{}", unique_name(), "x".repeat(40)),
        }
    }

    fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }

    /// `/oauth/authorize` with `scope`, `state` and `nonce`, and PKCE.
    fn authorize_url(&self, app: &TestApp, extra: &[(&str, &str)]) -> String {
        let challenge = self.challenge();
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid email profile"),
            ("state", "st-123"),
            ("nonce", "n-456"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in extra {
            params.retain(|(n, _)| n != name);
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        reqwest::Url::parse_with_params(&app.url("/oauth/authorize"), &params)
            .unwrap()
            .to_string()
    }

    /// A code for `account`, signed in on the page with its password.
    async fn code_for(&self, app: &TestApp, account: &Account) -> String {
        let back = app
            .sign_in_on_page(
                &self.authorize_url(app, &[]),
                &[("identifier", &account.username), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
        param(&location_params(&back).1, "code")
            .expect("a code")
            .to_owned()
    }

    /// Trades `code` at the token endpoint, authenticated by HTTP basic.
    async fn exchange(&self, app: &TestApp, code: &str, verifier: &str) -> reqwest::Response {
        app.client
            .post(app.url("/oauth/token"))
            .basic_auth(&self.id, Some(&self.secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap()
    }
}

/// The value of the hidden field `name` on a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    let end = page[start..].find('"').unwrap() + start;
    page[start..end].replace("&amp;", "&")
}

/// The query pairs of a redirect's `Location`.
fn location_params(response: &reqwest::Response) -> (String, Vec<(String, String)>) {
    let location = response.headers()["location"].to_str().unwrap();
    let url = reqwest::Url::parse(location).unwrap();
    let base = format!("{}://{}{}", url.scheme(), url.authority(), url.path());
    (base, url.query_pairs().into_owned().collect())
}

/// The text of a page's alert (what went wrong), or nothing.
fn alert(page: &str) -> String {
    page.split_once("role=\"alert\"")
        .and_then(|(_, rest)| rest.split_once('>'))
        .and_then(|(_, rest)| rest.split_once('<'))
        .map(|(text, _)| text.to_owned())
        .unwrap_or_default()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

impl TestApp {
    /// Opens the sign-in page at `url` and posts `fields` with its sealed
    /// request.
    async fn sign_in_on_page(&self, url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let page = self.client.get(url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let request = hidden(&page.text().await.unwrap(), "request");
        self.post_page(&request, fields).await
    }

    async fn post_page(&self, request: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![("request", request)];
        form.extend_from_slice(fields);
        self.client
            .post(self.url("/oauth/authorize"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

/// The claims of an ID token, its signature checked against the JWKS.
async fn verified_id_token(app: &TestApp, token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(app.jwks().await).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[&app.config.public_url]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("a valid ID token")
        .claims
}

/// What the `openidconnect` crate, as a relying party, makes of the
/// provider: it reads the discovery document as OpenID provider metadata
/// (refusing one that lacks a required field), the JWKS, and verifies the
/// ID token (signature, issuer, audience, expiry, nonce); the subject.
async fn relying_party_verifies(
    app: &TestApp,
    client: &Client,
    id_token: &str,
    nonce: &str,
) -> String {
    use openidconnect::core::{CoreClient, CoreIdToken, CoreJsonWebKeySet, CoreProviderMetadata};
    use openidconnect::{ClientId, ClientSecret, Nonce};
    let discovery = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    let metadata: CoreProviderMetadata =
        serde_json::from_value(body(discovery).await).expect("valid OpenID provider metadata");
    let jwks: CoreJsonWebKeySet = serde_json::from_value(app.jwks().await).expect("a JWKS");
    let relying_party = CoreClient::from_provider_metadata(
        metadata.set_jwks(jwks),
        ClientId::new(client.id.clone()),
        Some(ClientSecret::new(client.secret.clone())),
    );
    let token: CoreIdToken = id_token.parse().expect("an ID token");
    let claims = token
        .claims(
            &relying_party.id_token_verifier(),
            &Nonce::new(nonce.to_owned()),
        )
        .expect("the relying party accepts the ID token");
    claims.subject().as_str().to_owned()
}

#[tokio::test]
async fn an_application_signs_a_person_in_by_code_with_pkce_and_receives_tokens_and_an_id_token() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let client = Client::register(&app).await;

    let page = app
        .client
        .get(client.authorize_url(&app, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(
        policy.contains("form-action 'self' http://127.0.0.1:9"),
        "{policy}"
    );
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&client.id) && html.contains("type=\"password\""),
        "{html}"
    );
    assert!(
        !html.contains(&client.challenge()),
        "the request is sealed, not shown"
    );

    let request = hidden(&html, "request");
    let back = app
        .post_page(
            &request,
            &[("identifier", &account.username), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let (base, params) = location_params(&back);
    assert_eq!(base, REDIRECT_URI);
    assert_eq!(param(&params, "state"), Some("st-123"));
    assert_eq!(param(&params, "iss"), Some(app.config.public_url.as_str()));
    let code = param(&params, "code").expect("a code").to_owned();

    let tokens = client.exchange(&app, &code, &client.verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    assert_eq!(tokens.headers()["cache-control"], "no-store");
    let tokens = body(tokens).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid profile email");
    let access = tokens["access_token"].as_str().unwrap();
    let me = body(app.me(access).await).await;
    assert_eq!(me["id"], account.id.as_str());

    let id_token = tokens["id_token"].as_str().expect("an ID token");
    assert_eq!(
        jsonwebtoken::decode_header(id_token).unwrap().alg,
        jsonwebtoken::Algorithm::RS256
    );
    let claims = verified_id_token(&app, id_token, &client.id).await;
    assert_eq!(claims["sub"], account.id.as_str());
    assert_eq!(claims["aud"], client.id.as_str());
    assert_eq!(claims["azp"], client.id.as_str());
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["sid"], tokens["session_id"]);
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["preferred_username"], account.username.as_str());
    assert_eq!(claims["email"], format!("{}@example.com", account.username));
    assert_eq!(claims["email_verified"], true);
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
    // Third-party libraries, from the published documents alone: PyJWT
    // from the JWKS (it panics on a refusal), and a relying party's
    // OpenID library from the discovery document and the JWKS.
    let mut pyjwt = Verifier::for_audience(&app, Duration::from_secs(300), &client.id, "RS256");
    pyjwt.verify(id_token).await;
    let subject = relying_party_verifies(&app, &client, id_token, "n-456").await;
    assert_eq!(subject, account.id);

    // The refresh token the client received rotates as any other.
    let refreshed = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_code_works_once_and_its_second_use_ends_the_session_it_began() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let client = Client::register(&app).await;
    let code = client.code_for(&app, &account).await;
    let first = body(client.exchange(&app, &code, &client.verifier).await).await;
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(app.me(access).await.status(), StatusCode::OK);

    let again = client.exchange(&app, &code, &client.verifier).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(again).await["error"], "invalid_grant");
    assert_eq!(app.me(access).await.status(), StatusCode::UNAUTHORIZED);
    let refresh = app.refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_token_endpoint_gives_a_code_only_to_its_client_with_its_verifier_and_redirect_uri() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let client = Client::register(&app).await;
    let other = Client::register(&app).await;
    let code = client.code_for(&app, &account).await;

    let wrong_verifier = client.exchange(&app, &code, &other.verifier).await;
    assert_eq!(wrong_verifier.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(wrong_verifier).await["error"], "invalid_grant");
    let other_client = other.exchange(&app, &code, &client.verifier).await;
    assert_eq!(body(other_client).await["error"], "invalid_grant");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", client.verifier.as_str()),
    ];
    let token = app.url("/oauth/token");
    let anonymous = app.client.post(&token).form(&form).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    assert_eq!(body(anonymous).await["error"], "invalid_client");
    let wrong_secret = app
        .client
        .post(&token)
        .basic_auth(&client.id, Some("not-the-secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);
    let mut other_uri = form.to_vec();
    other_uri[2] = ("redirect_uri", "http://127.0.0.1:9/elsewhere");
    let moved = app
        .client
        .post(&token)
        .basic_auth(&client.id, Some(&client.secret))
        .form(&other_uri)
        .send()
        .await
        .unwrap();
    assert_eq!(body(moved).await["error"], "invalid_grant");

    // None of those spent the code; its client, with the secret in the
    // form (client_secret_post) and its verifier, still gets the tokens.
    let mut posted = form.to_vec();
    posted.push(("client_id", &client.id));
    posted.push(("client_secret", &client.secret));
    let granted = app.client.post(&token).form(&posted).send().await.unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    let forged = client
        .exchange(&app, &format!("{code}x"), &client.verifier)
        .await;
    assert_eq!(body(forged).await["error"], "invalid_grant");
}

#[tokio::test]
async fn a_bad_authorization_request_goes_back_to_the_client_only_when_its_redirect_uri_is_registered(
) {
    let app = spawn_app().await;
    let client = Client::register(&app).await;
    for (tweak, shown) in [
        (("client_id", "no-such-client"), "not registered"),
        (
            ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
            "not one the client registered",
        ),
        (("redirect_uri", ""), "redirect_uri is missing"),
    ] {
        let page = app
            .client
            .get(client.authorize_url(&app, &[tweak]))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{tweak:?}");
        assert!(!page.headers().contains_key("location"));
        assert!(page.text().await.unwrap().contains(shown), "{tweak:?}");
    }
    for (tweak, error) in [
        (("response_type", "token"), "unsupported_response_type"),
        (("code_challenge_method", "plain"), "invalid_request"),
        (("code_challenge", ""), "invalid_request"),
        (("prompt", "none"), "login_required"),
    ] {
        let back = app
            .client
            .get(client.authorize_url(&app, &[tweak]))
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), StatusCode::SEE_OTHER, "{tweak:?}");
        let (base, params) = location_params(&back);
        assert_eq!(base, REDIRECT_URI);
        assert_eq!(param(&params, "error"), Some(error), "{tweak:?}");
        assert_eq!(param(&params, "state"), Some("st-123"));
        assert!(param(&params, "code").is_none());
    }
    let malformed = app
        .client
        .get(app.url("/oauth/authorize?client_id=%ZZ"))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_sign_in_page_shows_a_wrong_password_again_and_refuses_a_forged_or_missing_request() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let client = Client::register(&app).await;
    let wrong = app
        .sign_in_on_page(
            &client.authorize_url(&app, &[]),
            &[
                ("identifier", &account.username),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let page = wrong.text().await.unwrap();
    assert!(
        page.contains("role=\"alert\"") && page.contains("name=\"request\""),
        "{page}"
    );
    let unknown = app
        .sign_in_on_page(
            &client.authorize_url(&app, &[]),
            &[
                ("identifier", "nobody-here"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        alert(&unknown.text().await.unwrap()),
        alert(&page),
        "an unknown account reads like a wrong password"
    );

    for request in ["forged", ""] {
        let refused = app
            .post_page(
                request,
                &[("identifier", &account.username), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(refused.text().await.unwrap().contains("expired"));
    }
}

#[tokio::test]
async fn an_account_with_a_second_factor_is_asked_for_it_on_the_page_before_the_code() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let enrolled = app.enroll_totp(&account).await;
    let client = Client::register(&app).await;
    let asked = app
        .sign_in_on_page(
            &client.authorize_url(&app, &[]),
            &[("identifier", &account.username), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    let page = asked.text().await.unwrap();
    assert!(page.contains("one-time-code"), "{page}");
    let (request, mfa_token) = (hidden(&page, "request"), hidden(&page, "mfa_token"));

    let wrong = app
        .post_page(&request, &[("mfa_token", &mfa_token), ("code", "000000")])
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(!alert(&wrong.text().await.unwrap()).is_empty());
    let back = app
        .post_page(
            &request,
            &[
                ("mfa_token", &mfa_token),
                ("code", &next_code(&enrolled.secret)),
            ],
        )
        .await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let code = param(&location_params(&back).1, "code").unwrap().to_owned();
    let tokens = body(client.exchange(&app, &code, &client.verifier).await).await;
    let claims = verified_id_token(&app, tokens["id_token"].as_str().unwrap(), &client.id).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
}

#[tokio::test]
async fn a_person_signs_in_on_the_page_in_a_real_browser_and_the_application_gets_the_code() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let client = Client::register(&app).await;
    // Debian's headless Chromium through playwright-core: `.ci/run`
    // installs both; a missing one fails the test, it never skips.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/sign_in.mjs");
    let run = tokio::process::Command::new("node")
        .arg(script)
        .arg(client.authorize_url(&app, &[]))
        .arg(&account.username)
        .arg(PASSWORD)
        .arg(REDIRECT_URI)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the browser finishes within 60 s")
        .expect("node runs");
    let said = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        output.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sent_back = reqwest::Url::parse(&said).expect("the URL the browser was sent to");
    assert!(said.starts_with(REDIRECT_URI), "{said}");
    let params: Vec<(String, String)> = sent_back.query_pairs().into_owned().collect();
    assert_eq!(param(&params, "state"), Some("st-123"));
    let code = param(&params, "code").expect("a code");
    let tokens = client.exchange(&app, code, &client.verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    assert!(body(tokens).await["id_token"].is_string());
}

#[tokio::test]
async fn userinfo_answers_the_claims_of_a_live_access_token_by_get_and_post_and_nothing_after_logout(
) {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let userinfo = app.url("/oauth/userinfo");
    let by_get = app
        .client
        .get(&userinfo)
        .bearer_auth(&account.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_get.status(), StatusCode::OK);
    let claims = body(by_get).await;
    assert_eq!(claims["sub"], account.id.as_str());
    assert_eq!(claims["preferred_username"], account.username.as_str());
    assert_eq!(claims["email"], format!("{}@example.com", account.username));
    assert_eq!(claims["email_verified"], true);
    let by_post = app
        .client
        .post(&userinfo)
        .bearer_auth(&account.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(body(by_post).await, claims);

    assert_eq!(
        app.logout(&account.refresh_token).await.status(),
        StatusCode::NO_CONTENT
    );
    let ended = app
        .client
        .get(&userinfo)
        .bearer_auth(&account.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::UNAUTHORIZED);
    // RFC 6750 3.1, as OpenID Connect Core 5.3.3 asks.
    let challenge = ended.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
    assert_eq!(body(ended).await["error"], "invalid_token");
    let anonymous = app.client.get(&userinfo).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

//! Signing in through an OpenID provider, against a real one on loopback
//! (npm `oauth2-mock-server`, started by `tests/oidc/provider.mjs`; `.ci/run`
//! installs it): new and returning people, linking by verified email, the
//! pre-account-takeover defence, states, ID token checks, key rotation,
//! native ID tokens, linking and unlinking, a provider that is down.

use std::process::Stdio;
use std::time::{Duration, Instant};

use identity::config::oidc::OidcProvider;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::*;
use crate::mfa::{amr, next_code};

const CLIENT_ID: &str = "identity-tests";
const BACK: &str = "http://app.test/signed-in";

/// A running provider, stopped when dropped.
pub struct Provider {
    _child: tokio::process::Child,
    pub issuer: String,
    client: reqwest::Client,
}

impl Provider {
    pub async fn start() -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/provider.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("Node.js runs the OpenID provider stand-in (install Node.js)");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let issuer = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the provider starts within 20 s")
            .expect("its stdout")
            .expect(
                "the provider prints its issuer; is oauth2-mock-server installed \
                 (`npm ci --prefix tests/oidc`, done by .ci/run)?",
            );
        Self {
            _child: child,
            issuer,
            client: reqwest::Client::new(),
        }
    }

    /// Shapes the ID tokens the provider signs from now on.
    pub async fn next(&self, shape: Value) {
        let response = self
            .client
            .post(format!("{}/__test/next", self.issuer))
            .json(&shape)
            .send()
            .await
            .expect("provider answers");
        assert!(response.status().is_success());
    }

    /// The person the provider signs in next.
    pub async fn person(&self, sub: &str, email: &str, verified: bool) {
        let claims = json!({ "sub": sub, "email": email, "email_verified": verified });
        self.next(json!({ "claims": claims })).await;
    }

    /// A new signing key; its id.
    async fn rotate(&self) -> String {
        let url = format!("{}/__test/rotate", self.issuer);
        let response = self
            .client
            .post(url)
            .send()
            .await
            .expect("provider answers");
        assert!(response.status().is_success());
        let key: Value = response.json().await.expect("json");
        key["kid"].as_str().expect("a kid").to_owned()
    }

    /// The key ids ID tokens were signed with, oldest first.
    async fn id_token_kids(&self) -> Vec<String> {
        let url = format!("{}/__test/id-token-kids", self.issuer);
        let response = self.client.get(url).send().await.expect("provider answers");
        response.json().await.expect("json")
    }

    fn config(&self, issuer: &str) -> OidcProvider {
        OidcProvider {
            name: "google".to_owned(),
            client_id: CLIENT_ID.to_owned(),
            client_secret: Some("test-secret".to_owned()),
            issuer: issuer.to_owned(),
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The service, with `issuer` as its `google` provider; its public URL is
/// its own address, so the provider sends the browser back to it.
async fn app_with_issuer(provider: &Provider, issuer: &str) -> TestApp {
    let port = free_port();
    let google = provider.config(issuer);
    spawn_app_with(|c| {
        c.listen_addr = format!("127.0.0.1:{port}").parse().expect("address");
        c.public_url = format!("http://127.0.0.1:{port}");
        c.oidc.providers = vec![google];
        c.oidc.redirect_uris = vec![BACK.to_owned()];
        c.oidc.timeout = Duration::from_secs(2);
        c.oidc.breaker_cool_down = Duration::from_secs(2);
    })
    .await
}

async fn app_with(provider: &Provider) -> TestApp {
    app_with_issuer(provider, &provider.issuer.clone()).await
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("a location")
        .to_owned()
}

fn query_value(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A started web sign-in: the provider's URL, and the cookie the start
/// gave the browser.
struct Started {
    url: String,
    cookie: String,
}

impl TestApp {
    /// The provider's answer to `url`: the callback URL it redirects to.
    async fn at_provider(&self, url: &str) -> String {
        let at_provider = self.client.get(url).send().await.expect("provider");
        assert_eq!(
            at_provider.status(),
            StatusCode::FOUND,
            "the provider redirects back"
        );
        let callback = location(&at_provider);
        assert!(callback.starts_with(&self.address), "{callback}");
        callback
    }

    /// The callback's answer, in a browser holding `cookie`.
    async fn callback(&self, url: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(url);
        if let Some(cookie) = cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        request.send().await.expect("callback")
    }

    /// Follows a web sign-in from its start to the provider and back to
    /// the callback, in one browser; the callback's answer.
    async fn web_sign_in(&self) -> reqwest::Response {
        let started = self.start().await;
        let callback = self.at_provider(&started.url).await;
        self.callback(&callback, Some(&started.cookie)).await
    }

    async fn start(&self) -> Started {
        let path = format!("/api/v1/auth/oidc/google/start?redirect_uri={BACK}");
        let start = self
            .client
            .get(self.url(&path))
            .send()
            .await
            .expect("start");
        assert_eq!(start.status(), StatusCode::FOUND);
        let set_cookie = start.headers()[reqwest::header::SET_COOKIE]
            .to_str()
            .expect("a cookie");
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
        Started {
            url: location(&start),
            cookie: set_cookie.split(';').next().expect("name=value").to_owned(),
        }
    }

    /// A whole web sign-in: the exchange's answer.
    async fn google_sign_in(&self) -> Value {
        let callback = self.web_sign_in().await;
        assert_eq!(callback.status(), StatusCode::FOUND);
        let back = location(&callback);
        assert!(back.starts_with(BACK), "{back}");
        let code = query_value(&back, "login_code").expect("a login_code");
        let exchanged = self.exchange(&code).await;
        assert_eq!(exchanged.status(), StatusCode::OK);
        body(exchanged).await
    }

    async fn exchange(&self, login_code: &str) -> reqwest::Response {
        self.post(
            "/api/v1/auth/oidc/exchange",
            json!({ "login_code": login_code }),
        )
        .await
    }
}

fn subject_of(access_token: &str) -> String {
    use base64::Engine;
    let payload = access_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_new_person_signs_up_through_the_provider_and_returns_to_the_same_account() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let email = format!("{}@gmail.test", unique_name());
    provider.person("google-sub-1", &email, true).await;
    let first = app.google_sign_in().await;
    let token = first["access_token"].as_str().unwrap();
    assert_eq!(amr(token), ["oidc"]);
    let me = body(app.me(token).await).await;
    assert_eq!(me["email"], email.as_str());
    assert_eq!(me["email_verified"], true);
    let identities = body(app.get_with_token("/api/v1/me/identities", token).await).await;
    assert_eq!(identities[0]["provider"], "google");
    assert_eq!(identities[0]["subject"], "google-sub-1");
    // The same person again: the same account, not a second one.
    let again = app.google_sign_in().await;
    let again_token = again["access_token"].as_str().unwrap();
    assert_eq!(subject_of(again_token), subject_of(token));
    // A second person with the same local part gets another username.
    provider
        .person(
            "google-sub-2",
            &email.replace("gmail.test", "other.test"),
            true,
        )
        .await;
    let other = app.google_sign_in().await;
    let other_me = body(app.me(other["access_token"].as_str().unwrap()).await).await;
    assert_ne!(other_me["username"], me["username"]);
}

#[tokio::test]
async fn a_login_code_works_once_and_a_used_or_foreign_state_is_refused() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    provider
        .person("sub-3", &format!("{}@gmail.test", unique_name()), true)
        .await;
    let started = app.start().await;
    let callback_url = app.at_provider(&started.url).await;
    // The callback URL opened in another browser (sent to someone, login
    // CSRF) signs nobody in, and leaves the state to its own browser.
    let elsewhere = app.callback(&callback_url, None).await;
    assert_problem(elsewhere, StatusCode::BAD_REQUEST, "invalid_state").await;
    let other = app.start().await;
    let wrong = app.callback(&callback_url, Some(&other.cookie)).await;
    assert_problem(wrong, StatusCode::BAD_REQUEST, "invalid_state").await;
    let callback = app.callback(&callback_url, Some(&started.cookie)).await;
    let cleared = callback.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let login_code = query_value(&location(&callback), "login_code").unwrap();
    assert_eq!(app.exchange(&login_code).await.status(), StatusCode::OK);
    let reused = app.exchange(&login_code).await;
    assert_problem(reused, StatusCode::BAD_REQUEST, "invalid_code").await;
    // The same callback again: its state is used up.
    let replayed = app.callback(&callback_url, Some(&started.cookie)).await;
    assert_problem(replayed, StatusCode::BAD_REQUEST, "invalid_state").await;
    // A state this service never issued.
    let code = query_value(&callback_url, "code").unwrap();
    let forged = app.url(&format!(
        "/api/v1/auth/oidc/google/callback?code={code}&state=forged-state"
    ));
    let forged = app.callback(&forged, Some(&started.cookie)).await;
    assert_problem(forged, StatusCode::BAD_REQUEST, "invalid_state").await;
    // Neither the state, the provider's code nor the login_code is at rest
    // or in a log (the events table is also what NATS and the feed carry).
    let state = query_value(&callback_url, "state").unwrap();
    let random_part = login_code.rsplit_once('.').unwrap().1.to_owned();
    let tables = app.dump_all_tables().await;
    for secret in [state, code, login_code, random_part] {
        assert!(!tables.contains(&secret), "at rest: {secret}");
        assert!(!logs_contain(&secret), "logged: {secret}");
    }
}

#[tokio::test]
async fn a_verified_account_is_linked_by_its_provider_verified_email_and_keeps_its_password() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let account = app.create_account().await;
    let email = format!("{}@example.com", account.username);
    // A provider that has not verified the address reaches nothing.
    provider.person("sub-4", &email, false).await;
    let refused = app.web_sign_in().await;
    assert_problem(
        refused,
        StatusCode::FORBIDDEN,
        "provider_email_not_verified",
    )
    .await;
    provider.person("sub-4", &email, true).await;
    let signed_in = app.google_sign_in().await;
    assert_eq!(
        subject_of(signed_in["access_token"].as_str().unwrap()),
        account.id
    );
    let linked = app
        .count_events("identity.user.ExternalIdentityLinked", &account.id)
        .await;
    assert_eq!(linked, 1);
    assert_eq!(
        app.login(&account.username, PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn whoever_registered_an_address_without_verifying_it_loses_the_account_to_its_owner() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let victim = format!("{}@example.com", unique_name());
    // The attacker registers the victim's address and never verifies it.
    let attacker_name = unique_name();
    let registered = app.register(&attacker_name, &victim, PASSWORD).await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let account_id = body(registered).await["id"].as_str().unwrap().to_owned();
    // The victim signs in with the provider, which verified the address.
    provider.person("victim-sub", &victim, true).await;
    let signed_in = app.google_sign_in().await;
    assert_eq!(
        subject_of(signed_in["access_token"].as_str().unwrap()),
        account_id
    );
    // The attacker's password opens nothing any more.
    let by_name = app.login(&attacker_name, PASSWORD).await;
    assert_problem(by_name, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let by_email = app.login(&victim, PASSWORD).await;
    assert_problem(by_email, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let events = table_rows(&app.db, "events", "position").await;
    let takeover = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "identity.user.ExternalIdentityLinked")
        .expect("linked")["payload"]
        .to_string();
    assert!(
        takeover.contains("claimed_unverified") && takeover.contains("true"),
        "{takeover}"
    );
}

#[tokio::test]
async fn id_tokens_failing_a_check_are_refused_with_problems() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let email = format!("{}@gmail.test", unique_name());
    let claims = json!({ "sub": "sub-5", "email": &email, "email_verified": true });
    let with = |extra: Value| {
        let mut shape = json!({ "claims": claims.clone() });
        for (key, value) in extra.as_object().unwrap() {
            if key == "claims" {
                for (claim, v) in value.as_object().unwrap() {
                    shape["claims"][claim] = v.clone();
                }
            } else {
                shape[key] = value.clone();
            }
        }
        shape
    };
    let cases = [
        (
            "a nonce of another request",
            with(json!({ "claims": { "nonce": "another" } })),
        ),
        (
            "another audience",
            with(json!({ "claims": { "aud": "someone-else" } })),
        ),
        ("an expired token", with(json!({ "expired": true }))),
        ("an unknown key", with(json!({ "kid": "no-such-key" }))),
    ];
    for (case, shape) in cases {
        provider.next(shape).await;
        let refused = app.web_sign_in().await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{case}");
        let problem = body(refused).await;
        assert_eq!(problem["code"], "invalid_id_token", "{case}: {problem}");
    }
    provider.next(with(json!({}))).await;
    app.google_sign_in().await;
}

#[tokio::test]
async fn a_rotated_provider_key_is_fetched_and_accepted() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    provider
        .person("sub-6", &format!("{}@gmail.test", unique_name()), true)
        .await;
    app.google_sign_in().await;
    let new_key = provider.rotate().await;
    app.google_sign_in().await;
    let kids = provider.id_token_kids().await;
    assert_eq!(kids.len(), 2);
    assert_ne!(
        kids[0], new_key,
        "the first ID token used the key discovery fetched"
    );
    assert_eq!(kids[1], new_key, "the second was signed with the new key");
}

#[tokio::test]
async fn a_redirect_uri_outside_the_allowlist_is_refused_without_a_redirect() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let path = "/api/v1/auth/oidc/google/start?redirect_uri=https://evil.test/steal";
    let refused = app.client.get(app.url(path)).send().await.unwrap();
    assert!(refused.headers().get(reqwest::header::LOCATION).is_none());
    assert_invalid(refused).await;
    let unknown = app
        .client
        .get(app.url(&format!(
            "/api/v1/auth/oidc/nowhere/start?redirect_uri={BACK}"
        )))
        .send()
        .await
        .unwrap();
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

/// An ID token straight from the provider, as a native app gets one.
async fn native_id_token(provider: &Provider, nonce: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = format!(
        "{}/authorize?client_id={CLIENT_ID}&response_type=code&scope=openid%20email&redirect_uri={BACK}&state=s&nonce={nonce}",
        provider.issuer
    );
    let redirect = client.get(authorize).send().await.unwrap();
    let code = query_value(&location(&redirect), "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", BACK),
        ("client_id", CLIENT_ID),
    ];
    let tokens: Value = client
        .post(format!("{}/token", provider.issuer))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["id_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_native_app_signs_in_once_with_an_id_token_and_its_nonce() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    provider
        .person("sub-7", &format!("{}@gmail.test", unique_name()), true)
        .await;
    let id_token = native_id_token(&provider, "app-nonce-1").await;
    let sign_in = |nonce: &str| {
        app.post(
            "/api/v1/auth/oidc/google/id-token",
            json!({ "id_token": &id_token, "nonce": nonce }),
        )
    };
    let wrong_nonce = sign_in("another-nonce").await;
    assert_problem(wrong_nonce, StatusCode::BAD_REQUEST, "invalid_id_token").await;
    let signed_in = sign_in("app-nonce-1").await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let replayed = sign_in("app-nonce-1").await;
    assert_problem(replayed, StatusCode::BAD_REQUEST, "invalid_id_token").await;
    let garbage = app
        .post(
            "/api/v1/auth/oidc/google/id-token",
            json!({ "id_token": "not.a.token", "nonce": "n" }),
        )
        .await;
    assert_problem(garbage, StatusCode::BAD_REQUEST, "invalid_id_token").await;
    // Nothing of the flows is at rest or in a log in plain text.
    let tables = app.dump_all_tables().await;
    assert!(!tables.contains(&id_token));
    assert!(!logs_contain(&id_token));
}

#[tokio::test]
async fn a_signed_in_person_links_and_unlinks_and_the_last_way_in_stays() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let account = app.create_account().await;
    provider
        .person("sub-8", &format!("{}@elsewhere.test", unique_name()), true)
        .await;
    let link = app
        .post_with_token(
            "/api/v1/me/identities/google",
            &account.access_token,
            json!({ "redirect_uri": BACK }),
        )
        .await;
    assert_eq!(link.status(), StatusCode::OK);
    let url = body(link).await["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    // A link flow needs no cookie: what binds it is its confirmation.
    let callback_url = app.at_provider(&url).await;
    let callback = app.callback(&callback_url, None).await;
    assert_eq!(callback.status(), StatusCode::FOUND);
    let back = location(&callback);
    assert!(query_value(&back, "login_code").is_none());
    let link_code = query_value(&back, "link_code").expect("a link_code");
    // Nothing is linked until the person who started confirms it; someone
    // else's token confirms nothing (a link finished in another browser).
    let stranger = app.create_account().await;
    let confirm = |token: String| {
        let body = json!({ "link_code": &link_code });
        let app = &app;
        async move {
            app.post_with_token("/api/v1/me/identities/google/confirm", &token, body)
                .await
        }
    };
    let foreign = confirm(stranger.access_token.clone()).await;
    assert_problem(foreign, StatusCode::BAD_REQUEST, "invalid_code").await;
    let confirmed = confirm(account.access_token.clone()).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let listed = body(confirmed).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let again = confirm(account.access_token.clone()).await;
    assert_problem(again, StatusCode::BAD_REQUEST, "invalid_code").await;
    // The identity now signs into this account.
    let signed_in = app.google_sign_in().await;
    assert_eq!(
        subject_of(signed_in["access_token"].as_str().unwrap()),
        account.id
    );
    let unlink = |token: String| {
        let url = app.url("/api/v1/me/identities/google");
        let client = app.client.clone();
        async move { client.delete(url).bearer_auth(token).send().await.unwrap() }
    };
    assert_eq!(
        unlink(account.access_token.clone()).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        unlink(account.access_token.clone()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // An account made by the provider has no password: its only way in stays.
    provider
        .person("sub-9", &format!("{}@gmail.test", unique_name()), true)
        .await;
    let made = app.google_sign_in().await;
    let last = unlink(made["access_token"].as_str().unwrap().to_owned()).await;
    assert_problem(last, StatusCode::CONFLICT, "last_sign_in_method").await;
}

#[tokio::test]
async fn a_provider_sign_in_of_an_account_with_totp_waits_for_the_second_factor() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let account = app.create_account().await;
    let enrolled = app.enroll_totp(&account).await;
    let email = format!("{}@example.com", account.username);
    provider.person("sub-10", &email, true).await;
    let answer = app.google_sign_in().await;
    assert_eq!(answer["mfa_required"], true, "{answer}");
    let token = answer["mfa_token"].as_str().unwrap();
    let pair = body(
        app.second_factor(token, json!({ "code": next_code(&enrolled.secret) }))
            .await,
    )
    .await;
    assert_eq!(
        amr(pair["access_token"].as_str().unwrap()),
        ["oidc", "otp", "mfa"]
    );
}

#[tokio::test]
async fn with_the_provider_not_answering_a_sign_in_fails_promptly_and_the_breaker_opens() {
    let provider = Provider::start().await;
    // A provider that takes connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = app_with_issuer(&provider, &issuer).await;
    let start = || {
        let url = app.url(&format!(
            "/api/v1/auth/oidc/google/start?redirect_uri={BACK}"
        ));
        app.client.get(url).send()
    };
    let began = Instant::now();
    let first = start().await.unwrap();
    assert_problem(
        first,
        StatusCode::SERVICE_UNAVAILABLE,
        "provider_unavailable",
    )
    .await;
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "the timeout bounds the wait"
    );
    for _ in 0..4 {
        start().await.unwrap();
    }
    // Open: refused without calling the provider.
    let began = Instant::now();
    let open = start().await.unwrap();
    assert_problem(
        open,
        StatusCode::SERVICE_UNAVAILABLE,
        "provider_unavailable",
    )
    .await;
    assert!(
        began.elapsed() < Duration::from_secs(1),
        "an open breaker answers at once"
    );
}

#[tokio::test]
async fn two_sign_ins_of_one_person_at_once_both_finish() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    provider
        .person("sub-11", &format!("{}@gmail.test", unique_name()), true)
        .await;
    let first = app.web_sign_in().await;
    let second = app.web_sign_in().await;
    for callback in [first, second] {
        let code = query_value(&location(&callback), "login_code").unwrap();
        assert_eq!(app.exchange(&code).await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_refusal_at_the_provider_sends_the_browser_back_with_its_error() {
    let provider = Provider::start().await;
    let app = app_with(&provider).await;
    let started = app.start().await;
    let state = query_value(&started.url, "state").unwrap();
    let refused = app.url(&format!(
        "/api/v1/auth/oidc/google/callback?error=access_denied&state={state}"
    ));
    let back = app.callback(&refused, Some(&started.cookie)).await;
    assert_eq!(back.status(), StatusCode::FOUND);
    let back = location(&back);
    assert!(back.starts_with(BACK), "{back}");
    assert_eq!(
        query_value(&back, "error").as_deref(),
        Some("access_denied")
    );
    // The state is spent.
    let again = app.callback(&refused, Some(&started.cookie)).await;
    assert_problem(again, StatusCode::BAD_REQUEST, "invalid_state").await;
}

//! Token introspection (RFC 7662), revocation (RFC 7009) and the discovery
//! document that names them.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

impl TestApp {
    async fn introspect(&self, caller: Option<&str>, token: &str) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/oauth/introspect"))
            .form(&[("token", token)]);
        if let Some(caller) = caller {
            request = request.bearer_auth(caller);
        }
        request.send().await.expect("request sent")
    }

    async fn revoke(&self, token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/oauth/revoke"))
            .form(&[("token", token), ("token_type_hint", "refresh_token")])
            .send()
            .await
            .expect("request sent")
    }
}

/// The answer for a token that is not active: exactly `{"active": false}`.
async fn assert_inactive(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await, serde_json::json!({ "active": false }));
}

#[tokio::test]
async fn introspection_tells_a_service_the_claims_of_a_live_token_and_nothing_of_others() {
    let app = spawn_app().await;
    let service = app.create_account_with_role("service").await;
    let caller = Some(service.access_token.as_str());
    let account = app.create_account().await;
    let active = app.introspect(caller, &account.access_token).await;
    assert_eq!(active.status(), StatusCode::OK);
    let claims = body(active).await;
    assert_eq!(claims["active"], true);
    assert_eq!(claims["sub"], account.id.as_str());
    assert_eq!(claims["sid"], account.session_id.as_str());
    assert_eq!(claims["token_type"], "Bearer");
    assert!(
        claims["exp"].is_i64() && claims["iss"].is_string(),
        "{claims}"
    );
    for other in ["not a token", &account.refresh_token, "a.b.c"] {
        assert_inactive(app.introspect(caller, other).await).await;
    }
}

#[tokio::test]
async fn introspection_is_for_services_only_and_answers_rfc_errors() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    for caller in [None, Some(account.access_token.as_str())] {
        let refused = app.introspect(caller, &account.access_token).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert_eq!(body(refused).await["error"], "invalid_token");
    }
    let service = app.create_account_with_role("service").await;
    let empty = app
        .client
        .post(app.url("/oauth/introspect"))
        .bearer_auth(&service.access_token)
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let error = body(empty).await;
    assert_eq!(error["error"], "invalid_request");
    assert!(error["error_description"].is_string(), "{error}");
}

#[tokio::test]
async fn a_revoked_refresh_token_ends_its_session_and_its_access_token_at_once() {
    let app = spawn_app().await;
    let service = app.create_account_with_role("service").await;
    let account = app.create_account().await;
    assert_eq!(
        app.revoke(&account.refresh_token).await.status(),
        StatusCode::OK
    );
    let me = app.me(&account.access_token).await;
    assert_problem(me, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let refused = app.refresh(&account.refresh_token).await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let inactive = app
        .introspect(Some(&service.access_token), &account.access_token)
        .await;
    assert_inactive(inactive).await;
    // Again, or a token never issued: 200 all the same.
    assert_eq!(
        app.revoke(&account.refresh_token).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.revoke("never-issued").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_revoked_access_token_ends_its_session() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    assert_eq!(
        app.revoke(&account.access_token).await.status(),
        StatusCode::OK
    );
    let me = app.me(&account.access_token).await;
    assert_problem(me, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let refused = app.refresh(&account.refresh_token).await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn an_access_token_of_a_deactivated_account_is_inactive() {
    let app = spawn_app().await;
    let service = app.create_account_with_role("service").await;
    let admin = app.create_account_with_role("admin").await;
    let account = app.create_account().await;
    let path = format!("/api/v1/admin/users/{}/deactivate", account.id);
    let deactivated = app.admin_post(&path, &admin.access_token, None).await;
    assert_eq!(deactivated.status(), StatusCode::OK);
    let inactive = app
        .introspect(Some(&service.access_token), &account.access_token)
        .await;
    assert_inactive(inactive).await;
}

#[tokio::test]
async fn the_discovery_document_names_the_issuer_keys_and_endpoints() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = body(response).await;
    let issuer = doc["issuer"].as_str().unwrap();
    assert_eq!(issuer, app.config.public_url);
    // The issuer is the access tokens' `iss`.
    let account = app.create_account().await;
    let service = app.create_account_with_role("service").await;
    let claims = body(
        app.introspect(Some(&service.access_token), &account.access_token)
            .await,
    )
    .await;
    assert_eq!(claims["iss"], issuer);
    for field in [
        "authorization_endpoint",
        "jwks_uri",
        "introspection_endpoint",
        "revocation_endpoint",
        "token_endpoint",
    ] {
        let url = doc[field].as_str().unwrap();
        assert!(
            url.starts_with(issuer.trim_end_matches('/')),
            "{field}: {url}"
        );
    }
    for field in [
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
        "grant_types_supported",
        "claims_supported",
    ] {
        assert!(doc[field].is_array(), "{field}: {doc}");
    }
    // OpenID Connect Discovery 1.0 section 3: what a provider must say.
    let has = |field: &str, value: &str| doc[field].as_array().unwrap().iter().any(|v| v == value);
    assert!(has("response_types_supported", "code"), "{doc}");
    assert!(has("subject_types_supported", "public"), "{doc}");
    assert!(has("scopes_supported", "openid"), "{doc}");
    assert!(has("grant_types_supported", "authorization_code"), "{doc}");
    assert!(has("code_challenge_methods_supported", "S256"), "{doc}");
    // "The algorithm RS256 MUST be included."
    assert!(
        has("id_token_signing_alg_values_supported", "RS256"),
        "{doc}"
    );
    let parsed = reqwest::Url::parse(issuer).unwrap();
    assert!(
        parsed.query().is_none() && parsed.fragment().is_none(),
        "{issuer}"
    );
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"][0],
        "client_secret_basic"
    );
}

/// `identity clients ...` beside the running server, as an operator runs
/// it; the one JSON document it prints.
async fn clients_command(app: &TestApp, args: &[&str]) -> (bool, Value) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_identity"))
        .arg("clients")
        .args(args)
        .env("IDENTITY_DATABASE_URL", &app.config.database_url)
        .env("IDENTITY_DATA_DIR", &app.config.data_dir)
        .env("IDENTITY_LOG", "error")
        .output()
        .await
        .unwrap();
    let printed = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.success(), printed)
}

#[tokio::test]
async fn a_registered_client_introspects_with_http_basic_until_it_is_removed() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let (added, client) = clients_command(&app, &["add", "billing"]).await;
    assert!(added, "{client}");
    let secret = client["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 43, "256 random bits: {secret}");
    // Only its hash is kept, and a second registration of the id fails.
    assert!(!app.dump_all_tables().await.contains(&secret));
    assert!(!clients_command(&app, &["add", "billing"]).await.0);
    let (_, listed) = clients_command(&app, &["list"]).await;
    assert_eq!(listed[0]["client_id"], "billing");
    assert!(listed[0].get("client_secret").is_none());

    let introspect = |user: &str, password: &str| {
        app.client
            .post(app.url("/oauth/introspect"))
            .basic_auth(user, Some(password))
            .form(&[("token", account.access_token.as_str())])
            .send()
    };
    let active = body(introspect("billing", &secret).await.unwrap()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], account.id.as_str());
    for (user, password) in [("billing", "wrong"), ("payroll", secret.as_str())] {
        let refused = introspect(user, password).await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let challenges: Vec<_> = refused
            .headers()
            .get_all("www-authenticate")
            .iter()
            .collect();
        assert!(challenges
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("Basic")));
    }
    let (removed, _) = clients_command(&app, &["remove", "billing"]).await;
    assert!(removed);
    let refused = introspect("billing", &secret).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // A malformed id is refused before anything is stored.
    assert!(!clients_command(&app, &["add", "has space"]).await.0);
}

async fn token_grant(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .expect("request sent")
}

#[tokio::test]
async fn the_token_endpoint_rotates_a_refresh_token_and_refuses_an_unknown_one_as_invalid_grant() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let grant = [
        ("grant_type", "refresh_token"),
        ("refresh_token", account.refresh_token.as_str()),
    ];
    let rotated = token_grant(&app, &grant).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let pair = body(rotated).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert!(pair["expires_in"].as_u64().unwrap() > 0);
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(app.me(access).await.status(), StatusCode::OK);
    let next = pair["refresh_token"].as_str().unwrap();
    assert_ne!(next, account.refresh_token);
    // The successor is what works now; an unknown token is no grant.
    let again = token_grant(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", next)],
    )
    .await;
    assert_eq!(again.status(), StatusCode::OK);
    let unknown = token_grant(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", "nope")],
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(unknown).await["error"], "invalid_grant");
}

#[tokio::test]
async fn the_token_endpoint_answers_rfc_6749_errors_for_other_grants_and_missing_fields() {
    let app = spawn_app().await;
    for (form, error) in [
        (
            vec![("grant_type", "password"), ("username", "a")],
            "unsupported_grant_type",
        ),
        (vec![("refresh_token", "x")], "invalid_request"),
        (vec![("grant_type", "refresh_token")], "invalid_request"),
    ] {
        let refused = token_grant(&app, &form).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{form:?}");
        let answer = body(refused).await;
        assert_eq!(answer["error"], error, "{form:?}");
        assert!(answer["error_description"].is_string());
    }
}

//! Health, JWKS, OpenAPI and the offline docs page.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::smtp::Codes as _;

#[tokio::test]
async fn health_live_and_ready_answer_200() {
    let app = spawn_app().await;
    for path in ["/health/live", "/health/ready"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn health_ready_answers_503_while_postgres_is_unreachable() {
    let proxy = crate::tcp_proxy::TcpProxy::start(&crate::helpers::postgres_addr()).await;
    let through_proxy = format!(":{}/", proxy.port());
    let app =
        spawn_app_with(|c| c.database_url = c.database_url.replace(":5432/", &through_proxy)).await;
    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    proxy.cut();
    let response = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    let response = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn jwks_publishes_the_key_that_signs_access_tokens() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let jwks = app.jwks().await;
    let header = jsonwebtoken::decode_header(&account.access_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let kid = header.kid.expect("kid");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("key published");
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");

    let decoding =
        jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[app.config.audience.as_str()]);
    validation.set_issuer(&[app.config.public_url.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(&account.access_token, &decoding, &validation)
        .unwrap()
        .claims;
    for claim in ["iss", "sub", "aud", "exp", "iat", "jti", "sid", "roles"] {
        assert!(!claims[claim].is_null(), "access token lacks {claim}");
    }
    assert_eq!(claims["sub"], account.id.as_str());
    assert_eq!(claims["sid"], account.session_id.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
}

#[tokio::test]
async fn signing_keys_survive_a_restart_and_are_stored_sealed() {
    // Two processes one after the other on the same database and data
    // directory (a SQLite file has one server at a time): a token signed by
    // the first is accepted by the second, which made no key of its own.
    let setup = BinarySetup::new().await;
    let (smtp, url, env) = (&setup.smtp, &setup.database_url, setup.env());
    let (mut first, address) = spawn_binary(&env);
    wait_ready(&address).await;
    let client = reqwest::Client::new();
    let (_, _, pair) = register_and_verify_at(&client, &address, |email| async move {
        smtp.wait_for_code(&email).await
    })
    .await;
    let token = pair["access_token"].as_str().unwrap().to_owned();
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, address) = spawn_binary(&env);
    wait_ready(&address).await;
    let me = client
        .get(format!("{address}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let db = open_database(url).await;
    let keys: Vec<(String, Vec<u8>, Vec<u8>)> = on_db!(&db, pool => {
        sqlx::query_as("SELECT algorithm, public_key, sealed_private_key FROM signing_keys ORDER BY algorithm")
            .fetch_all(pool)
            .await
    })
    .unwrap();
    let algorithms: Vec<&str> = keys.iter().map(|(a, _, _)| a.as_str()).collect();
    // One key per algorithm: the second process made none of its own.
    assert_eq!(algorithms, ["EdDSA", "RS256"]);
    // Sealed: longer than a bare 32-byte Ed25519 seed (nonce and tag), and
    // not the public key's bytes.
    for (_, public, sealed) in &keys {
        assert!(sealed.len() > 32 && sealed != public);
    }
}

#[tokio::test]
async fn openapi_documents_every_endpoint() {
    let app = spawn_app().await;
    app.assert_documented(&[
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/verify-email", "post"),
        ("/api/v1/auth/verify-email/resend", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/logout-all", "post"),
        ("/api/v1/auth/sessions", "get"),
        ("/api/v1/me", "get"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/.well-known/jwks.json", "get"),
    ])
    .await;
}

#[tokio::test]
async fn docs_page_loads_without_the_internet() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("swagger"), "not the Swagger UI page");
    for line in page
        .lines()
        .filter(|l| l.contains("<script") || l.contains("<link"))
    {
        assert!(
            !line.contains("http://") && !line.contains("https://"),
            "page loads a remote asset: {line}"
        );
    }
    let script = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
}

#[tokio::test]
async fn openapi_documents_the_admin_endpoints_with_their_role_requirements() {
    let app = spawn_app().await;
    let doc: Value = app.openapi().await;
    let paths = doc["paths"].as_object().unwrap();
    let admin: Vec<(&String, &Value)> = paths
        .iter()
        .filter(|(p, _)| p.starts_with("/api/v1/admin/"))
        .collect();
    assert!(
        admin.len() >= 6,
        "admin endpoints missing: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (path, item) in admin {
        for (method, operation) in item.as_object().unwrap() {
            let scopes = &operation["security"][0]["bearer"];
            assert!(
                scopes.as_array().is_some_and(|s| !s.is_empty()),
                "{method} {path} names no role"
            );
            let description = operation["description"].as_str().unwrap_or_default();
            assert!(
                description.contains("role"),
                "{method} {path}: {description}"
            );
        }
    }
}

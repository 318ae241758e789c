//! The whole account lifecycle, and what is left at rest afterwards.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn account_lifecycle_register_verify_login_refresh_logout() {
    let app = spawn_app().await;
    let username = unique_name();
    let email = format!("{username}@Example.com");

    let response = app.register(&username, &email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let profile = body(response).await;
    assert_eq!(profile["username"], username.as_str());
    assert_eq!(profile["email"], email.to_lowercase());
    assert_eq!(profile["email_verified"], false);
    for field in ["id", "created_at"] {
        assert!(profile[field].is_string(), "{field} missing: {profile}");
    }

    // Unverified accounts cannot log in.
    let response = app.login(&username, PASSWORD).await;
    assert_problem(response, StatusCode::FORBIDDEN, "email_not_verified").await;

    let code = app.code_for(&email.to_lowercase()).await;
    let response = app.verify_email(&email, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let pair = body(response).await;
    assert_token_pair(&pair);

    // Read-your-writes: /me right after verification shows it.
    let me = body(app.me(pair["access_token"].as_str().unwrap()).await).await;
    assert_eq!(me["id"], profile["id"]);
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["roles"], serde_json::json!(["user"]));

    // Log in by username (any case) and by email.
    for identifier in [username.to_uppercase(), email.clone()] {
        let response = app.login(&identifier, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login as {identifier}");
        assert_token_pair(&body(response).await);
    }

    let login = body(app.login(&username, PASSWORD).await).await;
    let sessions = body(app.sessions(login["access_token"].as_str().unwrap()).await).await;
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 4);
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], login["session_id"]);
    for field in [
        "id",
        "created_at",
        "last_used_at",
        "user_agent",
        "ip",
        "current",
    ] {
        assert!(!current[0][field].is_null(), "session lacks {field}");
    }

    let refreshed = body(app.refresh(login["refresh_token"].as_str().unwrap()).await).await;
    assert_token_pair(&refreshed);
    assert_eq!(refreshed["session_id"], login["session_id"]);
    assert_ne!(refreshed["refresh_token"], login["refresh_token"]);

    let response = app
        .logout(refreshed["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .refresh(refreshed["refresh_token"].as_str().unwrap())
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;

    // Logout-all ends every other session too.
    let response = app.logout_all(pair["access_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.refresh(pair["refresh_token"].as_str().unwrap()).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    // Their access tokens stop too (they used to work until they expired).
    let listed = app.sessions(login["access_token"].as_str().unwrap()).await;
    assert_problem(listed, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let open: i64 = on_db!(&app.db, pool => {
    sqlx::query_scalar(
            "SELECT count(*) FROM user_sessions WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(uuid::Uuid::parse_str(profile["id"].as_str().unwrap()).unwrap())
        .fetch_one(pool)
    .await
    })
    .unwrap();
    assert_eq!(open, 0);

    // Secrets at rest: no table and no log line holds a password, code or
    // refresh token in the clear.
    let dump = app.dump_all_tables().await;
    let logs = captured_logs();
    let secrets = [
        PASSWORD.to_owned(),
        code.clone(),
        pair["refresh_token"].as_str().unwrap().to_owned(),
        login["refresh_token"].as_str().unwrap().to_owned(),
        refreshed["refresh_token"].as_str().unwrap().to_owned(),
    ];
    for secret in &secrets {
        assert!(
            !dump.contains(secret.as_str()),
            "a secret is stored in the clear"
        );
        assert!(!logs_contain(secret), "a secret was logged: {secret}");
    }
    assert!(
        dump.contains("$argon2id$v=19$m=19456,t=2,p=1$"),
        "passwords are argon2id with our parameters"
    );
    assert!(logs.contains("request_id"), "logs carry request ids");
}

#[tokio::test]
async fn every_response_carries_a_request_id_echoing_the_callers() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-request-id", "trace-me-123")
        .json(&serde_json::json!({"identifier": "nobody", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
    let problem = body(response).await;
    assert_eq!(problem["request_id"], "trace-me-123");

    let response = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert!(!response.headers()["x-request-id"].is_empty());
}

pub fn assert_token_pair(pair: &Value) {
    for field in ["access_token", "refresh_token", "session_id"] {
        assert!(pair[field].is_string(), "token pair lacks {field}: {pair}");
    }
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert_eq!(pair["refresh_expires_in"], 2_592_000);
}

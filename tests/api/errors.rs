//! The error rows of the contract: validation, conflicts, credentials,
//! malformed bodies, missing tokens.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn register_lists_every_invalid_field() {
    let app = spawn_app().await;
    let response = app.register("a!", "not-an-email", "short").await;
    let problem = assert_invalid(response).await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["username", "email", "password"]);
    for error in problem["errors"].as_array().unwrap() {
        assert!(error["code"].is_string() && error["message"].is_string());
    }
}

#[tokio::test]
async fn register_reports_missing_fields_as_required() {
    let app = spawn_app().await;
    let response = app.post("/api/v1/auth/register", json!({})).await;
    let problem = assert_invalid(response).await;
    assert!(problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["code"] == "required"));
}

#[tokio::test]
async fn register_refuses_weak_passwords_with_the_missing_class() {
    let app = spawn_app().await;
    for (password, code) in [
        ("alllowercase1!", "missing_upper"),
        ("ALLUPPERCASE1!", "missing_lower"),
        ("NoDigitsHere!", "missing_digit"),
        ("NoSymbols123", "missing_symbol"),
    ] {
        let response = app
            .register(&unique_name(), "weak@example.com", password)
            .await;
        let problem = assert_invalid(response).await;
        assert_eq!(problem["errors"][0]["code"], code);
    }
}

#[tokio::test]
async fn register_answers_409_when_email_or_username_is_taken() {
    let app = spawn_app().await;
    let name = unique_name();
    let email = format!("{name}@example.com");
    assert_eq!(
        app.register(&name, &email, PASSWORD).await.status(),
        StatusCode::CREATED
    );

    let response = app
        .register(&unique_name(), &email.to_uppercase(), PASSWORD)
        .await;
    assert_problem(response, StatusCode::CONFLICT, "email_taken").await;

    let response = app
        .register(&name.to_uppercase(), "other@example.com", PASSWORD)
        .await;
    assert_problem(response, StatusCode::CONFLICT, "username_taken").await;
}

#[tokio::test]
async fn login_answers_the_same_for_unknown_users_and_wrong_passwords() {
    let app = spawn_app().await;
    let account = app.create_account().await;

    let wrong = assert_problem(
        app.login(&account.username, "Wrong-Password-1!").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_problem(
        app.login("nobody_here", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let unknown_email = assert_problem(
        app.login("nobody@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    for other in [&unknown, &unknown_email] {
        for field in ["type", "title", "status", "detail", "code"] {
            assert_eq!(wrong[field], other[field], "{field} differs");
        }
    }
}

#[tokio::test]
async fn login_requires_identifier_and_password() {
    let app = spawn_app().await;
    let response = app
        .post("/api/v1/auth/login", json!({"identifier": ""}))
        .await;
    let problem = assert_invalid(response).await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn malformed_bodies_get_4xx_problems_never_500() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/auth/register");
    let send = |body: String, content_type: &'static str| {
        app.client
            .post(url.clone())
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let response = send("{not json".into(), "application/json").await.unwrap();
    assert_problem(response, StatusCode::BAD_REQUEST, "malformed_json").await;

    let response = send(
        r#"{"username": 5, "email": [], "password": {}}"#.into(),
        "application/json",
    )
    .await
    .unwrap();
    assert_invalid(response).await;

    let response = send("{}".into(), "text/plain").await.unwrap();
    assert_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let huge = format!(r#"{{"username": "{}"}}"#, "a".repeat(70 * 1024));
    let response = send(huge, "application/json").await.unwrap();
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let response = send("[1, 2, 3]".into(), "application/json").await.unwrap();
    assert!(response.status().is_client_error());
}

#[tokio::test]
async fn bearer_endpoints_answer_401_with_www_authenticate() {
    let app = spawn_app().await;
    let no_token = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(no_token.headers()["www-authenticate"], "Bearer");
    assert_problem(no_token, StatusCode::UNAUTHORIZED, "unauthorized").await;

    for path in ["/api/v1/me", "/api/v1/auth/sessions"] {
        let response = app.get_with_token(path, "garbage.token.here").await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let response = app.logout_all("garbage").await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn refresh_refuses_unknown_and_malformed_tokens() {
    let app = spawn_app().await;
    for token in [
        "",
        "garbage",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let response = app.refresh(token).await;
        assert!(
            response.status() == StatusCode::UNAUTHORIZED
                || response.status() == StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    let response = app
        .refresh("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn logout_is_idempotent_and_refuses_malformed_tokens() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    for _ in 0..2 {
        assert_eq!(
            app.logout(&account.refresh_token).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    assert_invalid(app.logout("not-a-token").await).await;
}

#[tokio::test]
async fn unknown_routes_and_methods_get_problems() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/nope"))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app
        .client
        .get(app.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    assert_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn a_failed_email_is_logged_with_its_whole_cause_chain() {
    // A port nothing listens on: the SMTP connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(|config| config.smtp.port = closed).await;
    let name = unique_name();
    let registered = app
        .register(&name, &format!("{name}@example.com"), PASSWORD)
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let user_id = body(registered).await["id"].as_str().unwrap().to_owned();
    let line = eventually(std::time::Duration::from_secs(10), || async {
        captured_logs()
            .lines()
            .find(|line| {
                line.contains("verification email was not sent") && line.contains(&user_id)
            })
            .map(str::to_owned)
    })
    .await;
    let logged: serde_json::Value = serde_json::from_str(&line).unwrap();
    let error = logged["fields"]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("sending failed: ") && error.contains("refused"),
        "the cause is not in the log: {error}"
    );
}

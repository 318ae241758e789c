//! Hostile input, as the hardening report tried it: NUL characters in every
//! kind of text input, bad ids and pagination, oversized headers, extreme
//! numbers and dates. Every answer is a 4xx problem document with the
//! security headers; none is a 500.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

/// A 4xx problem document with the security headers and `no-store`.
async fn assert_refused(response: Response, status: StatusCode, what: &str) -> Value {
    assert_eq!(response.status(), status, "{what}");
    let headers = response.headers().clone();
    assert_eq!(
        headers["content-type"], "application/problem+json",
        "{what}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert!(headers.contains_key("content-security-policy"), "{what}");
    let problem = body(response).await;
    assert!(problem["code"].is_string(), "{what}: {problem}");
    problem
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Defect 3: NUL characters reached PostgreSQL and answered 500 on eight
/// endpoints.
#[tokio::test]
async fn nul_characters_in_any_text_input_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let service = app.create_account_with_role("service").await;
    let user = app.create_account().await;
    let id = &user.id;

    let login = app
        .post(
            "/api/v1/auth/login",
            json!({"identifier": "ab\u{0}cd", "password": PASSWORD}),
        )
        .await;
    let problem = assert_refused(login, StatusCode::UNPROCESSABLE_ENTITY, "login").await;
    assert_eq!(problem["errors"][0]["field"], "identifier");

    let bodies = [
        (
            Method::POST,
            "/api/v1/influencer/applications".to_owned(),
            &user.access_token,
            json!({"display_name": "Al\u{0}ice", "channels": [{"platform": "youtube", "url": "https://youtube.com/@a", "audience_size": 1}], "pitch": "p"}),
            "display_name",
        ),
        (
            Method::POST,
            "/api/v1/influencer/applications".to_owned(),
            &user.access_token,
            json!({"display_name": "Alice", "channels": [{"platform": "youtube", "url": "https://youtube.com/@a\u{0}", "audience_size": 1}], "pitch": "p"}),
            "channels[0].url",
        ),
        (
            Method::POST,
            "/api/v1/referrals/conversions".to_owned(),
            &service.access_token,
            json!({"external_id": "o\u{0}1", "user_id": id, "amount_minor": 100, "currency": "EUR", "occurred_at": chrono::Utc::now().to_rfc3339()}),
            "external_id",
        ),
        (
            Method::POST,
            format!("/api/v1/admin/influencers/{id}/suspend"),
            &admin.access_token,
            json!({"reason": "spam\u{0}"}),
            "reason",
        ),
    ];
    for (method, path, token, body, field) in bodies {
        let answer = send(&app, method, &path, token, Some(body)).await;
        let problem = assert_refused(answer, StatusCode::UNPROCESSABLE_ENTITY, &path).await;
        assert_eq!(problem["errors"][0]["field"], field, "{path}");
        assert_eq!(problem["errors"][0]["code"], "invalid_character");
    }

    for (path, field) in [
        ("/api/v1/admin/users?query=a%00b", "query"),
        ("/api/v1/admin/influencers?query=a%00b", "query"),
    ] {
        let answer = send(&app, Method::GET, path, &admin.access_token, None).await;
        let problem = assert_refused(answer, StatusCode::UNPROCESSABLE_ENTITY, path).await;
        assert_eq!(problem["errors"][0]["field"], field, "{path}");
    }
    let refund = send(
        &app,
        Method::POST,
        "/api/v1/referrals/conversions/o%001/refund",
        &service.access_token,
        None,
    )
    .await;
    assert_refused(refund, StatusCode::BAD_REQUEST, "refund path").await;
}

/// Defect 5: bad path ids and pagination answered 400 `text/plain`.
#[tokio::test]
async fn bad_ids_and_pagination_get_problem_documents() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    for path in [
        "/api/v1/admin/users/not-a-uuid",
        "/api/v1/admin/users/not-a-uuid/history",
        "/api/v1/admin/influencers/12345",
    ] {
        let answer = send(&app, Method::GET, path, &admin.access_token, None).await;
        let problem = assert_refused(answer, StatusCode::BAD_REQUEST, path).await;
        assert_eq!(problem["code"], "invalid_path", "{path}");
    }
    for path in [
        "/api/v1/admin/users?page=abc",
        "/api/v1/admin/users?per_page=-1",
        "/api/v1/admin/users?page=99999999999999999999999",
        "/api/v1/admin/influencers?per_page=x",
        "/api/v1/admin/influencer-applications?page=1.5",
    ] {
        let answer = send(&app, Method::GET, path, &admin.access_token, None).await;
        assert_refused(answer, StatusCode::UNPROCESSABLE_ENTITY, path).await;
    }
}

/// Defect 5: a 200 KB header answered 431 with an empty body and none of
/// the security headers.
#[tokio::test]
async fn an_oversized_header_gets_a_problem_document_with_the_security_headers() {
    let app = spawn_app().await;
    let answer = app
        .client
        .get(app.url("/api/v1/me"))
        .header("x-padding", "a".repeat(200 * 1024))
        .send()
        .await
        .unwrap();
    let problem = assert_refused(
        answer,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "200 KB header",
    )
    .await;
    assert_eq!(problem["code"], "headers_too_large");
}

/// Extreme numbers and dates in every numeric or date input.
#[tokio::test]
async fn extreme_numbers_and_dates_are_refused_never_500() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let user = app.create_account().await;
    let id = &user.id;
    for as_of in [
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "+262142-12-31T23:59:59Z",
        "not-a-date",
    ] {
        let path = format!("/api/v1/admin/users/{id}/history?as_of={as_of}");
        let answer = send(&app, Method::GET, &path, &admin.access_token, None).await;
        assert!(
            answer.status().is_success() || answer.status().is_client_error(),
            "{path}: {}",
            answer.status()
        );
    }
    for rate in [json!(-1), json!(10_001), json!(i64::MAX), json!(1e300)] {
        let path = format!("/api/v1/admin/influencers/{id}/commission");
        let answer = send(
            &app,
            Method::PUT,
            &path,
            &admin.access_token,
            Some(json!({"rate_bps": rate})),
        )
        .await;
        assert!(answer.status().is_client_error(), "rate {rate}");
    }
    for amount in [json!(i64::MAX), json!(-1), json!(0)] {
        let path = format!("/api/v1/admin/influencers/{id}/payouts");
        let answer = send(
            &app,
            Method::POST,
            &path,
            &admin.access_token,
            Some(json!({"amount_minor": amount, "currency": "EUR", "reference": "r"})),
        )
        .await;
        assert!(answer.status().is_client_error(), "payout {amount}");
    }
}

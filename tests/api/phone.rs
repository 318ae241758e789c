//! Phone numbers: added and verified by SMS through a real provider
//! stand-in (the Twilio Messages API on loopback), unique once verified,
//! signing in by password or by texted code, and a provider that is down.

use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use sinks::SmsSink;

use crate::helpers::*;

const ACCOUNT: &str = "AC0123456789";
const TOKEN: &str = "sink-token";
const NUMBER: &str = "+4915123456789";

async fn app_with_sms() -> (TestApp, SmsSink) {
    let sink = SmsSink::start(ACCOUNT, TOKEN).await.unwrap();
    let url = sink.url();
    let app = spawn_app_with(|c| {
        c.sms.url = Some(url);
        c.sms.account = ACCOUNT.to_owned();
        c.sms.token = Some(TOKEN.to_owned());
        c.sms.breaker_cool_down = Duration::from_millis(300);
        c.codes.resend_cooldown = Duration::ZERO;
    })
    .await;
    (app, sink)
}

impl TestApp {
    async fn with_token(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn add_phone(&self, token: &str, phone: &str) -> Response {
        let body = json!({ "phone": phone });
        self.with_token(reqwest::Method::POST, "/api/v1/me/phone", token, Some(body))
            .await
    }

    async fn verify_phone(&self, token: &str, code: &str) -> Response {
        let body = json!({ "code": code });
        self.with_token(
            reqwest::Method::POST,
            "/api/v1/me/phone/verify",
            token,
            Some(body),
        )
        .await
    }

    /// Adds `phone` to `account` and verifies it with the texted code.
    async fn give_phone(&self, sink: &SmsSink, account: &Account, phone: &str) {
        let sent = sink.messages_to(phone).len();
        assert_eq!(
            self.add_phone(&account.access_token, phone).await.status(),
            StatusCode::ACCEPTED
        );
        let code = sink
            .nth_code(phone, sent + 1, Duration::from_secs(5))
            .await
            .unwrap();
        let verified = self.verify_phone(&account.access_token, &code).await;
        assert_eq!(verified.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_verified_phone_shows_in_the_profile_and_signs_in_by_password_and_by_text() {
    let (app, sink) = app_with_sms().await;
    let account = app.create_account().await;
    assert_eq!(
        app.add_phone(&account.access_token, "+49 151 2345 6789")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let me = body(app.me(&account.access_token).await).await;
    assert_eq!(
        (me["phone"].as_str(), &me["phone_verified"]),
        (Some(NUMBER), &json!(false))
    );
    let code = sink
        .nth_code(NUMBER, 1, Duration::from_secs(5))
        .await
        .unwrap();
    let verified = body(app.verify_phone(&account.access_token, &code).await).await;
    assert_eq!(
        (verified["phone"].as_str(), &verified["phone_verified"]),
        (Some(NUMBER), &json!(true))
    );
    // The number is a login identifier.
    assert_eq!(app.login(NUMBER, PASSWORD).await.status(), StatusCode::OK);
    // And a passwordless sign-in by text.
    let start = app
        .post("/api/v1/auth/passwordless", json!({ "phone": NUMBER }))
        .await;
    assert_eq!(start.status(), StatusCode::ACCEPTED);
    let code = sink
        .nth_code(NUMBER, 2, Duration::from_secs(5))
        .await
        .unwrap();
    let signed_in = app
        .post(
            "/api/v1/auth/passwordless/verify",
            json!({ "phone": NUMBER, "code": code }),
        )
        .await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let payloads: Vec<String> = crate::helpers::on_db!(&app.db, pool => {
        sqlx::query_scalar(
            "SELECT CAST(payload AS TEXT) FROM events WHERE aggregate_id = $1
               AND event_type = 'identity.user.LoginSucceeded' ORDER BY sequence",
        )
        .bind(&account.id)
        .fetch_all(pool)
        .await
    })
    .unwrap();
    assert!(
        payloads.last().unwrap().contains("sms_code"),
        "{payloads:?}"
    );
}

#[tokio::test]
async fn a_verified_phone_belongs_to_one_account_until_it_is_removed() {
    let (app, sink) = app_with_sms().await;
    let first = app.create_account().await;
    let second = app.create_account().await;
    app.give_phone(&sink, &first, NUMBER).await;
    assert_problem(
        app.add_phone(&second.access_token, NUMBER).await,
        StatusCode::CONFLICT,
        "phone_taken",
    )
    .await;
    let removed = app
        .with_token(
            reqwest::Method::DELETE,
            "/api/v1/me/phone",
            &first.access_token,
            None,
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.login(NUMBER, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    // Given up, the number is free for the other account.
    app.give_phone(&sink, &second, NUMBER).await;
    let me = body(app.me(&second.access_token).await).await;
    assert_eq!(me["phone_verified"], true, "{me}");
}

#[tokio::test]
async fn a_number_not_in_international_form_or_not_valid_is_refused() {
    let (app, _sink) = app_with_sms().await;
    let account = app.create_account().await;
    for (raw, code) in [
        ("0151 23456789", "invalid_format"),
        ("+49 12", "invalid_number"),
    ] {
        let problem = assert_invalid(app.add_phone(&account.access_token, raw).await).await;
        assert_eq!(problem["errors"][0]["code"], code, "{raw}: {problem}");
    }
}

#[tokio::test]
async fn the_passwordless_start_by_phone_answers_alike_for_known_and_unknown_numbers() {
    let (app, sink) = app_with_sms().await;
    let account = app.create_account().await;
    app.give_phone(&sink, &account, NUMBER).await;
    let mut answers = Vec::new();
    for phone in [NUMBER, "+4915123456780"] {
        let response = app
            .post("/api/v1/auth/passwordless", json!({ "phone": phone }))
            .await;
        answers.push((response.status(), response.bytes().await.unwrap()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn with_the_provider_down_adding_a_phone_answers_503_promptly_and_recovers() {
    let (app, sink) = app_with_sms().await;
    let account = app.create_account().await;
    sink.stop();
    // Five failures open the circuit; every answer is prompt either way.
    for n in 0..6 {
        let started = Instant::now();
        let number = format!("+491512345678{n}");
        assert_problem(
            app.add_phone(&account.access_token, &number).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "sms_unavailable",
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "attempt {n} hung"
        );
    }
    let me = body(app.me(&account.access_token).await).await;
    assert!(
        me["phone"].is_null(),
        "nothing is recorded while texts fail: {me}"
    );
    sink.restart().await.unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    app.give_phone(&sink, &account, NUMBER).await;
}

#[tokio::test]
async fn a_phone_given_at_registration_is_texted_a_code_to_verify_once_signed_in() {
    let (app, sink) = app_with_sms().await;
    let name = unique_name();
    let email = format!("{name}@example.com");
    let body_json =
        json!({"username": name, "email": email, "password": PASSWORD, "phone": "+14155552671"});
    let registered = app.post("/api/v1/auth/register", body_json).await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let phone_code = sink
        .nth_code("+14155552671", 1, Duration::from_secs(5))
        .await
        .unwrap();
    let email_code = app.code_for(&email).await;
    let pair = body(app.verify_email(&email, &email_code).await).await;
    let token = pair["access_token"].as_str().unwrap();
    let me = body(app.verify_phone(token, &phone_code).await).await;
    assert_eq!(me["phone"], "+14155552671", "{me}");
    assert_eq!(me["phone_verified"], true, "{me}");
}

#[tokio::test]
async fn no_code_or_password_of_the_new_flows_is_at_rest_or_in_a_log() {
    let (app, sink) = app_with_sms().await;
    let account = app.create_account().await;
    let email = format!("{}@example.com", account.username);
    let mut secrets = vec![PASSWORD.to_owned()];
    // A reset to a new password.
    app.post("/api/v1/auth/password-reset", json!({ "email": &email }))
        .await;
    let reset = crate::smtp::Codes::wait_for_nth_code(&app.smtp, &email, 2).await;
    let new_password = "Another-Horse-42!";
    let confirm = json!({"email": &email, "code": &reset, "new_password": new_password});
    let pair = body(
        app.post("/api/v1/auth/password-reset/confirm", confirm)
            .await,
    )
    .await;
    let token = pair["access_token"].as_str().unwrap().to_owned();
    // A phone, and a passwordless sign-in by text.
    let me = Account {
        access_token: token,
        ..account
    };
    app.give_phone(&sink, &me, NUMBER).await;
    let phone_code = sink
        .nth_code(NUMBER, 1, Duration::from_secs(5))
        .await
        .unwrap();
    app.post("/api/v1/auth/passwordless", json!({ "phone": NUMBER }))
        .await;
    let sign_in = sink
        .nth_code(NUMBER, 2, Duration::from_secs(5))
        .await
        .unwrap();
    let verify = json!({ "phone": NUMBER, "code": &sign_in });
    assert_eq!(
        app.post("/api/v1/auth/passwordless/verify", verify)
            .await
            .status(),
        StatusCode::OK
    );
    secrets.extend([reset, new_password.to_owned(), phone_code, sign_in]);
    let tables = app.dump_all_tables().await;
    for secret in &secrets {
        let at_rest = if secret.bytes().all(|b| b.is_ascii_digit()) {
            // A six-digit code counts only as a whole run of digits.
            tables
                .split(|c: char| !c.is_ascii_digit())
                .any(|run| run == secret)
        } else {
            tables.contains(secret.as_str())
        };
        assert!(!at_rest, "a secret is at rest");
        assert!(!logs_contain(secret), "a secret was logged: {secret}");
    }
}

//! Passwordless sign-in by emailed code: no enumeration, codes of their
//! own purpose, wrong codes counted toward the account's lockout.

use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::smtp::Codes as _;

impl TestApp {
    async fn start_passwordless(&self, email: &str) -> Response {
        self.post("/api/v1/auth/passwordless", json!({ "email": email }))
            .await
    }

    async fn verify_passwordless(&self, email: &str, code: &str) -> Response {
        let body = json!({ "email": email, "code": code });
        self.post("/api/v1/auth/passwordless/verify", body).await
    }
}

fn email_of(account: &Account) -> String {
    format!("{}@example.com", account.username)
}

/// Any code but `code`.
fn other_than(code: &str) -> &'static str {
    if code == "000000" {
        "111111"
    } else {
        "000000"
    }
}

#[tokio::test]
async fn the_start_answers_alike_for_unknown_unverified_and_known_addresses() {
    let app = spawn_app().await;
    let known = app.create_account().await;
    let unverified = unique_name();
    let unverified_email = format!("{unverified}@example.com");
    app.register(&unverified, &unverified_email, PASSWORD).await;
    let mut answers = Vec::new();
    for email in [
        email_of(&known),
        unverified_email.clone(),
        "nobody-here@example.com".to_owned(),
    ] {
        let response = app.start_passwordless(&email).await;
        answers.push((response.status(), response.bytes().await.unwrap()));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    assert_eq!(
        app.smtp.wait_for_nth_code(&email_of(&known), 2).await.len(),
        6
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        app.smtp.mails_to(&unverified_email).len(),
        1,
        "only its verification code"
    );
}

#[tokio::test]
async fn a_code_signs_in_once_and_the_login_is_recorded_with_its_method() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let email = email_of(&account);
    assert_eq!(
        app.start_passwordless(&email).await.status(),
        StatusCode::ACCEPTED
    );
    let code = app.smtp.wait_for_nth_code(&email, 2).await;
    let signed_in = app.verify_passwordless(&email, &code).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    assert_eq!(signed_in.headers()["cache-control"], "no-store");
    let pair = body(signed_in).await;
    assert_eq!(
        app.me(pair["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    assert_problem(
        app.verify_passwordless(&email, &code).await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
    let methods: Vec<String> = crate::helpers::on_db!(&app.db, pool => {
        sqlx::query_scalar(
            "SELECT CAST(payload AS TEXT) FROM events WHERE aggregate_id = $1
               AND event_type = 'identity.user.LoginSucceeded' ORDER BY sequence",
        )
        .bind(&account.id)
        .fetch_all(pool)
        .await
    })
    .unwrap();
    let last: serde_json::Value = serde_json::from_str(methods.last().unwrap()).unwrap();
    assert_eq!(last["LoginSucceeded"]["method"], "email_code", "{last}");
    assert_eq!(
        app.count_events("identity.user.SignInCodeIssued", &account.id)
            .await,
        1
    );
}

#[tokio::test]
async fn codes_of_other_purposes_do_not_sign_in_and_a_sign_in_code_opens_nothing_else() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let email = email_of(&account);
    // A reset code does not sign in.
    app.post("/api/v1/auth/password-reset", json!({ "email": &email }))
        .await;
    let reset = app.smtp.wait_for_nth_code(&email, 2).await;
    assert_problem(
        app.verify_passwordless(&email, &reset).await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
    // A sign-in code does not reset the password.
    app.start_passwordless(&email).await;
    let sign_in = app.smtp.wait_for_nth_code(&email, 3).await;
    let body = json!({"email": &email, "code": sign_in, "new_password": "Another-Horse-42!"});
    let reset_with_it = app.post("/api/v1/auth/password-reset/confirm", body).await;
    let expected = if sign_in == reset {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    assert_eq!(
        reset_with_it.status(),
        expected,
        "only a coincidence of digits opens it"
    );
    // An unknown address is answered as a wrong code.
    assert_problem(
        app.verify_passwordless("nobody-here@example.com", &sign_in)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
}

#[tokio::test]
async fn twenty_parallel_wrong_codes_cost_at_most_the_lockout_limit_then_even_the_right_code_is_locked_out(
) {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let email = email_of(&account);
    app.start_passwordless(&email).await;
    let code = app.smtp.wait_for_nth_code(&email, 2).await;
    let wrong = other_than(&code);
    let guesses = (0..20).map(|_| app.verify_passwordless(&email, wrong));
    let answers = futures_util::future::join_all(guesses).await;
    for answer in answers {
        let status = answer.status();
        assert!(
            matches!(
                status,
                StatusCode::BAD_REQUEST | StatusCode::TOO_MANY_REQUESTS
            ),
            "{status}"
        );
    }
    let failures = app
        .count_events("identity.user.LoginFailed", &account.id)
        .await;
    let limit = app.config.lockout.max_failures as i64;
    assert!(failures <= limit, "{failures} wrong codes were judged");
    assert_problem(
        app.verify_passwordless(&email, &code).await,
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
    )
    .await;
}

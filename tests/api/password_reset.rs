//! A way back in: password reset by emailed code, password change while
//! signed in, and ending one session from another.

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::smtp::Codes as _;

const NEW_PASSWORD: &str = "Another-Horse-42!";

impl TestApp {
    async fn request_reset(&self, email: &str) -> Response {
        self.post("/api/v1/auth/password-reset", json!({ "email": email }))
            .await
    }

    async fn confirm_reset(&self, email: &str, code: &str, new_password: &str) -> Response {
        let body = json!({"email": email, "code": code, "new_password": new_password});
        self.post("/api/v1/auth/password-reset/confirm", body).await
    }

    async fn change_password(&self, token: &str, current: &str, new: &str) -> Response {
        let body = json!({"current_password": current, "new_password": new});
        self.client
            .post(self.url("/api/v1/auth/password"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// The reset code mailed to `email` after `earlier` other mails.
    async fn reset_code(&self, email: &str, earlier: usize) -> String {
        self.smtp.wait_for_nth_code(email, earlier + 1).await
    }
}

fn email_of(account: &Account) -> String {
    format!("{}@example.com", account.username)
}

#[tokio::test]
async fn a_reset_request_answers_alike_for_unknown_unverified_and_known_addresses() {
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
        let response = app.request_reset(&email).await;
        let status = response.status();
        answers.push((status, response.bytes().await.unwrap()));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    // Only the verified account gets a code: the second mail it receives.
    let code = app.reset_code(&email_of(&known), 1).await;
    assert_eq!(code.len(), 6);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        app.smtp.mails_to(&unverified_email).len(),
        1,
        "only its verification code"
    );
    // A second request within the cooldown is refused for every address.
    for email in [email_of(&known), "nobody-here@example.com".to_owned()] {
        assert_problem(
            app.request_reset(&email).await,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
        )
        .await;
    }
}

#[tokio::test]
async fn a_reset_sets_the_password_ends_every_other_session_and_sends_a_notice() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let email = email_of(&account);
    assert_eq!(
        app.request_reset(&email).await.status(),
        StatusCode::ACCEPTED
    );
    let code = app.reset_code(&email, 1).await;
    let answer = app.confirm_reset(&email, &code, NEW_PASSWORD).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let pair = body(answer).await;
    // The old session's refresh token fails; its access token stops.
    assert_problem(
        app.refresh(&account.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    eventually(std::time::Duration::from_secs(5), || async {
        (app.me(&account.access_token).await.status() == StatusCode::UNAUTHORIZED).then_some(())
    })
    .await;
    // The new session works; the old password does not, the new one does.
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(app.me(access).await.status(), StatusCode::OK);
    assert_problem(
        app.login(&account.username, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.login(&account.username, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    // The code was single use; a notice went to the address.
    assert_problem(
        app.confirm_reset(&email, &code, "Third-Horse-77!").await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
    eventually(std::time::Duration::from_secs(5), || async {
        app.smtp
            .mails_to(&email)
            .iter()
            .any(|m| m.data.contains("password of your account was just changed"))
            .then_some(())
    })
    .await;
    let changed = app
        .count_events("identity.user.PasswordChanged", &account.id)
        .await;
    assert_eq!(changed, 1);
}

#[tokio::test]
async fn wrong_codes_are_refused_and_after_five_even_the_right_one() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let email = email_of(&account);
    app.request_reset(&email).await;
    let code = app.reset_code(&email, 1).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_problem(
            app.confirm_reset(&email, wrong, NEW_PASSWORD).await,
            StatusCode::BAD_REQUEST,
            "invalid_code",
        )
        .await;
    }
    assert_problem(
        app.confirm_reset(&email, &code, NEW_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    )
    .await;
    // An unknown address is answered as a wrong code.
    assert_problem(
        app.confirm_reset("nobody-here@example.com", &code, NEW_PASSWORD)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
}

#[tokio::test]
async fn a_code_for_one_purpose_does_not_open_another() {
    let app = spawn_app().await;
    // A verification code does not reset a password.
    let name = unique_name();
    let email = format!("{name}@example.com");
    app.register(&name, &email, PASSWORD).await;
    let verification = app.code_for(&email).await;
    assert_problem(
        app.confirm_reset(&email, &verification, NEW_PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
    // A reset code does not verify an address (nor reset twice).
    let account = app.create_account().await;
    let email = email_of(&account);
    app.request_reset(&email).await;
    let reset = app.reset_code(&email, 1).await;
    assert_problem(
        app.verify_email(&email, &reset).await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
}

#[tokio::test]
async fn a_refused_new_password_changes_nothing_and_keeps_the_code() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let email = email_of(&account);
    app.request_reset(&email).await;
    let code = app.reset_code(&email, 1).await;
    let same = assert_invalid(app.confirm_reset(&email, &code, PASSWORD).await).await;
    assert_eq!(same["errors"][0]["code"], "same_as_current", "{same}");
    let personal = format!("Xx-{}-9!", account.username.to_uppercase());
    let holds = assert_invalid(app.confirm_reset(&email, &code, &personal).await).await;
    assert_eq!(holds["errors"][0]["code"], "contains_username", "{holds}");
    let weak = assert_invalid(app.confirm_reset(&email, &code, "short").await).await;
    assert_eq!(weak["errors"][0]["field"], "new_password", "{weak}");
    assert_eq!(
        app.count_events("identity.user.PasswordChanged", &account.id)
            .await,
        0
    );
    // The code still works.
    let done = app.confirm_reset(&email, &code, NEW_PASSWORD).await;
    assert_eq!(done.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reset_lifts_the_failure_lockout_and_says_so() {
    let app = spawn_app_with(|c| c.lockout.max_failures = 3).await;
    let account = app.create_account().await;
    for _ in 0..3 {
        app.login(&account.username, "Wrong-Horse-1!").await;
    }
    assert_problem(
        app.login(&account.username, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
    )
    .await;
    let email = email_of(&account);
    app.request_reset(&email).await;
    let code = app.reset_code(&email, 1).await;
    assert_eq!(
        app.confirm_reset(&email, &code, NEW_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login(&account.username, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    let recorded: Value = crate::helpers::on_db!(&app.db, pool => {
        sqlx::query_scalar::<_, String>(
            "SELECT CAST(payload AS TEXT) FROM events WHERE aggregate_id = $1
               AND event_type = 'identity.user.PasswordChanged'",
        )
        .bind(&account.id)
        .fetch_one(pool)
        .await
    })
    .map(|text| serde_json::from_str(&text).unwrap())
    .unwrap();
    assert_eq!(
        recorded["PasswordChanged"]["lockout_cleared"], true,
        "{recorded}"
    );
    assert_eq!(recorded["PasswordChanged"]["method"], "reset", "{recorded}");
}

#[tokio::test]
async fn a_signed_in_change_keeps_this_session_and_ends_the_others() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let other = body(app.login(&account.username, PASSWORD).await).await;
    // A wrong current password is refused and counted like a failed login.
    assert_problem(
        app.change_password(&account.access_token, "Wrong-Horse-1!", NEW_PASSWORD)
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.count_events("identity.user.LoginFailed", &account.id)
            .await,
        1
    );
    let changed = app
        .change_password(&account.access_token, PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me(&account.access_token).await.status(), StatusCode::OK);
    assert_eq!(
        app.refresh(&account.refresh_token).await.status(),
        StatusCode::OK
    );
    assert_problem(
        app.refresh(other["refresh_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(
        app.login(&account.username, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    // The new password is checked like any new one.
    let weak = app
        .change_password(&account.access_token, NEW_PASSWORD, "short")
        .await;
    assert_invalid(weak).await;
}

#[tokio::test]
async fn ending_one_session_stops_it_and_leaves_the_callers_session_alone() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let other = body(app.login(&account.username, PASSWORD).await).await;
    let other_id = other["session_id"].as_str().unwrap();
    let end = |token: String, id: String| {
        let app = &app;
        async move {
            app.client
                .delete(app.url(&format!("/api/v1/auth/sessions/{id}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let ended = end(account.access_token.clone(), other_id.to_owned()).await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.refresh(other["refresh_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(
        app.refresh(&account.refresh_token).await.status(),
        StatusCode::OK
    );
    // Someone else's session, or one that never was, is not found.
    let stranger = app.create_account().await;
    for id in [
        stranger.session_id.clone(),
        uuid::Uuid::new_v4().to_string(),
    ] {
        assert_problem(
            end(account.access_token.clone(), id).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    assert_eq!(
        app.refresh(&stranger.refresh_token).await.status(),
        StatusCode::OK
    );
}

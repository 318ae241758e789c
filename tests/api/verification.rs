//! Email verification codes: wrong, expired, used, replaced, too many tries,
//! and resending.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;
use crate::smtp::Codes as _;

async fn registered(app: &TestApp) -> String {
    app.register_unverified().await
}

fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

#[tokio::test]
async fn verify_email_refuses_a_wrong_code() {
    let app = spawn_app().await;
    let email = registered(&app).await;
    let code = app.code_for(&email).await;
    assert_problem(
        app.verify_email(&email, &wrong(&code)).await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
    assert_eq!(
        app.verify_email(&email, &code).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn verify_email_refuses_a_used_code() {
    let app = spawn_app().await;
    let email = registered(&app).await;
    let code = app.code_for(&email).await;
    assert_eq!(
        app.verify_email(&email, &code).await.status(),
        StatusCode::OK
    );
    assert_problem(
        app.verify_email(&email, &code).await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
}

#[tokio::test]
async fn verify_email_refuses_an_expired_code() {
    let app = spawn_app_with(|c| c.codes.ttl = Duration::from_secs(1)).await;
    let email = registered(&app).await;
    let code = app.code_for(&email).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_problem(
        app.verify_email(&email, &code).await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
}

#[tokio::test]
async fn verify_email_refuses_a_replaced_code() {
    let app = spawn_app_with(|c| c.codes.resend_cooldown = Duration::ZERO).await;
    let email = registered(&app).await;
    let first = app.code_for(&email).await;
    assert_eq!(app.resend(&email).await.status(), StatusCode::ACCEPTED);
    let second = app.smtp.wait_for_nth_code(&email, 2).await;
    if first != second {
        assert_problem(
            app.verify_email(&email, &first).await,
            StatusCode::BAD_REQUEST,
            "invalid_code",
        )
        .await;
    }
    assert_eq!(
        app.verify_email(&email, &second).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn verify_email_answers_429_after_five_wrong_tries_even_for_the_right_code() {
    let app = spawn_app().await;
    let email = registered(&app).await;
    let code = app.code_for(&email).await;
    for _ in 0..5 {
        assert_problem(
            app.verify_email(&email, &wrong(&code)).await,
            StatusCode::BAD_REQUEST,
            "invalid_code",
        )
        .await;
    }
    assert_problem(
        app.verify_email(&email, &code).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    )
    .await;
}

#[tokio::test]
async fn verify_email_answers_invalid_code_for_unknown_emails() {
    let app = spawn_app().await;
    let response = app.verify_email("nobody@example.com", "123456").await;
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_code").await;
}

/// Defect 11: right after signup a known address got 429 (the cooldown
/// that registration started) and an unknown one 202.
#[tokio::test]
async fn resend_answers_202_alike_within_the_cooldown_and_sends_nothing_more() {
    let app = spawn_app().await;
    let email = registered(&app).await;
    let unknown = "nobody-at-all@example.com";
    for _ in 0..3 {
        for address in [email.as_str(), unknown] {
            let answer = app.resend(address).await;
            assert_eq!(answer.status(), StatusCode::ACCEPTED, "{address}");
        }
    }
    // Only registration's code went out: the cooldown held the resends,
    // which are refused before anything is scheduled.
    let id: uuid::Uuid = on_db!(&app.db, pool => {
    sqlx::query_scalar("SELECT user_id FROM login_lookup WHERE email = $1")
            .bind(&email)
            .fetch_one(pool)
    .await
    })
    .unwrap();
    let issued = app
        .count_events("identity.user.EmailVerificationCodeIssued", &id.to_string())
        .await;
    assert_eq!(issued, 1);
}

#[tokio::test]
async fn resend_sends_a_new_code_that_verifies() {
    let app = spawn_app_with(|c| c.codes.resend_cooldown = Duration::ZERO).await;
    let email = registered(&app).await;
    app.code_for(&email).await;
    assert_eq!(app.resend(&email).await.status(), StatusCode::ACCEPTED);
    let code = app.smtp.wait_for_nth_code(&email, 2).await;
    assert_eq!(
        app.verify_email(&email, &code).await.status(),
        StatusCode::OK
    );
    // Verified accounts get no more codes, and the answer stays the same.
    assert_eq!(app.resend(&email).await.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn more_simultaneous_verifications_than_database_connections_all_succeed() {
    let app = spawn_app_with(|config| config.db_max_connections = Some(4)).await;
    let mut pending = Vec::new();
    for _ in 0..16 {
        let email = registered(&app).await;
        let code = app.code_for(&email).await;
        pending.push((email, code));
    }
    let verifications = pending
        .iter()
        .map(|(email, code)| app.verify_email(email, code));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(verifications)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    // Redeeming a code must not hold one connection while the account's
    // command waits for another: with the pool exhausted that would stall
    // every verification until the pool's acquire timeout.
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_code_whose_follow_up_failed_is_put_back_and_works_once_more() {
    use identity::auth::codes::CodePurpose::EmailVerification;
    use identity::auth::{CodeError, OneTimeCodes};

    let app = spawn_app().await;
    let codes = OneTimeCodes::new(
        app.db.clone(),
        zeroize::Zeroizing::new([7; 32]),
        Duration::from_secs(60),
        5,
    );
    let issued = codes.issue(EmailVerification, "subject-1").await.unwrap();
    let code = issued.expose();
    let down = || async { Err::<u8, _>(std::io::Error::other("store down")) };
    let up = || async { Ok::<u8, std::io::Error>(42) };

    let failed = codes
        .redeem(EmailVerification, "subject-1", code, down)
        .await;
    assert!(matches!(failed, Err(CodeError::Then(_))), "{failed:?}");
    let redeemed = codes.redeem(EmailVerification, "subject-1", code, up).await;
    assert_eq!(redeemed.unwrap(), 42);
    let used = codes.redeem(EmailVerification, "subject-1", code, up).await;
    assert!(matches!(used, Err(CodeError::Invalid)), "{used:?}");
}

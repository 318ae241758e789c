//! The TOTP second factor: enrollment, sign-in after each first factor,
//! replay, recovery codes, lockout, removal, and no secret at rest.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::*;

/// The code of `secret` (base32) at Unix time `unix`.
pub fn totp_at(secret: &str, unix: u64) -> String {
    let bytes = Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("a base32 secret");
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).generate(unix)
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The next step's code: within the skew, and never the one confirmation
/// used up.
pub fn next_code(secret: &str) -> String {
    totp_at(secret, now() + 30)
}

/// What enrolling gave: the secret and the recovery codes.
pub struct Enrolled {
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

impl TestApp {
    pub async fn post_with_token(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    /// Turns TOTP on for `account`, confirming with the current step's code.
    pub async fn enroll_totp(&self, account: &Account) -> Enrolled {
        let start = self
            .post_with_token(
                "/api/v1/me/mfa/totp",
                &account.access_token,
                json!({ "password": PASSWORD }),
            )
            .await;
        assert_eq!(start.status(), StatusCode::OK);
        let secret = body(start).await["secret"].as_str().unwrap().to_owned();
        let confirm = self
            .post_with_token(
                "/api/v1/me/mfa/totp/confirm",
                &account.access_token,
                json!({ "code": totp_at(&secret, now()) }),
            )
            .await;
        assert_eq!(confirm.status(), StatusCode::OK);
        let codes = body(confirm).await["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        Enrolled {
            secret,
            recovery_codes: codes,
        }
    }

    /// A password login that must stop at the second factor: its token.
    pub async fn mfa_token_of_login(&self, username: &str) -> String {
        let answer = body(self.login(username, PASSWORD).await).await;
        assert_eq!(answer["mfa_required"], true, "{answer}");
        assert!(answer.get("access_token").is_none());
        answer["mfa_token"].as_str().unwrap().to_owned()
    }

    pub async fn second_factor(&self, mfa_token: &str, answer: Value) -> reqwest::Response {
        let mut request = answer;
        request["mfa_token"] = json!(mfa_token);
        self.post("/api/v1/auth/mfa", request).await
    }
}

/// The `amr` claim of an access token.
pub fn amr(access_token: &str) -> Vec<String> {
    let payload = access_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    serde_json::from_value(claims["amr"].clone()).unwrap()
}

#[tokio::test]
async fn enrollment_needs_the_password_and_a_first_code_and_answers_ten_recovery_codes() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let token = &account.access_token;
    let wrong = json!({ "password": "not-the-password" });
    let refused = app
        .post_with_token("/api/v1/me/mfa/totp", token, wrong)
        .await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let early = json!({ "code": "123456" });
    let early = app
        .post_with_token("/api/v1/me/mfa/totp/confirm", token, early)
        .await;
    assert_problem(early, StatusCode::CONFLICT, "no_totp_enrollment").await;
    let start = app
        .post_with_token(
            "/api/v1/me/mfa/totp",
            token,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(start.status(), StatusCode::OK);
    assert_eq!(start.headers()["cache-control"], "no-store");
    let enrollment = body(start).await;
    let secret = enrollment["secret"].as_str().unwrap();
    let uri = enrollment["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/") && uri.contains(secret),
        "{uri}"
    );
    assert!(enrollment["qr_svg"].as_str().unwrap().contains("<svg"));
    // Until confirmed, the password alone still signs in.
    assert!(body(app.login(&account.username, PASSWORD).await).await["access_token"].is_string());
    let wrong_code = totp_at(secret, now() - 3600);
    let refused = app
        .post_with_token(
            "/api/v1/me/mfa/totp/confirm",
            token,
            json!({ "code": wrong_code }),
        )
        .await;
    assert_problem(refused, StatusCode::BAD_REQUEST, "invalid_code").await;
    let right = json!({ "code": totp_at(secret, now()) });
    let confirmed = app
        .post_with_token("/api/v1/me/mfa/totp/confirm", token, right)
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let codes = body(confirmed).await["recovery_codes"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(codes, 10);
    let again = app
        .post_with_token(
            "/api/v1/me/mfa/totp",
            token,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_problem(again, StatusCode::CONFLICT, "mfa_already_enabled").await;
}

#[tokio::test]
async fn every_first_factor_of_an_account_with_totp_waits_for_the_second() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let email = format!("{}@example.com", account.username);
    let enrolled = app.enroll_totp(&account).await;
    // Password.
    let token = app.mfa_token_of_login(&account.username).await;
    let signed_in = app
        .second_factor(&token, json!({ "code": next_code(&enrolled.secret) }))
        .await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let pair = body(signed_in).await;
    assert_eq!(
        amr(pair["access_token"].as_str().unwrap()),
        ["pwd", "otp", "mfa"]
    );
    // The session keeps its amr through a refresh.
    let refreshed = body(app.refresh(pair["refresh_token"].as_str().unwrap()).await).await;
    assert_eq!(
        amr(refreshed["access_token"].as_str().unwrap()),
        ["pwd", "otp", "mfa"]
    );
    // A code by email.
    app.post("/api/v1/auth/passwordless", json!({ "email": &email }))
        .await;
    let code = crate::smtp::Codes::wait_for_nth_code(&app.smtp, &email, 2).await;
    let verify = json!({ "email": &email, "code": code });
    let answer = body(app.post("/api/v1/auth/passwordless/verify", verify).await).await;
    assert_eq!(answer["mfa_required"], true, "{answer}");
    assert_eq!(answer["methods"], json!(["totp", "recovery_code"]));
    let recovery = json!({ "recovery_code": &enrolled.recovery_codes[0] });
    let pair = body(
        app.second_factor(answer["mfa_token"].as_str().unwrap(), recovery)
            .await,
    )
    .await;
    let methods = amr(pair["access_token"].as_str().unwrap());
    assert_eq!(methods, ["email_code", "recovery_code", "mfa"]);
    // A password reset changes the password but still asks.
    app.post("/api/v1/auth/password-reset", json!({ "email": &email }))
        .await;
    let reset = crate::smtp::Codes::wait_for_nth_code(&app.smtp, &email, 3).await;
    let confirm = json!({"email": &email, "code": reset, "new_password": "Another-Horse-42!"});
    let answer = body(
        app.post("/api/v1/auth/password-reset/confirm", confirm)
            .await,
    )
    .await;
    assert_eq!(answer["mfa_required"], true, "{answer}");
    assert!(answer.get("access_token").is_none());
}

#[tokio::test]
async fn a_totp_code_signs_in_once_and_a_replay_is_refused() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let enrolled = app.enroll_totp(&account).await;
    let code = next_code(&enrolled.secret);
    let first = app.mfa_token_of_login(&account.username).await;
    let answer = json!({ "code": &code });
    assert_eq!(
        app.second_factor(&first, answer.clone()).await.status(),
        StatusCode::OK
    );
    // The same code again, with a fresh first factor: refused.
    let second = app.mfa_token_of_login(&account.username).await;
    let replay = app.second_factor(&second, answer).await;
    assert_problem(replay, StatusCode::BAD_REQUEST, "invalid_code").await;
    // The code confirmation used is spent too.
    let third = app.mfa_token_of_login(&account.username).await;
    let old = json!({ "code": totp_at(&enrolled.secret, now() - 30) });
    let refused = app.second_factor(&third, old).await;
    assert_problem(refused, StatusCode::BAD_REQUEST, "invalid_code").await;
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_and_new_codes_replace_the_old() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let enrolled = app.enroll_totp(&account).await;
    // Typed in capitals and without its dash, it still counts.
    let typed = enrolled.recovery_codes[0].to_uppercase().replace('-', "");
    let token = app.mfa_token_of_login(&account.username).await;
    let first = app
        .second_factor(&token, json!({ "recovery_code": &typed }))
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let token = app.mfa_token_of_login(&account.username).await;
    let again = app
        .second_factor(&token, json!({ "recovery_code": &typed }))
        .await;
    assert_problem(again, StatusCode::BAD_REQUEST, "invalid_code").await;
    let replaced = app
        .post_with_token(
            "/api/v1/me/mfa/recovery-codes",
            &account.access_token,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let new_codes = body(replaced).await["recovery_codes"].clone();
    let old = json!({ "recovery_code": &enrolled.recovery_codes[1] });
    let token = app.mfa_token_of_login(&account.username).await;
    assert_problem(
        app.second_factor(&token, old).await,
        StatusCode::BAD_REQUEST,
        "invalid_code",
    )
    .await;
    let new = json!({ "recovery_code": new_codes[0] });
    assert_eq!(
        app.second_factor(&token, new).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_mfa_token_works_once_and_only_as_issued() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let enrolled = app.enroll_totp(&account).await;
    let token = app.mfa_token_of_login(&account.username).await;
    let recovery = |i: usize| json!({ "recovery_code": &enrolled.recovery_codes[i] });
    // Another first factor's method, or another account, breaks its MAC.
    let forged = token.replacen(".password.", ".oidc.", 1);
    let refused = app.second_factor(&forged, recovery(0)).await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
    // Two sign-ins at once (two devices) each keep their own token.
    let other = app.mfa_token_of_login(&account.username).await;
    assert_eq!(
        app.second_factor(&token, recovery(0)).await.status(),
        StatusCode::OK
    );
    let reused = app.second_factor(&token, recovery(1)).await;
    assert_problem(reused, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
    let second = app.second_factor(&other, recovery(1)).await;
    assert_eq!(second.status(), StatusCode::OK);
    let neither = app.second_factor(&token, json!({})).await;
    assert_invalid(neither).await;
}

#[tokio::test]
async fn wrong_second_factors_lock_the_account_like_wrong_passwords() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let enrolled = app.enroll_totp(&account).await;
    let token = app.mfa_token_of_login(&account.username).await;
    let limit = app.config.lockout.max_failures;
    for _ in 0..limit {
        let wrong = app.second_factor(&token, json!({ "code": "000000" })).await;
        assert_problem(wrong, StatusCode::BAD_REQUEST, "invalid_code").await;
    }
    // The token survived the wrong codes; the account did not.
    let right = json!({ "code": next_code(&enrolled.secret) });
    let locked = app.second_factor(&token, right).await;
    assert_problem(locked, StatusCode::TOO_MANY_REQUESTS, "account_locked").await;
    let password = app.login(&account.username, PASSWORD).await;
    assert_problem(password, StatusCode::TOO_MANY_REQUESTS, "account_locked").await;
}

#[tokio::test]
async fn the_person_turns_totp_off_with_password_and_code_and_an_admin_without() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let account = app.create_account().await;
    let enrolled = app.enroll_totp(&account).await;
    let off = |code: String| json!({ "password": PASSWORD, "code": code });
    let request = |value: Value| {
        app.client
            .delete(app.url("/api/v1/me/mfa/totp"))
            .bearer_auth(&account.access_token)
            .json(&value)
            .send()
    };
    // The code confirmation used is spent.
    let spent = request(off(totp_at(&enrolled.secret, now())))
        .await
        .unwrap();
    assert_problem(spent, StatusCode::BAD_REQUEST, "invalid_code").await;
    let done = request(off(next_code(&enrolled.secret))).await.unwrap();
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert!(body(app.login(&account.username, PASSWORD).await).await["access_token"].is_string());
    // On again; an admin removes it.
    app.enroll_totp(&account).await;
    let path = format!("/api/v1/admin/users/{}/mfa", account.id);
    let remove = || {
        app.client
            .delete(app.url(&path))
            .bearer_auth(&admin.access_token)
            .send()
    };
    let user = remove().await.unwrap();
    assert_eq!(user.status(), StatusCode::OK);
    assert!(body(app.login(&account.username, PASSWORD).await).await["access_token"].is_string());
    assert_problem(
        remove().await.unwrap(),
        StatusCode::CONFLICT,
        "mfa_not_enabled",
    )
    .await;
    let removals = app
        .count_events("identity.user.TotpDisabled", &account.id)
        .await;
    assert_eq!(removals, 2);
    let events = table_rows(&app.db, "events", "position").await;
    let by_admin = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "identity.user.TotpDisabled")
        .filter(|e| e["payload"].to_string().contains(&admin.id))
        .count();
    assert_eq!(by_admin, 1, "the admin's removal names the admin");
    let plain = app.login(&admin.username, PASSWORD).await;
    assert_eq!(plain.status(), StatusCode::OK);
}

#[tokio::test]
async fn no_totp_secret_or_recovery_code_is_at_rest_or_in_a_log() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let enrolled = app.enroll_totp(&account).await;
    let token = app.mfa_token_of_login(&account.username).await;
    let recovery = json!({ "recovery_code": &enrolled.recovery_codes[0] });
    assert_eq!(
        app.second_factor(&token, recovery).await.status(),
        StatusCode::OK
    );
    let raw_secret = Secret::Encoded(enrolled.secret.clone()).to_bytes().unwrap();
    let mut secrets = vec![
        enrolled.secret.clone(),
        enrolled.secret.to_lowercase(),
        hex_of(&raw_secret),
        base64::engine::general_purpose::STANDARD.encode(&raw_secret),
        token,
    ];
    secrets.extend(enrolled.recovery_codes.iter().cloned());
    secrets.extend(enrolled.recovery_codes.iter().map(|c| c.replace('-', "")));
    // The events table is what NATS and the HTTP feed publish.
    let tables = app.dump_all_tables().await;
    for secret in &secrets {
        assert!(!tables.contains(secret.as_str()), "a secret is at rest");
        assert!(!logs_contain(secret), "a secret was logged: {secret}");
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

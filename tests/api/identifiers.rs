//! Changing what one signs in with: the email address (a code to the new
//! one, a notice to the old) and the username (the old one reserved).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

impl TestApp {
    async fn change_email(
        &self,
        token: &str,
        new_email: &str,
        password: &str,
    ) -> reqwest::Response {
        let body = json!({ "new_email": new_email, "password": password });
        self.post_with_token("/api/v1/me/email", token, body).await
    }

    async fn confirm_email(&self, token: &str, code: &str) -> reqwest::Response {
        let body = json!({ "code": code });
        self.post_with_token("/api/v1/me/email/verify", token, body)
            .await
    }

    pub(crate) async fn change_username(
        &self,
        token: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        self.client
            .put(self.url("/api/v1/me/username"))
            .bearer_auth(token)
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .expect("request sent")
    }

    /// Asks for a fresh address for `account` (expecting 202); the address.
    async fn ask_for_new_email(&self, account: &Account) -> String {
        let new = format!("{}@example.org", unique_name());
        let asked = self
            .change_email(&account.access_token, &new, PASSWORD)
            .await;
        assert_eq!(asked.status(), StatusCode::ACCEPTED);
        new
    }

    /// Waits for a mail to `address` that contains `text`.
    async fn wait_for_mail(&self, address: &str, text: &str) {
        eventually(Duration::from_secs(10), || async {
            self.smtp
                .mails_to(address)
                .iter()
                .any(|mail| mail.data.contains(text))
                .then_some(())
        })
        .await;
    }
}

fn email_of(account: &Account) -> String {
    format!("{}@example.com", account.username)
}

#[tokio::test]
async fn an_email_change_takes_effect_only_with_the_code_and_the_old_address_is_told() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let token = &account.access_token;
    let old = email_of(&account);
    let new = format!("{}@example.org", unique_name());
    let wrong = app.change_email(token, &new, "not-the-password").await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_invalid(app.change_email(token, "not-an-address", PASSWORD).await).await;
    let same = assert_invalid(app.change_email(token, &old, PASSWORD).await).await;
    assert!(same.to_string().contains("same_as_current"), "{same}");
    let asked = app.change_email(token, &new, PASSWORD).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let code = app.code_for(&new).await;
    // Nothing changes before the code.
    assert_eq!(body(app.me(token).await).await["email"], old.as_str());
    assert_eq!(
        app.login(&new, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let wrong_code = if code == "000000" { "111111" } else { "000000" };
    let refused = app.confirm_email(token, wrong_code).await;
    assert_problem(refused, StatusCode::BAD_REQUEST, "invalid_code").await;
    let confirmed = app.confirm_email(token, &code).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let me = body(confirmed).await;
    assert_eq!(me["email"], new.as_str());
    assert_eq!(me["email_verified"], true);
    app.wait_for_mail(&old, "email address of your account was just changed")
        .await;
    // Login by the old address stops, by the new one starts; the session
    // that made the change goes on.
    assert_eq!(
        app.login(&old, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.login(&new, PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(app.me(token).await.status(), StatusCode::OK);
    assert_eq!(
        app.refresh(&account.refresh_token).await.status(),
        StatusCode::OK
    );
    // The code was single use.
    let again = app.confirm_email(token, &code).await;
    assert_problem(again, StatusCode::BAD_REQUEST, "invalid_code").await;
    // The claims moved: the old address is free, the new one taken.
    let taken = app.register(&unique_name(), &new, PASSWORD).await;
    assert_problem(taken, StatusCode::CONFLICT, "email_taken").await;
    let freed = app.register(&unique_name(), &old, PASSWORD).await;
    assert_eq!(freed.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_address_another_account_uses_gets_the_same_answer_no_code_and_its_owner_a_notice() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let owner = app.create_account().await;
    let owners_email = email_of(&owner);
    let mails_before = app.smtp.mails_to(&owners_email).len();
    let free = format!("{}@example.org", unique_name());
    let to_free = app
        .change_email(&account.access_token, &free, PASSWORD)
        .await;
    let to_taken = app
        .change_email(&account.access_token, &owners_email, PASSWORD)
        .await;
    assert_eq!(to_free.status(), StatusCode::ACCEPTED);
    assert_eq!(to_taken.status(), StatusCode::ACCEPTED);
    let text = |response: reqwest::Response| async { response.text().await.expect("body") };
    assert_eq!(text(to_free).await, text(to_taken).await);
    app.wait_for_mail(&owners_email, "Someone tried to use your email address")
        .await;
    let mails = app.smtp.mails_to(&owners_email);
    assert_eq!(mails.len(), mails_before + 1, "one notice, no code");
    assert!(sinks::extract_code(&mails.last().unwrap().data).is_none());
    // The request for the taken address replaced the one before: the code
    // of the free address no longer changes anything.
    let code = app.code_for(&free).await;
    let refused = app.confirm_email(&account.access_token, &code).await;
    assert_problem(refused, StatusCode::BAD_REQUEST, "invalid_code").await;
    let me = body(app.me(&account.access_token).await).await;
    assert_eq!(me["email"], email_of(&account).as_str());
}

#[tokio::test]
async fn a_code_confirmed_after_someone_else_took_the_address_answers_email_taken() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let new = app.ask_for_new_email(&account).await;
    let code = app.code_for(&new).await;
    let registered = app.register(&unique_name(), &new, PASSWORD).await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let late = app.confirm_email(&account.access_token, &code).await;
    assert_problem(late, StatusCode::CONFLICT, "email_taken").await;
    let changed = app
        .count_events("identity.user.EmailChanged", &account.id)
        .await;
    assert_eq!(changed, 0, "a failed command changes nothing");
}

#[tokio::test]
async fn asking_again_for_the_same_address_within_the_cooldown_answers_429() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let new = app.ask_for_new_email(&account).await;
    let second = app
        .change_email(&account.access_token, &new, PASSWORD)
        .await;
    assert_problem(second, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_username_change_moves_the_login_and_keeps_the_old_name_reserved() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let other = app.create_account().await;
    let token = &account.access_token;
    let old = account.username.clone();
    let new = unique_name();
    let wrong = app.change_username(token, &new, "not-the-password").await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_invalid(app.change_username(token, "a", PASSWORD).await).await;
    let same = assert_invalid(app.change_username(token, &old, PASSWORD).await).await;
    assert!(same.to_string().contains("same_as_current"), "{same}");
    let taken = app.change_username(token, &other.username, PASSWORD).await;
    assert_problem(taken, StatusCode::CONFLICT, "username_taken").await;
    let changed = app.change_username(token, &new, PASSWORD).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(body(changed).await["username"], new.as_str());
    assert_eq!(app.login(&new, PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(
        app.login(&old, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Reserved: nobody else can take the old name, by change or signup.
    let grab = app
        .change_username(&other.access_token, &old, PASSWORD)
        .await;
    assert_problem(grab, StatusCode::CONFLICT, "username_taken").await;
    let email = format!("{}@example.com", unique_name());
    let signup = app.register(&old.to_uppercase(), &email, PASSWORD).await;
    assert_problem(signup, StatusCode::CONFLICT, "username_taken").await;
    // The account itself can take it back.
    let back = app.change_username(token, &old, PASSWORD).await;
    assert_eq!(back.status(), StatusCode::OK);
    assert_eq!(app.login(&old, PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reserved_username_is_free_for_anyone_once_its_reservation_ends() {
    let app = spawn_app_with(|config| config.username_reservation = chrono::Duration::zero()).await;
    let account = app.create_account().await;
    let other = app.create_account().await;
    let old = account.username.clone();
    let changed = app
        .change_username(&account.access_token, &unique_name(), PASSWORD)
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let taken = app
        .change_username(&other.access_token, &old, PASSWORD)
        .await;
    assert_eq!(taken.status(), StatusCode::OK);
    assert_eq!(app.login(&old, PASSWORD).await.status(), StatusCode::OK);
    let me = body(app.me(&other.access_token).await).await;
    assert_eq!(me["username"], old.as_str());
}

#[tokio::test]
async fn twenty_parallel_username_changes_to_one_free_name_exactly_one_wins() {
    let app = spawn_app().await;
    let accounts = futures_util::future::join_all((0..20).map(|_| app.create_account())).await;
    let name = unique_name();
    let changes = accounts
        .iter()
        .map(|account| app.change_username(&account.access_token, &name, PASSWORD));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(changes)
        .await
        .into_iter()
        .map(|response| response.status())
        .collect();
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let lost = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((won, lost), (1, 19), "{statuses:?}");
    let pair: Value = body(app.login(&name, PASSWORD).await).await;
    assert!(pair["access_token"].is_string(), "{pair}");
}

#[tokio::test]
async fn admins_find_an_account_by_its_new_email_and_username() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let account = app.create_account().await;
    let name = unique_name();
    let renamed = app
        .change_username(&account.access_token, &name, PASSWORD)
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let new = format!("{}@example.org", unique_name());
    app.change_email(&account.access_token, &new, PASSWORD)
        .await;
    let code = app.code_for(&new).await;
    let confirmed = app.confirm_email(&account.access_token, &code).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    for query in [&name, &new] {
        let path = format!("/api/v1/admin/users?query={query}");
        let page = body(app.get_with_token(&path, &admin.access_token).await).await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{query}: {page}");
        assert_eq!(items[0]["username"], name.as_str());
        assert_eq!(items[0]["email"], new.as_str());
    }
}

#[tokio::test]
async fn wrong_passwords_at_an_email_or_username_change_count_toward_the_lockout() {
    let app = spawn_app_with(|config| config.lockout.max_failures = 2).await;
    let account = app.create_account().await;
    let token = &account.access_token;
    let new = format!("{}@example.org", unique_name());
    let email = app.change_email(token, &new, "not-the-password").await;
    assert_problem(email, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let name = app
        .change_username(token, &unique_name(), "not-the-password")
        .await;
    assert_problem(name, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // Two failures: the account is locked, the right password included.
    let login = app.login(&account.username, PASSWORD).await;
    assert_problem(login, StatusCode::TOO_MANY_REQUESTS, "account_locked").await;
    let email = app.change_email(token, &new, PASSWORD).await;
    assert_problem(email, StatusCode::TOO_MANY_REQUESTS, "account_locked").await;
}

#[tokio::test]
async fn an_email_change_code_past_its_lifetime_changes_nothing() {
    let app = spawn_app_with(|config| config.codes.ttl = Duration::from_secs(1)).await;
    let account = app.create_account().await;
    let new = app.ask_for_new_email(&account).await;
    let code = app.code_for(&new).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let late = app.confirm_email(&account.access_token, &code).await;
    assert_problem(late, StatusCode::BAD_REQUEST, "invalid_code").await;
    let me = body(app.me(&account.access_token).await).await;
    assert_eq!(me["email"], email_of(&account).as_str());
}

//! Sessions that stop at once: after each way a session ends, its access
//! token is refused on every instance well before it expires, without a
//! database query per request; the set survives restarts.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// How long an instance may take to hear of a revocation. The contract is
/// 1 s; the margin is for a loaded CI machine, not for the design.
const HEARD_WITHIN: Duration = Duration::from_secs(5);

async fn me_at(app: &TestApp, base: &str, token: &str) -> reqwest::Response {
    app.client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Waits until both instances refuse `token` with 401 `token_revoked`.
async fn assert_refused_everywhere(app: &TestApp, second: &str, token: &str) {
    for base in [app.address.as_str(), second] {
        eventually(HEARD_WITHIN, || async {
            (me_at(app, base, token).await.status() == StatusCode::UNAUTHORIZED).then_some(())
        })
        .await;
        assert_problem(
            me_at(app, base, token).await,
            StatusCode::UNAUTHORIZED,
            "token_revoked",
        )
        .await;
    }
}

async fn assert_works_everywhere(app: &TestApp, second: &str, token: &str) {
    for base in [app.address.as_str(), second] {
        assert_eq!(
            me_at(app, base, token).await.status(),
            StatusCode::OK,
            "{base}"
        );
    }
}

#[tokio::test]
async fn logout_stops_the_access_token_on_every_instance() {
    let app = spawn_app().await;
    let second = app.second_instance().await;
    let account = app.create_account().await;
    assert_works_everywhere(&app, &second, &account.access_token).await;
    assert_eq!(
        app.logout(&account.refresh_token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_refused_everywhere(&app, &second, &account.access_token).await;
}

#[tokio::test]
async fn logout_all_stops_every_session_of_the_account_on_every_instance() {
    let app = spawn_app().await;
    let second = app.second_instance().await;
    let account = app.create_account().await;
    let other = body(app.login(&account.username, PASSWORD).await).await;
    let other = other["access_token"].as_str().unwrap().to_owned();
    let bystander = app.create_account().await;
    assert_eq!(
        app.logout_all(&account.access_token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_refused_everywhere(&app, &second, &account.access_token).await;
    assert_refused_everywhere(&app, &second, &other).await;
    assert_works_everywhere(&app, &second, &bystander.access_token).await;
}

#[tokio::test]
async fn refresh_token_reuse_stops_the_session_access_token_on_every_instance() {
    let app = spawn_app_with(|c| c.tokens.refresh_grace = Duration::ZERO).await;
    let second = app.second_instance().await;
    let account = app.create_account().await;
    let rotated = body(app.refresh(&account.refresh_token).await).await;
    let new_access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_works_everywhere(&app, &second, &new_access).await;
    // The rotated token comes back after the (here empty) grace window:
    // someone holds a copy, and the whole session ends.
    let reused = app
        .client
        .post(format!("{second}/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": account.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_problem(reused, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    // The instance that detected the reuse refuses the session at once.
    assert_problem(
        me_at(&app, &second, &new_access).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    assert_refused_everywhere(&app, &second, &new_access).await;
}

#[tokio::test]
async fn an_admin_lock_stops_access_tokens_and_refresh_on_every_instance_until_unlocked() {
    let app = spawn_app().await;
    let second = app.second_instance().await;
    let admin = app.create_account_with_role("admin").await;
    let mut account = app.create_account().await;
    // A refresh before the lock, so that the instance holds what refresh
    // needs of the account in memory when it changes.
    let before = body(app.refresh(&account.refresh_token).await).await;
    account.refresh_token = before["refresh_token"].as_str().unwrap().to_owned();
    account.access_token = before["access_token"].as_str().unwrap().to_owned();
    let locked = app
        .admin_post(
            &format!("/api/v1/admin/users/{}/lock", account.id),
            &admin.access_token,
            None,
        )
        .await;
    assert_eq!(locked.status(), StatusCode::OK);
    assert_refused_everywhere(&app, &second, &account.access_token).await;
    // Defect 6: refresh answered 200 and its tokens worked.
    for base in [app.address.as_str(), second.as_str()] {
        let refreshed = app
            .client
            .post(format!("{base}/api/v1/auth/refresh"))
            .json(&json!({"refresh_token": account.refresh_token}))
            .send()
            .await
            .unwrap();
        assert_problem(refreshed, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    }
    assert_problem(
        app.login(&account.username, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
    )
    .await;
    // Unlocked, the session works again: the admin trusts it once more.
    let unlocked = app
        .admin_post(
            &format!("/api/v1/admin/users/{}/unlock", account.id),
            &admin.access_token,
            None,
        )
        .await;
    assert_eq!(unlocked.status(), StatusCode::OK);
    // Each instance hears of the unlock from the log, the one that took
    // the command too (its follower runs beside the request).
    eventually(HEARD_WITHIN, || async {
        let second_heard = me_at(&app, &second, &account.access_token).await.status();
        let first_heard = app.me(&account.access_token).await.status();
        (second_heard == StatusCode::OK && first_heard == StatusCode::OK).then_some(())
    })
    .await;
    assert_eq!(
        app.refresh(&account.refresh_token).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn deactivation_stops_access_tokens_on_every_instance() {
    let app = spawn_app().await;
    let second = app.second_instance().await;
    let admin = app.create_account_with_role("admin").await;
    let account = app.create_account().await;
    let deactivated = app
        .admin_post(
            &format!("/api/v1/admin/users/{}/deactivate", account.id),
            &admin.access_token,
            None,
        )
        .await;
    assert_eq!(deactivated.status(), StatusCode::OK);
    assert_refused_everywhere(&app, &second, &account.access_token).await;
}

#[tokio::test]
async fn a_role_change_takes_effect_at_the_next_refresh() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let auditor = app.create_account_with_role("auditor").await;
    let path = format!("/api/v1/admin/users/{}/history", admin.id);
    assert_eq!(
        app.get_with_token(&path, &auditor.access_token)
            .await
            .status(),
        StatusCode::OK
    );
    // A refresh before the change, so that the instance holds the
    // account's roles in memory when they change.
    let before = body(app.refresh(&auditor.refresh_token).await).await;
    let refresh_token = before["refresh_token"].as_str().unwrap();
    let token = before["access_token"].as_str().unwrap();
    assert_eq!(
        app.get_with_token(&path, token).await.status(),
        StatusCode::OK
    );
    let demoted = app
        .client
        .put(app.url(&format!("/api/v1/admin/users/{}/roles", auditor.id)))
        .bearer_auth(&admin.access_token)
        .json(&json!({"roles": ["user"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(demoted.status(), StatusCode::OK);
    let refreshed = body(app.refresh(refresh_token).await).await;
    let token = refreshed["access_token"].as_str().unwrap();
    assert_problem(
        app.get_with_token(&path, token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn revocations_survive_a_restart_and_cover_tokens_issued_before_it() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let other = app.create_account().await;
    assert_eq!(
        app.logout(&account.refresh_token).await.status(),
        StatusCode::NO_CONTENT
    );
    // A fresh instance (a restart) knows of the logout from the log alone.
    let restarted = app.second_instance().await;
    assert_problem(
        me_at(&app, &restarted, &account.access_token).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    assert_eq!(
        me_at(&app, &restarted, &other.access_token).await.status(),
        StatusCode::OK
    );
}

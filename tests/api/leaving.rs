//! Leaving: a person deactivates their own account.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_person_who_leaves_is_signed_out_everywhere_at_once_and_an_admin_can_reactivate() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let account = app.create_account().await;
    let other_session = body(app.login(&account.username, PASSWORD).await).await;
    let leave = |password: &str| {
        app.post_with_token(
            "/api/v1/me/deactivate",
            &account.access_token,
            json!({ "password": password }),
        )
    };
    let wrong = leave("not-the-password").await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(leave(PASSWORD).await.status(), StatusCode::NO_CONTENT);
    // Access tokens stop at once, every refresh token with them.
    let me = app.me(&account.access_token).await;
    assert_problem(me, StatusCode::UNAUTHORIZED, "token_revoked").await;
    for refresh in [
        &account.refresh_token,
        other_session["refresh_token"].as_str().unwrap(),
    ] {
        let refused = app.refresh(refresh).await;
        assert_problem(refused, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    }
    let login = app.login(&account.username, PASSWORD).await;
    assert_problem(login, StatusCode::FORBIDDEN, "account_deactivated").await;
    // Recorded as the person's own doing, not an admin's.
    let events = table_rows(&app.db, "events", "position").await;
    let left = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "identity.user.UserDeactivated")
        .expect("deactivated")["payload"]
        .to_string();
    assert!(left.contains(&account.id), "{left}");
    let path = format!("/api/v1/admin/users/{}/reactivate", account.id);
    let reactivated = app.admin_post(&path, &admin.access_token, None).await;
    assert_eq!(reactivated.status(), StatusCode::OK);
    assert_eq!(
        app.login(&account.username, PASSWORD).await.status(),
        StatusCode::OK
    );
}

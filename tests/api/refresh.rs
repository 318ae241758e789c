//! Refresh-token rotation: reuse detection, the grace window, racing
//! refreshes.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn refresh_ok(app: &TestApp, token: &str) -> Value {
    let response = app.refresh(token).await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await
}

#[tokio::test]
async fn presenting_a_rotated_token_after_the_grace_window_revokes_the_session() {
    let app = spawn_app_with(|c| c.tokens.refresh_grace = Duration::from_millis(300)).await;
    let account = app.create_account().await;
    let second = refresh_ok(&app, &account.refresh_token).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let response = app.refresh(&account.refresh_token).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    // The thief's (or the victim's) newer token dies with the session.
    let response = app.refresh(second["refresh_token"].as_str().unwrap()).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;

    let types: Vec<String> = on_db!(&app.db, pool => {
    sqlx::query_scalar(
            "SELECT event_type FROM events WHERE aggregate_type = 'session' ORDER BY position",
        )
        .fetch_all(pool)
    .await
    })
    .unwrap();
    assert!(types.contains(&"identity.session.RefreshTokenReuseDetected".to_owned()));
    assert_eq!(types.last().unwrap(), "identity.session.SessionRevoked");
}

#[tokio::test]
async fn presenting_a_rotated_token_within_the_grace_window_returns_the_same_successor() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let first = refresh_ok(&app, &account.refresh_token).await;
    let again = refresh_ok(&app, &account.refresh_token).await;
    assert_eq!(first["refresh_token"], again["refresh_token"]);
    // And the session lives on.
    refresh_ok(&app, again["refresh_token"].as_str().unwrap()).await;
}

#[tokio::test]
async fn fifty_concurrent_refreshes_of_one_token_yield_one_successor_and_keep_the_session() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let attempts = (0..50).map(|_| app.refresh(&account.refresh_token));
    let responses = futures_util::future::join_all(attempts).await;
    let mut successors = HashSet::new();
    for response in responses {
        assert!(
            !response.status().is_server_error(),
            "got {}",
            response.status()
        );
        if response.status() == StatusCode::OK {
            successors.insert(
                body(response).await["refresh_token"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    assert_eq!(successors.len(), 1, "at most one successor token");
    let successor = successors.into_iter().next().unwrap();
    refresh_ok(&app, &successor).await;
}

#[tokio::test]
async fn an_access_token_from_refresh_works_and_names_the_same_session() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let pair = refresh_ok(&app, &account.refresh_token).await;
    let sessions = body(app.sessions(pair["access_token"].as_str().unwrap()).await).await;
    let current: Vec<&Value> = sessions
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["current"] == true)
        .collect();
    assert_eq!(current[0]["id"].as_str().unwrap(), account.session_id);
}

#[tokio::test]
async fn logout_with_one_sessions_token_leaves_other_sessions_alone() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let other = body(app.login(&account.username, PASSWORD).await).await;
    assert_eq!(
        app.logout(&account.refresh_token).await.status(),
        StatusCode::NO_CONTENT
    );
    refresh_ok(&app, other["refresh_token"].as_str().unwrap()).await;
}

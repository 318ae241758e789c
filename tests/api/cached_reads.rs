//! `GET /me` answers from memory (verified tokens and profiles), yet every
//! change shows at once and an ended session stops at once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn me_at(app: &TestApp, address: &str, token: &str) -> reqwest::Response {
    app.client
        .get(format!("{address}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent")
}

#[tokio::test]
async fn a_profile_read_from_memory_shows_each_change_as_soon_as_the_change_answers() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let token = &account.access_token;
    for _ in 0..3 {
        assert_eq!(app.me(token).await.status(), StatusCode::OK);
    }
    let named = app.patch_me(token, json!({ "display_name": "Ada" })).await;
    assert_eq!(named.status(), StatusCode::OK);
    assert_eq!(body(app.me(token).await).await["display_name"], "Ada");

    let new_name = unique_name();
    let renamed = app.change_username(token, &new_name, PASSWORD).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let me = body(app.me(token).await).await;
    assert_eq!(me["username"], new_name.to_ascii_lowercase().as_str());
    assert_eq!(me["display_name"], "Ada");
}

#[tokio::test]
async fn many_reads_racing_changes_end_on_the_last_change() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let token = account.access_token.clone();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (client, url, token) = (app.client.clone(), app.url("/api/v1/me"), token.clone());
            tokio::spawn(async move {
                for _ in 0..100 {
                    let read = client.get(&url).bearer_auth(&token).send().await.unwrap();
                    assert_eq!(read.status(), StatusCode::OK);
                }
            })
        })
        .collect();
    for i in 0..20 {
        let changed = app
            .patch_me(&token, json!({ "display_name": format!("name {i}") }))
            .await;
        assert_eq!(changed.status(), StatusCode::OK);
        assert_eq!(
            body(app.me(&token).await).await["display_name"],
            format!("name {i}").as_str()
        );
    }
    for reader in readers {
        reader.await.unwrap();
    }
    assert_eq!(body(app.me(&token).await).await["display_name"], "name 19");
}

#[tokio::test]
async fn a_token_used_before_stops_at_once_when_its_session_ends() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    assert_eq!(app.me(&account.access_token).await.status(), StatusCode::OK);
    assert_eq!(
        app.logout(&account.refresh_token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        app.me(&account.access_token).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
}

#[tokio::test]
async fn a_change_through_another_instance_reaches_this_instances_profile_in_memory() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let account = app.create_account().await;
    let token = &account.access_token;
    assert_eq!(
        body(me_at(&app, &app.address, token).await).await["display_name"],
        Value::Null
    );
    let changed = app
        .client
        .patch(format!("{other}/api/v1/me"))
        .bearer_auth(token)
        .json(&json!({ "display_name": "Grace" }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    // Within the other instances' poll (IDENTITY_PROJECTION_POLL_MS).
    eventually(Duration::from_secs(10), || async {
        let me = body(me_at(&app, &app.address, token).await).await;
        (me["display_name"] == "Grace").then_some(())
    })
    .await;
}

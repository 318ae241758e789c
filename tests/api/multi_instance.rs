//! Several instances on one Postgres: shared keys, shared session state,
//! one event relay.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn an_access_token_from_one_instance_is_accepted_by_the_other() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let account = app.create_account().await;
    let response = app
        .client
        .get(format!("{other}/api/v1/me"))
        .bearer_auth(&account.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_refresh_rotated_on_one_instance_is_known_to_the_other_at_once() {
    let app = spawn_app_with(|c| c.tokens.refresh_grace = Duration::from_millis(200)).await;
    let other = app.second_instance().await;
    let account = app.create_account().await;
    let rotated = body(app.refresh(&account.refresh_token).await).await;
    let refresh_on_other = |token: String| {
        let client = app.client.clone();
        let url = format!("{other}/api/v1/auth/refresh");
        async move {
            client
                .post(url)
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .unwrap()
        }
    };
    // The successor works on the other instance straight away...
    let response = refresh_on_other(rotated["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let latest: Value = body(response).await;
    // ...and the other instance knows the first token is spent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reuse = refresh_on_other(account.refresh_token.clone()).await;
    assert_problem(reuse, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let after = app.refresh(latest["refresh_token"].as_str().unwrap()).await;
    assert_problem(after, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn with_two_instances_every_event_is_published_once_and_in_order() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let client = app.client.clone();
    for i in 0..4 {
        let name = unique_name();
        let base = if i % 2 == 0 {
            app.address.clone()
        } else {
            other.clone()
        };
        let response = client
            .post(format!("{base}/api/v1/auth/register"))
            .json(&json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let account = app.create_account().await;
    for _ in 0..3 {
        client
            .post(format!("{other}/api/v1/auth/login"))
            .json(&json!({"identifier": account.username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
    }
    eventually(Duration::from_secs(30), || async {
        let ready: Value = body(app.client.get(app.url("/health/ready")).send().await.ok()?).await;
        (ready["relay_lag"]["events"] == 0).then_some(())
    })
    .await;
    let expected: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let received = crate::nats::consume(
        &crate::helpers::nats_url(),
        &app.config.relay.stream,
        "two-instances",
        expected as usize,
    )
    .await;
    assert_eq!(received.len(), expected as usize, "each event once");
    let positions: Vec<i64> = received
        .iter()
        .map(|r| r.envelope["position"].as_i64().unwrap())
        .collect();
    let mut by_stream: std::collections::HashMap<String, i64> = Default::default();
    for r in &received {
        let key = format!(
            "{}:{}",
            r.envelope["aggregate_type"], r.envelope["aggregate_id"]
        );
        let sequence = r.envelope["sequence"].as_i64().unwrap();
        assert_eq!(
            sequence,
            by_stream.insert(key, sequence).unwrap_or(0) + 1,
            "per-aggregate order: {positions:?}"
        );
    }
}

/// Both instances' projectors follow the one log and race for its batches
/// (`store_conformance::of_two_runners_claiming_one_batch_...` shows one
/// claim wins): nothing stalls, and the read models end as a rebuild
/// makes them.
#[tokio::test]
async fn two_instances_projecting_one_log_end_with_the_read_models_a_rebuild_makes() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    wait_ready(&other).await;
    let sign_ins = (0..8).map(|_| async {
        let account = app.create_account().await;
        let login = app
            .client
            .post(format!("{other}/api/v1/auth/login"))
            .json(&json!({"identifier": account.username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::OK);
        let pair: Value = body(login).await;
        let logout = app.logout(pair["refresh_token"].as_str().unwrap()).await;
        assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    });
    futures_util::future::join_all(sign_ins).await;
    let stalled = crate::projection_failures::stalled_names(&app).await;
    assert_eq!(stalled, Vec::<String>::new());
    crate::projections::assert_rebuilds_equal_live(&app.db).await;
}

//! The NATS relay: every committed event published once, in order, with the
//! documented envelope; through broker outages and relay crashes.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::nats::{consume, PrivateNats, Received};

async fn event_count(app: &TestApp) -> usize {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    n as usize
}

async fn wait_until_published(app: &TestApp) {
    eventually(Duration::from_secs(30), || async {
        let ready: Value = body(app.client.get(app.url("/health/ready")).send().await.ok()?).await;
        (ready["relay_lag"]["events"] == 0).then_some(())
    })
    .await;
}

/// Each event exactly once, and per aggregate in sequence order.
async fn assert_exactly_once_in_order(app: &TestApp, received: &[Received]) {
    let ids: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT aggregate_type, aggregate_id, sequence FROM events ORDER BY position",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let expected: HashSet<String> = ids.iter().map(|(t, i, s)| format!("{t}:{i}:{s}")).collect();
    let got: Vec<&str> = received.iter().map(|r| r.msg_id.as_str()).collect();
    assert_eq!(got.len(), expected.len(), "every event exactly once");
    assert_eq!(
        got.iter()
            .copied()
            .map(str::to_owned)
            .collect::<HashSet<_>>(),
        expected
    );
    let mut last: HashMap<String, i64> = HashMap::new();
    for r in received {
        let stream = format!(
            "{}:{}",
            r.envelope["aggregate_type"], r.envelope["aggregate_id"]
        );
        let sequence = r.envelope["sequence"].as_i64().unwrap();
        let previous = last.insert(stream.clone(), sequence).unwrap_or(0);
        assert_eq!(sequence, previous + 1, "{stream} out of order");
    }
}

#[tokio::test]
async fn every_committed_event_is_published_with_its_envelope_subject_and_message_id() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    assert_eq!(
        app.login(&account.username, PASSWORD).await.status(),
        StatusCode::OK
    );
    wait_until_published(&app).await;
    let expected = event_count(&app).await;
    let received = consume(
        &crate::helpers::nats_url(),
        &app.config.relay.stream,
        "auditor",
        expected,
    )
    .await;
    assert_exactly_once_in_order(&app, &received).await;

    let prefix = &app.config.relay.subject_prefix;
    let registered = received
        .iter()
        .find(|r| r.envelope["event_type"] == "identity.user.UserRegistered")
        .unwrap();
    assert_eq!(registered.subject, format!("{prefix}.user.UserRegistered"));
    assert_eq!(registered.msg_id, format!("user:{}:1", account.id));
    let envelope = &registered.envelope;
    for field in [
        "event_id",
        "aggregate_type",
        "aggregate_id",
        "sequence",
        "position",
        "event_type",
        "event_version",
        "occurred_at",
        "payload",
        "metadata",
    ] {
        assert!(
            !envelope[field].is_null(),
            "envelope lacks {field}: {envelope}"
        );
    }
    assert_eq!(
        envelope["payload"]["email"],
        format!("{}@example.com", account.username)
    );
    assert!(envelope["metadata"]["request_id"].is_string());
    assert!(envelope["metadata"]["ip"].is_string());
    assert_eq!(envelope["metadata"]["actor"], account.id.as_str());
}

#[tokio::test]
async fn commands_succeed_while_nats_is_down_and_every_event_is_published_once_it_returns() {
    let mut nats = PrivateNats::start().await;
    let url = nats.url();
    let app = spawn_app_with(|c| c.relay.url = url).await;
    app.create_account().await;
    wait_until_published(&app).await;

    nats.stop();
    let mut accounts = Vec::new();
    for _ in 0..3 {
        let account = app.create_account().await;
        assert_eq!(
            app.refresh(&account.refresh_token).await.status(),
            StatusCode::OK
        );
        accounts.push(account);
    }
    // Readiness reports the lag as the monitor last read it (every poll).
    let ready = eventually(Duration::from_secs(5), || async {
        let ready = app
            .client
            .get(app.url("/health/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            ready.status(),
            StatusCode::OK,
            "a broker outage does not make the service unready"
        );
        let ready = body(ready).await;
        (ready["relay_lag"]["events"].as_i64().unwrap_or(0) > 0).then_some(ready)
    })
    .await;
    assert!(ready["relay_lag"]["seconds"].as_f64().unwrap() >= 0.0);

    nats.restart().await;
    wait_until_published(&app).await;
    let expected = event_count(&app).await;
    let received = consume(
        &nats.url(),
        &app.config.relay.stream,
        "downstream",
        expected,
    )
    .await;
    assert_exactly_once_in_order(&app, &received).await;
}

#[tokio::test]
async fn a_relay_killed_between_publish_and_checkpoint_loses_nothing_and_duplicates_nothing() {
    let (_, url) = create_database().await;
    let smtp = SmtpSink::start().await.expect("SMTP sink");
    let data = tempfile::tempdir().unwrap();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let stream = format!("TEST_{tag}");
    let prefix = format!("t{tag}");
    let start = |crash: bool| {
        spawn_binary(&[
            ("IDENTITY_DATABASE_URL", url.clone()),
            ("IDENTITY_SMTP_PORT", smtp.port().to_string()),
            ("IDENTITY_DATA_DIR", data.path().display().to_string()),
            ("IDENTITY_NATS_URL", crate::helpers::nats_url()),
            ("IDENTITY_NATS_STREAM", stream.clone()),
            ("IDENTITY_NATS_SUBJECT_PREFIX", prefix.clone()),
            ("IDENTITY_NATS_MAX_AGE_SECS", "600".to_owned()),
            ("IDENTITY_RELAY_CRASH_AFTER_PUBLISH", crash.to_string()),
        ])
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let (mut first, address) = start(true);
    let client = reqwest::Client::new();
    let name = unique_name();
    wait_ready(&address).await;
    // The answer may or may not arrive: the process dies right after the
    // relay published the registration's events.
    let _ = client
        .post(format!("{address}/api/v1/auth/register"))
        .json(&serde_json::json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}))
        .send()
        .await;
    // The relay publishes the registration's batch, then aborts the process.
    let status = tokio::task::spawn_blocking(move || first.wait().unwrap())
        .await
        .unwrap();
    assert!(
        !status.success(),
        "the relay should have aborted after publishing"
    );
    let checkpoint: i64 =
        sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM relay_checkpoints")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        checkpoint, 0,
        "the checkpoint did not move before the crash"
    );

    let (mut second, _) = start(false);
    let expected: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    eventually(Duration::from_secs(30), || async {
        let moved: i64 = sqlx::query_scalar("SELECT position FROM relay_checkpoints")
            .fetch_one(&pool)
            .await
            .ok()?;
        let head: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
            .fetch_one(&pool)
            .await
            .ok()?;
        (moved == head).then_some(())
    })
    .await;
    let received = consume(
        &crate::helpers::nats_url(),
        &stream,
        "after-crash",
        expected as usize,
    )
    .await;
    let ids: HashSet<&str> = received.iter().map(|r| r.msg_id.as_str()).collect();
    assert_eq!(
        received.len(),
        expected as usize,
        "re-sent events were dropped as duplicates"
    );
    assert_eq!(ids.len(), expected as usize);
    second.kill().unwrap();
    second.wait().unwrap();
}

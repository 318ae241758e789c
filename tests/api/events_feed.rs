//! The event feed over HTTP: pages and Server-Sent Events, in log order,
//! resumable from the last position received.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::*;

/// Positions of every event, in the order readers must see them.
async fn log_order(app: &TestApp) -> Vec<i64> {
    app.db
        .read_after(projections::Cursor::default(), i64::MAX, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.position)
        .collect()
}

async fn feed(app: &TestApp, query: &str, token: &str) -> Response {
    app.get_with_token(&format!("/api/v1/events{query}"), token)
        .await
}

/// Registers `n` accounts one after another (two events each).
async fn register_accounts(app: &TestApp, n: usize) {
    for _ in 0..n {
        let name = unique_name();
        let response = app
            .register(&name, &format!("{name}@example.com"), PASSWORD)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
}

/// A Server-Sent Events reader over a real HTTP response.
struct SseReader {
    response: Response,
    buffer: String,
}

impl SseReader {
    async fn open(app: &TestApp, token: &str, last_event_id: Option<i64>) -> Self {
        let mut request = app
            .client
            .get(app.url("/api/v1/events/stream"))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next message's id and data; keep-alive comments are skipped.
    async fn next(&mut self) -> (i64, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut data) = (None, None);
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("id:") {
                        id = Some(value.trim().parse::<i64>().unwrap());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data = Some(serde_json::from_str::<Value>(value.trim()).unwrap());
                    }
                }
                if let (Some(id), Some(data)) = (id, data) {
                    return (id, data);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Reads until `count` events were received; their positions.
    async fn take(&mut self, count: usize, seen: &mut Vec<i64>) {
        while seen.len() < count {
            let (id, data) = self.next().await;
            assert_eq!(data["position"], id, "the id is the event's position");
            seen.push(id);
        }
    }
}

#[tokio::test]
async fn the_event_feed_is_for_services_and_auditors_only() {
    let app = spawn_app().await;
    let user = app.create_account().await;
    let admin = app.create_account_with_role("admin").await;
    let service = app.create_account_with_role("service").await;
    let auditor = app.create_account_with_role("auditor").await;
    for path in ["/api/v1/events", "/api/v1/events/stream"] {
        let anonymous = app.client.get(app.url(path)).send().await.unwrap();
        assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
        for token in [&user.access_token, &admin.access_token] {
            let refused = app.get_with_token(path, token).await;
            assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
        }
    }
    for token in [&service.access_token, &auditor.access_token] {
        assert_eq!(feed(&app, "", token).await.status(), StatusCode::OK);
        SseReader::open(&app, token, None).await;
    }
}

#[tokio::test]
async fn paging_the_feed_returns_every_event_once_in_log_order_in_the_nats_envelope() {
    let app = spawn_app().await;
    let service = app.create_account_with_role("service").await;
    register_accounts(&app, 3).await;
    let expected = log_order(&app).await;
    let (mut seen, mut after) = (Vec::new(), 0);
    loop {
        let page = body(
            feed(
                &app,
                &format!("?after={after}&limit=4"),
                &service.access_token,
            )
            .await,
        )
        .await;
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            assert_eq!(page["next_after"], after, "an empty page keeps the cursor");
            break;
        }
        assert!(events.len() <= 4);
        for event in events {
            for key in [
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
                assert!(event.get(key).is_some(), "{key} missing from {event}");
            }
            assert!(event["event_type"]
                .as_str()
                .unwrap()
                .starts_with("identity."));
            seen.push(event["position"].as_i64().unwrap());
        }
        after = page["next_after"].as_i64().unwrap();
        assert_eq!(after, *seen.last().unwrap());
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn the_feed_filters_by_event_type_prefix() {
    let app = spawn_app().await;
    let auditor = app.create_account_with_role("auditor").await;
    register_accounts(&app, 2).await;
    let page = body(
        feed(
            &app,
            "?type=identity.session.&limit=1000",
            &auditor.access_token,
        )
        .await,
    )
    .await;
    let types: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert!(!types.is_empty());
    assert!(types.iter().all(|t| t.starts_with("identity.session.")));
    let sessions: i64 = on_db!(&app.db, pool => {
    sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE event_type LIKE 'identity.session.%'",
        )
        .fetch_one(pool)
    .await
    })
    .unwrap();
    assert_eq!(types.len() as i64, sessions);
}

#[tokio::test]
async fn a_bad_cursor_or_limit_is_422_naming_it() {
    let app = spawn_app().await;
    let service = app.create_account_with_role("service").await;
    let token = &service.access_token;
    for (query, field) in [
        ("?after=-1", "after"),
        ("?after=abc", "after"),
        ("?after=1.5", "after"),
        ("?after=999999999", "after"),
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
    ] {
        let problem = assert_invalid(feed(&app, query, token).await).await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    let refused = app
        .client
        .get(app.url("/api/v1/events/stream"))
        .bearer_auth(token)
        .header("Last-Event-ID", "not-a-position")
        .send()
        .await
        .unwrap();
    let problem = assert_invalid(refused).await;
    assert_eq!(problem["errors"][0]["field"], "Last-Event-ID");
}

#[tokio::test]
async fn a_consumer_resuming_with_last_event_id_gets_every_event_once_in_order_while_writers_commit(
) {
    let app = spawn_app().await;
    let service = app.create_account_with_role("service").await;
    let before = log_order(&app).await.len();
    let writers = register_accounts(&app, 10);
    let consumer = async {
        let mut seen = Vec::new();
        let mut first = SseReader::open(&app, &service.access_token, None).await;
        first.take(before + 5, &mut seen).await;
        drop(first);
        let resumed = SseReader::open(&app, &service.access_token, seen.last().copied()).await;
        (seen, resumed)
    };
    let ((), (mut seen, mut resumed)) = tokio::join!(writers, consumer);
    let expected = log_order(&app).await;
    resumed.take(expected.len(), &mut seen).await;
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn five_concurrent_consumers_see_the_same_sequence() {
    let app = spawn_app().await;
    let auditor = app.create_account_with_role("auditor").await;
    let mut readers = Vec::new();
    for _ in 0..5 {
        readers.push(SseReader::open(&app, &auditor.access_token, None).await);
    }
    register_accounts(&app, 5).await;
    let expected = log_order(&app).await;
    let sequences = futures_util::future::join_all(readers.iter_mut().map(|reader| {
        let count = expected.len();
        async move {
            let mut seen = Vec::new();
            reader.take(count, &mut seen).await;
            seen
        }
    }))
    .await;
    for seen in sequences {
        assert_eq!(seen, expected);
    }
}

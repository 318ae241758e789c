//! Auditor history: `GET /admin/users/{id}/history` and `identity history`.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// The event types of [`live_a_life`], in order.
const LIFE: [&str; 15] = [
    "identity.user.UserRegistered",
    "identity.user.EmailVerificationCodeIssued",
    "identity.user.EmailVerified",
    "identity.session.SessionStarted",
    "identity.user.PasswordCheckStarted",
    "identity.user.LoginFailed",
    "identity.user.PasswordCheckStarted",
    "identity.user.LoginFailed",
    "identity.user.AccountLocked",
    "identity.user.AccountUnlocked",
    "identity.user.RoleGranted",
    "identity.user.PasswordCheckStarted",
    // The account decides the login first, then the session opens.
    "identity.user.LoginSucceeded",
    "identity.session.SessionStarted",
    "identity.session.SessionRevoked",
];

/// A scripted account life and the moments between its chapters.
struct Life {
    admin: Account,
    user_id: String,
    email: String,
    /// The session opened by verifying the email; never closed.
    first_session: String,
    /// The session of the second login; logged out.
    second_session: String,
    /// Registered, not verified.
    registered: DateTime<Utc>,
    /// Verified, two failed logins, locked by the admin.
    locked: DateTime<Utc>,
    /// Unlocked, made auditor, logged in and out again.
    done: DateTime<Utc>,
}

/// A moment strictly between the events before and after it.
async fn moment() -> DateTime<Utc> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let now = Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    now
}

async fn live_a_life(app: &TestApp) -> Life {
    let admin = app.create_account_with_role("admin").await;
    let username = unique_name();
    let email = format!("{username}@example.com");
    let response = app.register(&username, &email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user_id = body(response).await["id"].as_str().unwrap().to_owned();
    let registered = moment().await;

    let code = app.code_for(&email).await;
    let first = body(app.verify_email(&email, &code).await).await;
    for _ in 0..2 {
        let failed = app.login(&username, "Wrong-Horse-9!").await;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    }
    let lock = format!("/api/v1/admin/users/{user_id}/lock");
    let response = app.admin_post(&lock, &admin.access_token, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let locked = moment().await;

    let unlock = format!("/api/v1/admin/users/{user_id}/unlock");
    let response = app.admin_post(&unlock, &admin.access_token, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .client
        .put(app.url(&format!("/api/v1/admin/users/{user_id}/roles")))
        .bearer_auth(&admin.access_token)
        .json(&json!({"roles": ["user", "auditor"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let second = body(app.login(&username, PASSWORD).await).await;
    let response = app.logout(second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let done = moment().await;
    Life {
        admin,
        user_id,
        email,
        first_session: first["session_id"].as_str().unwrap().to_owned(),
        second_session: second["session_id"].as_str().unwrap().to_owned(),
        registered,
        locked,
        done,
    }
}

fn path(user_id: &str) -> String {
    format!("/api/v1/admin/users/{user_id}/history")
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `GET` the history with `query`; asserts 200 and that no password hash
/// leaks, and returns the body.
async fn history(app: &TestApp, token: &str, user_id: &str, query: &[(&str, &str)]) -> Value {
    let response = app
        .client
        .get(app.url(&path(user_id)))
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(!text.contains("$argon2"), "a password hash leaked: {text}");
    serde_json::from_str(&text).unwrap()
}

fn event_types(history: &Value) -> Vec<String> {
    history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn history_replays_an_account_life_in_log_order_without_secrets() {
    let app = spawn_app().await;
    let life = live_a_life(&app).await;
    let token = &life.admin.access_token;
    let history = history(&app, token, &life.user_id, &[]).await;

    assert_eq!(history["user_id"], life.user_id.as_str());
    assert_eq!(event_types(&history), LIFE);
    assert!(history["next_after"].is_null());
    assert!(history.get("state").is_none());
    let events = history["events"].as_array().unwrap();
    let positions: Vec<i64> = events
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "not in log order"
    );
    let registered = &events[0];
    assert_eq!(registered["aggregate_type"], "user");
    assert_eq!(registered["aggregate_id"], life.user_id.as_str());
    assert_eq!(registered["sequence"], 1);
    assert_eq!(registered["event_version"], "1");
    assert_eq!(
        registered["payload"]["UserRegistered"]["email"],
        life.email.as_str()
    );
    assert_eq!(
        registered["payload"]["UserRegistered"]["password_hash"],
        "[redacted]"
    );
    assert!(registered["occurred_at"].is_string() && registered["request_id"].is_string());
    let lock = &events[8];
    assert_eq!(lock["actor"], life.admin.id.as_str());
    let sessions: Vec<&str> = events
        .iter()
        .filter(|e| e["aggregate_type"] == "session")
        .map(|e| e["aggregate_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        sessions,
        [
            &life.first_session,
            &life.second_session,
            &life.second_session
        ]
    );
}

#[tokio::test]
async fn history_as_of_rebuilds_the_account_at_three_points_in_time() {
    let app = spawn_app().await;
    let life = live_a_life(&app).await;
    let token = &life.admin.access_token;
    let registered = history(
        &app,
        token,
        &life.user_id,
        &[("as_of", &rfc3339(life.registered))],
    )
    .await;
    assert_eq!(event_types(&registered), LIFE[..2]);
    let state = &registered["state"];
    assert_eq!(state["status"], "active");
    assert_eq!(state["email"], life.email.as_str());
    assert_eq!(state["email_verified"], false);
    assert_eq!(state["roles"], json!(["user"]));
    assert_eq!(state["locked"], false);
    assert_eq!(state["sessions_open"], json!([]));

    let locked = history(
        &app,
        token,
        &life.user_id,
        &[("as_of", &rfc3339(life.locked))],
    )
    .await;
    assert_eq!(event_types(&locked), LIFE[..9]);
    let state = &locked["state"];
    assert_eq!(state["email_verified"], true);
    assert_eq!(state["locked"], true);
    let until: DateTime<Utc> = state["locked_until"].as_str().unwrap().parse().unwrap();
    assert!(until > life.locked);
    assert_eq!(state["sessions_open"], json!([life.first_session]));

    let done = history(
        &app,
        token,
        &life.user_id,
        &[("as_of", &rfc3339(life.done))],
    )
    .await;
    assert_eq!(event_types(&done), LIFE);
    let state = &done["state"];
    assert_eq!(state["locked"], false);
    assert!(state["locked_until"].is_null());
    assert_eq!(state["roles"], json!(["auditor", "user"]));
    assert_eq!(state["sessions_open"], json!([life.first_session]));
    assert_eq!(
        state["as_of"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        rfc3339(life.done).parse::<DateTime<Utc>>().unwrap()
    );

    let before = history(
        &app,
        token,
        &life.user_id,
        &[("as_of", "2000-01-01T00:00:00Z")],
    )
    .await;
    assert_eq!(before["events"], json!([]));
    assert_eq!(before["state"]["status"], "unregistered");
}

#[tokio::test]
async fn history_is_for_auditors_and_admins_only() {
    let app = spawn_app().await;
    let user = app.create_account().await;
    let auditor = app.create_account_with_role("auditor").await;
    let anonymous = app
        .client
        .get(app.url(&path(&user.id)))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let own = app
        .get_with_token(&path(&user.id), &user.access_token)
        .await;
    assert_problem(own, StatusCode::FORBIDDEN, "forbidden").await;

    let history = history(&app, &auditor.access_token, &user.id, &[]).await;
    assert_eq!(event_types(&history)[0], "identity.user.UserRegistered");
    let unknown = uuid::Uuid::new_v4().to_string();
    let missing = app
        .get_with_token(&path(&unknown), &auditor.access_token)
        .await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        app.count_events("identity.audit.HistoryViewed", &unknown)
            .await,
        0
    );

    for query in [
        "after=-1",
        "after=x",
        "limit=0",
        "limit=501",
        "limit=ten",
        "as_of=yesterday",
    ] {
        let url = format!("{}?{query}", path(&user.id));
        let bad = app.get_with_token(&url, &auditor.access_token).await;
        let problem = assert_invalid(bad).await;
        let field = query.split('=').next().unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }

    let doc = app.openapi().await;
    let documented = &doc["paths"]["/api/v1/admin/users/{id}/history"]["get"];
    let description = documented["description"].as_str().unwrap();
    assert!(description.contains("`auditor`") && description.contains("`admin`"));
}

#[tokio::test]
async fn every_history_read_is_recorded_with_the_viewer_as_actor() {
    let app = spawn_app().await;
    let user = app.create_account().await;
    let auditor = app.create_account_with_role("auditor").await;
    let as_of = rfc3339(Utc::now());
    history(&app, &auditor.access_token, &user.id, &[("as_of", &as_of)]).await;
    let again = history(&app, &auditor.access_token, &user.id, &[]).await;

    let rows: Vec<(String, Value, Value)> = on_db!(&app.db, pool => {
sqlx::query_as(
        "SELECT aggregate_type, payload, metadata FROM events
          WHERE event_type = 'identity.audit.HistoryViewed' AND aggregate_id = $1 ORDER BY position",
    )
    .bind(&user.id)
    .fetch_all(pool)
.await
})
    .unwrap();
    assert_eq!(rows.len(), 2);
    let (kind, payload, metadata) = &rows[0];
    assert_eq!(kind, "audit");
    assert_eq!(metadata["actor"], auditor.id.as_str());
    assert!(metadata["request_id"].is_string());
    let viewed = &payload["HistoryViewed"];
    assert_eq!(viewed["viewer"], auditor.id.as_str());
    assert_eq!(viewed["subject"], user.id.as_str());
    assert_eq!(viewed["via"], "api");
    assert_eq!(
        viewed["as_of"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        as_of.parse::<DateTime<Utc>>().unwrap()
    );
    assert!(rows[1].1["HistoryViewed"]["as_of"].is_null());
    // Reads are audit events, not events of the user.
    assert!(!event_types(&again).iter().any(|t| t.contains(".audit.")));
}

#[tokio::test]
async fn history_pages_of_two_walk_every_event() {
    let app = spawn_app().await;
    let life = live_a_life(&app).await;
    let token = &life.admin.access_token;
    let all = history(&app, token, &life.user_id, &[("limit", "500")]).await;
    let mut walked: Vec<Value> = Vec::new();
    let mut after = String::from("0");
    let mut pages = 0;
    loop {
        let page = history(
            &app,
            token,
            &life.user_id,
            &[("after", &after), ("limit", "2")],
        )
        .await;
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= 2);
        walked.extend(events.iter().cloned());
        pages += 1;
        match page["next_after"].as_i64() {
            Some(next) => {
                assert_eq!(Some(next), events.last().unwrap()["position"].as_i64());
                after = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, LIFE.len().div_ceil(2));
    assert_eq!(Value::Array(walked), all["events"]);
}

/// Runs `identity history ARGS --format json` against the test database.
async fn cli_history(app: &TestApp, args: &[&str]) -> Value {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_identity"))
        .arg("history")
        .args(args)
        .args(["--format", "json"])
        .env("IDENTITY_DATABASE_URL", &app.config.database_url)
        .env("IDENTITY_LOG", "error")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "identity history failed: {stdout}");
    assert!(!stdout.contains("$argon2"));
    serde_json::from_str(&stdout).unwrap()
}

#[tokio::test]
async fn the_history_command_prints_the_same_events_and_is_recorded() {
    let app = spawn_app().await;
    let life = live_a_life(&app).await;
    let token = &life.admin.access_token;
    let api = history(&app, token, &life.user_id, &[]).await;

    let by_email = cli_history(&app, &[&life.email]).await;
    assert_eq!(by_email["user_id"], life.user_id.as_str());
    assert_eq!(by_email["events"], api["events"]);
    assert!(by_email["next_after"].is_null());

    let as_of = rfc3339(life.locked);
    let api_then = history(&app, token, &life.user_id, &[("as_of", &as_of)]).await;
    let cli_then = cli_history(&app, &[&life.user_id, "--as-of", &as_of]).await;
    assert_eq!(cli_then["events"], api_then["events"]);
    assert_eq!(cli_then["state"], api_then["state"]);

    let viewers: Vec<(Value, Value)> = on_db!(&app.db, pool => {
sqlx::query_as(
        "SELECT payload->'HistoryViewed', metadata FROM events
          WHERE event_type = 'identity.audit.HistoryViewed' AND aggregate_id = $1 ORDER BY position",
    )
    .bind(&life.user_id)
    .fetch_all(pool)
.await
})
    .unwrap();
    let cli: Vec<_> = viewers.iter().filter(|(v, _)| v["via"] == "cli").collect();
    assert_eq!(cli.len(), 2);
    assert!(cli
        .iter()
        .all(|(v, m)| v["viewer"] == "cli" && m["actor"] == "cli"));
}

//! A projection that cannot apply an event stalls alone: the others, the
//! write path and start-up go on, and readiness and `projections status`
//! name it. Rebuilds beside a running server move only their own checkpoint.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::projections::assert_rebuilds_equal_live;

/// Appends an event no projection code would ever see from the write path:
/// a ledger event whose payload the dashboard cannot decode.
async fn append_poisoned_ledger_event(app: &TestApp) -> i64 {
    on_db!(&app.db, pool => {
sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, recorded_at)
         VALUES ('ledger', $1, 1, 'identity.ledger.EarningsAccrued', '1', '{\"EarningsAccrued\": {\"commission_minor\": \"lots\"}}', $2)
         RETURNING position",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(chrono::Utc::now())
    .fetch_one(pool)
.await
})
    .unwrap()
}

async fn head(app: &TestApp) -> i64 {
    on_db!(&app.db, pool => {
    sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
            .fetch_one(pool)
    .await
    })
    .unwrap()
}

pub async fn stalled_names(app: &TestApp) -> Vec<String> {
    on_db!(&app.db, pool => {
    sqlx::query_scalar("SELECT name FROM projection_failures ORDER BY name")
            .fetch_all(pool)
    .await
    })
    .unwrap()
}

#[tokio::test]
async fn a_projection_failing_on_an_event_stalls_alone_and_the_service_goes_on() {
    let app = spawn_app().await;
    let poisoned = append_poisoned_ledger_event(&app).await;
    // Any command wakes the projector; it would also find the event by polling.
    let before = app.create_account().await;
    eventually(Duration::from_secs(10), || async {
        (stalled_names(&app).await == ["influencer_dashboard"]).then_some(())
    })
    .await;

    // The write path and the other read models go on: a new account
    // registers, verifies and logs in, and sees itself in `/me`.
    let after = app.create_account().await;
    let me = app.me(&after.access_token).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(body(me).await["username"], after.username.as_str());
    assert_eq!(app.me(&before.access_token).await.status(), StatusCode::OK);
    let checkpoints: Vec<(String, i64)> = on_db!(&app.db, pool => {
    sqlx::query_as("SELECT name, position FROM projection_checkpoints ORDER BY name")
                .fetch_all(pool)
    .await
    })
    .unwrap();
    for (name, position) in &checkpoints {
        if name == "influencer_dashboard" {
            assert!(
                *position < poisoned,
                "the stalled one stops before the event"
            );
        } else {
            assert!(*position > poisoned, "{name} went past the poisoned event");
        }
    }

    // Readiness and the CLI name it, with the event and the error.
    let ready = app.ready().await;
    assert_eq!(ready["status"], "degraded");
    let stalled = &ready["projections"]["stalled"][0];
    assert_eq!(stalled["name"], "influencer_dashboard");
    assert_eq!(stalled["position"], poisoned);
    assert_eq!(stalled["event_type"], "identity.ledger.EarningsAccrued");
    assert!(stalled["error"].as_str().unwrap().contains("decoded"));
    // Its lag in seconds is the poisoned event's age; the others' is 0.
    eventually(Duration::from_secs(10), || async {
        let ready = app.ready().await;
        let lag = ready["projections"]["lag"].as_array()?.clone();
        let seconds = |name: &str| {
            lag.iter()
                .find(|p| p["name"] == name)
                .and_then(|p| p["lag_seconds"].as_f64())
        };
        (seconds("influencer_dashboard")? > 0.0 && seconds("login_lookup")? == 0.0).then_some(())
    })
    .await;
    let status = identity::cli::projection_status(&app.db).await.unwrap();
    let dashboard = status
        .iter()
        .find(|p| p["name"] == "influencer_dashboard")
        .unwrap();
    assert_eq!(dashboard["state"], "stalled");
    assert_eq!(dashboard["failure"]["position"], poisoned);
    assert!(status
        .iter()
        .filter(|p| p["name"] != "influencer_dashboard")
        .all(|p| p["state"] == "running" && p["failure"].is_null()));

    // A fresh instance on this database starts and serves.
    let second = app.second_instance().await;
    wait_ready(&second).await;
    let login = app
        .client
        .post(format!("{second}/api/v1/auth/login"))
        .json(&json!({"identifier": after.username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);

    // The failure is retried, not forgotten.
    eventually(Duration::from_secs(10), || async {
        let attempts: i32 = on_db!(&app.db, pool => {
        sqlx::query_scalar(
                    "SELECT attempts FROM projection_failures WHERE name = 'influencer_dashboard'",
                )
                .fetch_one(pool)
        .await
        })
        .unwrap();
        (attempts > 1).then_some(())
    })
    .await;
}

/// A read model that refuses a row: a trigger stands in for a constraint the
/// projection's code did not expect. The projection computes its changes,
/// but writing them fails inside the batch the projections share.
async fn refuse_directory_rows_named_refused(app: &TestApp) {
    let statements: &[&str] = if on_sqlite() {
        &["CREATE TRIGGER refuse BEFORE INSERT ON user_directory
            WHEN NEW.username LIKE 'refused%'
           BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"]
    } else {
        &[
            "CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            "CREATE TRIGGER refuse BEFORE INSERT ON user_directory FOR EACH ROW
              WHEN (NEW.username LIKE 'refused%') EXECUTE FUNCTION refuse_row()",
        ]
    };
    for statement in statements {
        on_db!(&app.db, pool => {
            sqlx::query(statement).execute(pool).await.map(|_| ())
        })
        .unwrap();
    }
}

#[tokio::test]
async fn a_read_model_refusing_a_row_stalls_its_projection_alone_and_the_others_apply_the_batch() {
    let app = spawn_app().await;
    refuse_directory_rows_named_refused(&app).await;
    let username = format!("refused{}", unique_name());
    let registered = app
        .register(&username, &format!("{username}@example.com"), PASSWORD)
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let registration = head(&app).await;
    eventually(Duration::from_secs(10), || async {
        (stalled_names(&app).await == ["user_directory"]).then_some(())
    })
    .await;
    let checkpoints: Vec<(String, i64)> = on_db!(&app.db, pool => {
        sqlx::query_as("SELECT name, position FROM projection_checkpoints ORDER BY name")
            .fetch_all(pool)
            .await
    })
    .unwrap();
    for (name, position) in &checkpoints {
        if name == "user_directory" {
            assert!(
                *position < registration,
                "the stalled one stops before the event"
            );
        } else {
            assert!(*position >= registration, "{name} applied the registration");
        }
    }
    let ready = app.ready().await;
    let error = ready["projections"]["stalled"][0]["error"]
        .as_str()
        .unwrap();
    assert!(error.contains("refused by the test"), "{error}");
    // Someone else registers, verifies and logs in meanwhile (the login
    // read model is not the stalled one).
    let other = app.create_account().await;
    assert!(!other.access_token.is_empty());
}

#[tokio::test]
async fn a_rebuild_clears_a_stall_once_the_event_is_gone() {
    let app = spawn_app().await;
    let poisoned = append_poisoned_ledger_event(&app).await;
    app.create_account().await;
    eventually(Duration::from_secs(10), || async {
        (!stalled_names(&app).await.is_empty()).then_some(())
    })
    .await;
    // The rebuild stalls on the same event and says so.
    let error = identity::cli::rebuild(app.db.clone(), "influencer_dashboard")
        .await
        .unwrap_err();
    assert!(error.to_string().contains(&poisoned.to_string()), "{error}");
    // An operator removes the event that should never have been written.
    on_db!(&app.db, pool => {
    sqlx::query("DELETE FROM events WHERE position = $1")
            .bind(poisoned)
            .execute(pool)
    .await
    .map(|_| ())
    })
    .unwrap();
    identity::cli::rebuild(app.db.clone(), "influencer_dashboard")
        .await
        .unwrap();
    assert!(stalled_names(&app).await.is_empty());
}

#[tokio::test]
async fn rebuilding_projections_one_after_another_while_writers_commit_changes_no_other_checkpoint()
{
    let app = spawn_app().await;
    for _ in 0..3 {
        app.create_account().await;
    }
    // More than one batch (500) of events, so that a rebuild's first batch
    // ends far behind the others' checkpoints: the defect moved them back
    // there, and the server then applied those events a second time.
    match &app.db {
        identity::store::Database::Postgres(pool) => sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload)
             SELECT 'user', gen_random_uuid()::text, 1, 'identity.user.PasswordCheckStarted', '1',
                    jsonb_build_object('PasswordCheckStarted', jsonb_build_object('at', now()))
               FROM generate_series(1, 1200)",
        )
        .execute(pool)
        .await
        .map(|_| ()),
        identity::store::Database::Sqlite(pool) => sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
             INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                                 payload, recorded_at)
             SELECT 'user', lower(hex(randomblob(16))), 1, 'identity.user.PasswordCheckStarted', '1',
                    json_object('PasswordCheckStarted', json_object('at', $1)), $1
               FROM n",
        )
        .bind(chrono::Utc::now())
        .execute(pool)
        .await
        .map(|_| ()),
    }
    .unwrap();
    for _ in 0..3 {
        app.create_account().await;
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    let writer = async {
        let mut written = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let account = app.create_account().await;
            let logout = app.logout(&account.refresh_token).await;
            assert_eq!(logout.status(), StatusCode::NO_CONTENT);
            written += 1;
        }
        written
    };
    let rebuilds = async {
        for name in [
            "login_lookup",
            "user_directory",
            "user_sessions",
            "influencer_applications",
            "influencer_dashboard",
        ] {
            let head = head(&app).await;
            identity::cli::rebuild(app.db.clone(), name).await.unwrap();
            // The next rebuild starts only after writers committed more.
            eventually(Duration::from_secs(10), || async {
                (self::head(&app).await > head).then_some(())
            })
            .await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    let (written, ()) = tokio::join!(writer, rebuilds);
    assert!(written > 0, "the writers committed during the rebuilds");
    assert_eq!(stalled_names(&app).await, Vec::<String>::new());
    assert_rebuilds_equal_live(&app.db).await;
    let ready = app.ready().await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["projections"]["stalled"], Value::Array(vec![]));
}

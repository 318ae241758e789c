//! Projections: rebuilt from position zero they equal the live read models.

use reqwest::StatusCode;

use crate::helpers::*;

/// Each projection's table and a stable row order.
pub const READ_MODELS: [(&str, &str, &str); 3] = [
    ("login_lookup", "login_lookup", "user_id"),
    ("user_directory", "user_directory", "user_id"),
    ("user_sessions", "user_sessions", "session_id"),
];

/// Rebuilds every projection and asserts each equals what it was, once
/// the live projections have applied every committed event (some commands,
/// like recording a login's success, answer without waiting for them).
pub async fn assert_rebuilds_equal_live(db: &identity::store::Database) {
    // On SQLite the log's order is its position.
    let behind = match db {
        identity::store::Database::Postgres(_) => "(e.tx_id, e.position) > (c.tx_id, c.position)",
        identity::store::Database::Sqlite(_) => "e.position > c.position",
    };
    let caught_up_sql = format!(
        "SELECT NOT EXISTS (SELECT 1 FROM events e, projection_checkpoints c
                             WHERE c.name = $1 AND {behind})"
    );
    for (projection, _, _) in READ_MODELS {
        eventually(std::time::Duration::from_secs(10), || async {
            let caught_up: bool = on_db!(db, pool => {
                sqlx::query_scalar(&caught_up_sql)
                    .bind(projection)
                    .fetch_one(pool)
                    .await
            })
            .unwrap();
            caught_up.then_some(())
        })
        .await;
    }
    for (projection, table, order) in READ_MODELS {
        let live = table_rows(db, table, order).await;
        assert!(!live.is_null(), "{table} is empty: nothing was tested");
        identity::cli::rebuild(db.clone(), projection)
            .await
            .unwrap();
        let rebuilt = table_rows(db, table, order).await;
        assert_eq!(live, rebuilt, "{projection} differs after a rebuild");
    }
}

#[tokio::test]
async fn rebuilding_each_projection_from_zero_gives_the_live_read_model() {
    let app = spawn_app().await;
    for _ in 0..3 {
        let account = app.create_account().await;
        let pair = body(app.login(&account.username, PASSWORD).await).await;
        let response = app.refresh(pair["refresh_token"].as_str().unwrap()).await;
        assert_eq!(response.status(), StatusCode::OK);
        app.logout(&account.refresh_token).await;
    }
    app.register(
        &unique_name(),
        &format!("{}@example.com", unique_name()),
        PASSWORD,
    )
    .await;
    // Let the projections settle on the last refresh, which is not awaited.
    read_models_reach_the_log_head(&app.db).await;
    assert_rebuilds_equal_live(&app.db).await;
}

/// Waits until every projection's checkpoint is at the log's last event.
pub async fn read_models_reach_the_log_head(db: &identity::store::Database) {
    let head: i64 = on_db!(db, pool => {
        sqlx::query_scalar("SELECT max(position) FROM events")
            .fetch_one(pool)
            .await
    })
    .unwrap();
    eventually(std::time::Duration::from_secs(5), || async {
        let lowest: i64 = on_db!(db, pool => {
            sqlx::query_scalar("SELECT min(position) FROM projection_checkpoints")
                .fetch_one(pool)
                .await
        })
        .unwrap();
        (lowest >= head).then_some(())
    })
    .await;
}

/// With the poll an hour away only the wake-ups move the projections: a
/// commit no request waits for (a wrong password's count, which answers
/// without waiting) is still applied, once the gathering pause is over.
#[tokio::test]
async fn without_a_poll_a_commit_nobody_waits_for_still_reaches_the_read_models() {
    let app = spawn_app_with(|c| c.projection_poll = std::time::Duration::from_secs(3600)).await;
    let account = app.create_account().await;
    let response = app.login(&account.username, "not the password").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    read_models_reach_the_log_head(&app.db).await;
}

/// A rebuild writes a batch many rows per statement, folding later changes
/// of a row into its insert, with admin actions (written alone) in between:
/// it must still give what the live projections built change by change.
#[tokio::test]
async fn a_rebuild_with_admin_actions_between_the_batched_changes_gives_the_live_read_model() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let mut accounts = Vec::new();
    for _ in 0..4 {
        accounts.push(app.create_account().await);
    }
    let act = |path: String, body: Option<serde_json::Value>| {
        let token = admin.access_token.clone();
        let app = &app;
        async move {
            let response = app.admin_post(&path, &token, body).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
    };
    let lock = serde_json::json!({"duration_secs": 600});
    act(
        format!("/api/v1/admin/users/{}/lock", accounts[0].id),
        Some(lock.clone()),
    )
    .await;
    act(
        format!("/api/v1/admin/users/{}/lock", accounts[1].id),
        Some(lock),
    )
    .await;
    act(
        format!("/api/v1/admin/users/{}/unlock", accounts[1].id),
        None,
    )
    .await;
    act(
        format!("/api/v1/admin/users/{}/deactivate", accounts[2].id),
        None,
    )
    .await;
    let refreshed = app.refresh(&accounts[3].refresh_token).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    app.create_account().await;
    assert_rebuilds_equal_live(&app.db).await;
}

#[tokio::test]
async fn rebuilding_an_unknown_projection_fails_cleanly() {
    let app = spawn_app().await;
    assert!(identity::cli::rebuild(app.db.clone(), "no_such_projection")
        .await
        .is_err());
}

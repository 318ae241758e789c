//! The event log can be tailed without skipping appends that commit out of
//! position order.

use identity::store::Database;
use projections::Cursor;
use sqlx::{Connection, PgConnection};

use crate::helpers::*;

async fn append(conn: &mut PgConnection, id: &str) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload)
         VALUES ('test', $1, 1, 'identity.test.Happened', '1', '{}')",
    )
    .bind(id)
    .execute(conn)
    .await
    .unwrap();
}

#[tokio::test]
async fn stream_does_not_skip_events_when_writers_commit_out_of_order() {
    let app = spawn_app().await;
    let url = &app.config.database_url;
    let mut early = PgConnection::connect(url).await.unwrap();
    let mut late = PgConnection::connect(url).await.unwrap();
    let reader = Database::from(sqlx::PgPool::connect(url).await.unwrap());
    let mut cursor = reader
        .read_after(Cursor::default(), 1000, None)
        .await
        .unwrap()
        .last()
        .map(|e| e.cursor())
        .unwrap_or_default();

    // `early` takes the lower position but commits last.
    sqlx::query("BEGIN").execute(&mut early).await.unwrap();
    append(&mut early, "early").await;
    sqlx::query("BEGIN").execute(&mut late).await.unwrap();
    append(&mut late, "late").await;
    sqlx::query("COMMIT").execute(&mut late).await.unwrap();

    // While `early` is in flight the tailer must not move past it.
    let mut seen: Vec<String> = Vec::new();
    for event in reader.read_after(cursor, 1000, None).await.unwrap() {
        cursor = event.cursor();
        seen.push(event.aggregate_id);
    }
    assert!(
        !seen.contains(&"late".to_owned()),
        "read past an in-flight append"
    );

    sqlx::query("COMMIT").execute(&mut early).await.unwrap();
    for event in reader.read_after(cursor, 1000, None).await.unwrap() {
        seen.push(event.aggregate_id);
    }
    assert!(
        seen.contains(&"early".to_owned()),
        "skipped the late-committing append"
    );
    assert!(seen.contains(&"late".to_owned()));
    let early_position: i64 =
        sqlx::query_scalar("SELECT position FROM events WHERE aggregate_id = 'early'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let late_position: i64 =
        sqlx::query_scalar("SELECT position FROM events WHERE aggregate_id = 'late'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        early_position < late_position,
        "the test committed out of position order"
    );
}

/// A local commit the projector cannot read yet, because a transaction
/// that began before it is still in flight, is read once that transaction
/// ends: the projector tries again by itself rather than waiting for its
/// poll (an hour away here) or for the next commit.
#[tokio::test]
async fn a_commit_behind_a_transaction_in_flight_reaches_the_read_models_when_it_ends() {
    let app = spawn_app_with(|c| c.projection_poll = std::time::Duration::from_secs(3600)).await;
    let account = app.create_account().await;
    let mut in_flight = PgConnection::connect(&app.config.database_url)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut in_flight).await.unwrap();
    // A transaction id holds back the horizon the log is read up to.
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut in_flight)
        .await
        .unwrap();
    // A wrong password commits twice and answers without waiting for the
    // read models.
    let response = app.login(&account.username, "not the password").await;
    assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sqlx::query("COMMIT").execute(&mut in_flight).await.unwrap();
    crate::projections::read_models_reach_the_log_head(&app.db).await;
}

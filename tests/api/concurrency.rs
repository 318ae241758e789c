//! Uniqueness under concurrency: simultaneous registrations of one email or
//! one username.

use reqwest::StatusCode;

use crate::helpers::*;

async fn statuses(app: &TestApp, attempts: Vec<(String, String)>) -> Vec<StatusCode> {
    let requests = attempts
        .iter()
        .map(|(name, email)| app.register(name, email, PASSWORD));
    futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect()
}

#[tokio::test]
async fn twenty_simultaneous_registrations_with_one_email_create_exactly_one_account() {
    let app = spawn_app().await;
    let email = format!("{}@example.com", unique_name());
    let attempts = (0..20).map(|_| (unique_name(), email.clone())).collect();
    let statuses = statuses(&app, attempts).await;
    assert_exactly_one_created(&statuses);
    let users: i64 = on_db!(&app.db, pool => {
    sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE event_type = 'identity.user.UserRegistered'",
        )
        .fetch_one(pool)
    .await
    })
    .unwrap();
    assert_eq!(users, 1, "a refused registration leaves nothing behind");
}

#[tokio::test]
async fn twenty_simultaneous_registrations_with_one_username_create_exactly_one_account() {
    let app = spawn_app().await;
    let name = unique_name();
    let attempts = (0..20)
        .map(|i| {
            (
                if i % 2 == 0 {
                    name.clone()
                } else {
                    name.to_uppercase()
                },
                format!("{}@example.com", unique_name()),
            )
        })
        .collect();
    let statuses = statuses(&app, attempts).await;
    assert_exactly_one_created(&statuses);
}

/// One 201; every other attempt a 409, never a 5xx.
fn assert_exactly_one_created(statuses: &[StatusCode]) {
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
}

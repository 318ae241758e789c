//! No user enumeration: unknown identifiers cost and look like wrong
//! passwords.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::*;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn unknown_identifiers_take_as_long_as_wrong_passwords() {
    // Lockout and the per-identifier limit would stop a wrong-password
    // series early; this test is about timing, so lift them.
    let app = spawn_app_with(|c| c.lockout.max_failures = 1_000).await;
    let account = app.create_account().await;
    // Warm up connections and caches on both paths.
    for _ in 0..3 {
        app.login(&account.username, "Wrong-Password-1!").await;
        app.login("no_such_user", "Wrong-Password-1!").await;
    }
    // A systematic difference shows in every round; a burst of load from
    // the tests running beside this one shows in one. So: up to three
    // rounds of 30 tries each, and one round within 10% passes.
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let ratio = round(&app, &account.username).await;
        rounds.push(ratio);
        if (0.9..=1.1).contains(&ratio) {
            return;
        }
    }
    panic!("unknown/wrong median ratios {rounds:?}: outside 0.9..=1.1 in every round");
}

/// 30 interleaved tries of each kind; the ratio of their medians.
async fn round(app: &TestApp, username: &str) -> f64 {
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..30 {
        for (identifier, samples) in [(username, &mut wrong), ("no_such_user", &mut unknown)] {
            let started = Instant::now();
            let response = app.login(identifier, &format!("Wrong-Password-{i}!")).await;
            samples.push(started.elapsed());
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
    }
    let (wrong, unknown) = (median(wrong), median(unknown));
    let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
    println!("median wrong password {wrong:?}, unknown identifier {unknown:?}, ratio {ratio:.3}");
    ratio
}

#[tokio::test]
async fn resend_answers_alike_for_known_and_unknown_emails() {
    let app = spawn_app_with(|c| c.codes.resend_cooldown = Duration::ZERO).await;
    let account = app.create_account().await;
    let known = app
        .resend(&format!("{}@example.com", account.username))
        .await;
    let unknown = app.resend("nobody-here@example.com").await;
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert_eq!(unknown.status(), known.status());
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
}

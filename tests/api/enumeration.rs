//! No user enumeration: unknown identifiers cost and look like wrong
//! passwords.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::*;

/// The chance that a random unknown-identifier login took longer than a
/// random wrong-password login (ties count half): 0.5 when an observer
/// cannot tell them apart by time, 0 or 1 when the split is clean.
fn auc(unknown: &[Duration], wrong: &[Duration]) -> f64 {
    let mut wins = 0.0;
    for u in unknown {
        for w in wrong {
            wins += match u.cmp(w) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            };
        }
    }
    wins / (unknown.len() * wrong.len()) as f64
}

#[tokio::test]
async fn unknown_identifiers_take_as_long_as_wrong_passwords() {
    // Lockout and the per-identifier limit would stop a wrong-password
    // series early; this test is about timing, so lift them.
    let app = spawn_app_with(|c| c.lockout.max_failures = 1_000).await;
    let account = app.create_account().await;
    // Warm up connections and caches on both paths, and fill the window of
    // bookkeeping samples the unknown path draws from (64) with steady-state
    // ones: on a new SQLite file the first commits grow the file and the
    // WAL and take longer, and unknown identifiers drawing those came out
    // slower (AUC 0.79, 0.71, 0.72 in the three rounds of one CI run).
    for _ in 0..64 {
        app.login(&account.username, "Wrong-Password-1!").await;
    }
    for _ in 0..3 {
        app.login("no_such_user", "Wrong-Password-1!").await;
    }
    // Judged by rank (AUC), not by a ratio of medians, so that a burst of
    // load from the tests running beside this one moves a few samples and
    // not the verdict. A systematic difference (no wait at all gives about
    // 0.0) shows in every round; 30 tries of each kind give a standard error of
    // about 0.075 around 0.5. So: up to three rounds, one within 0.3..=0.7
    // passes. The benchmark measures it finely over 1,000 logins.
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let auc = round(&app, &account.username).await;
        rounds.push(auc);
        if (0.3..=0.7).contains(&auc) {
            return;
        }
    }
    panic!("unknown-vs-wrong AUCs {rounds:?}: outside 0.3..=0.7 in every round");
}

/// 30 interleaved tries of each kind; their AUC.
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
    let auc = auc(&unknown, &wrong);
    println!("unknown identifier vs wrong password: AUC {auc:.3}");
    auc
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

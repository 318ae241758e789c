//! SIGTERM under load: readiness turns 503 at once while the instance
//! drains, every request the server had accepted is answered, the process
//! exits 0, and every acknowledged registration is there after a restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::sync::Mutex;

use crate::helpers::*;

/// Workers registering accounts side by side.
const WORKERS: usize = 8;
/// A request started this long before SIGTERM was surely accepted (the
/// listener accepts continuously); later ones may meet a closed listener.
const ACCEPTED_BEFORE: Duration = Duration::from_millis(50);

struct Outcome {
    started: Instant,
    finished: Instant,
    username: String,
    answer: Result<StatusCode, String>,
}

async fn register_until_refused(
    client: reqwest::Client,
    address: String,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
) {
    loop {
        let username = unique_name();
        let started = Instant::now();
        let sent = client
            .post(format!("{address}/api/v1/auth/register"))
            .json(&serde_json::json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "password": PASSWORD,
            }))
            .send()
            .await;
        let stop = sent.as_ref().is_err();
        let answer = sent.map(|r| r.status()).map_err(|e| e.to_string());
        let finished = Instant::now();
        outcomes.lock().await.push(Outcome {
            started,
            finished,
            username,
            answer,
        });
        if stop {
            return;
        }
    }
}

#[tokio::test]
async fn sigterm_under_load_answers_every_accepted_request_and_exits_0() {
    let setup = BinarySetup::new().await;
    let mut env = setup.env();
    env.extend([
        ("IDENTITY_RATE_LIMIT_REGISTER", "0/60".to_owned()),
        ("IDENTITY_RATE_LIMIT_API", "0/60".to_owned()),
        ("IDENTITY_SHUTDOWN_GRACE_SECS", "20".to_owned()),
        ("IDENTITY_SHUTDOWN_DRAIN_SECS", "2".to_owned()),
        // Slow hashing, one at a time, keeps every registration in flight
        // for hundreds of milliseconds whatever the machine, so some surely
        // started more than ACCEPTED_BEFORE before SIGTERM and end after it.
        // At the default cost a request can be answered within
        // ACCEPTED_BEFORE, and then none may qualify.
        ("IDENTITY_ARGON2_ITERATIONS", "8".to_owned()),
        ("IDENTITY_HASH_CONCURRENCY", "1".to_owned()),
    ]);
    let (mut child, address) = spawn_binary(&env);
    wait_ready(&address).await;
    let client = reqwest::Client::new();
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let worker = register_until_refused(client.clone(), address.clone(), outcomes.clone());
            tokio::spawn(worker)
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let probe = reqwest::Client::new();
    let ready = probe.get(format!("{address}/health/ready")).send().await;
    assert_eq!(ready.unwrap().status(), StatusCode::OK);
    let signalled = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // While it drains: not ready, still alive, still serving.
    eventually(Duration::from_secs(1), || async {
        let ready = probe.get(format!("{address}/health/ready")).send().await;
        (ready.ok()?.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(())
    })
    .await;
    let live = probe.get(format!("{address}/health/live")).send().await;
    assert_eq!(live.unwrap().status(), StatusCode::OK);
    for worker in workers {
        tokio::time::timeout(Duration::from_secs(30), worker)
            .await
            .expect("every worker stops once the server refuses connections")
            .unwrap();
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");

    let outcomes = outcomes.lock().await;
    let accepted: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.started + ACCEPTED_BEFORE <= signalled)
        .collect();
    for outcome in &accepted {
        assert_eq!(
            outcome.answer,
            Ok(StatusCode::CREATED),
            "a request accepted before SIGTERM failed"
        );
    }
    let in_flight = accepted.iter().filter(|o| o.finished > signalled).count();
    assert!(
        in_flight > 0,
        "no request was in flight at SIGTERM ({} accepted, {} sent)",
        accepted.len(),
        outcomes.len()
    );
    // Every acknowledged registration is there after a restart.
    let (mut child, address) = spawn_binary(&env);
    wait_ready(&address).await;
    let db = open_database(&setup.database_url).await;
    for outcome in outcomes
        .iter()
        .filter(|o| o.answer == Ok(StatusCode::CREATED))
    {
        let claimed = db
            .claim_owner(
                identity::store::ClaimKind::Username,
                &outcome.username.to_ascii_lowercase(),
            )
            .await
            .unwrap();
        assert!(
            claimed.is_some(),
            "{} was acknowledged, then lost",
            outcome.username
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

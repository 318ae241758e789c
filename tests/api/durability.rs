//! Acknowledged commands survive a SIGKILL of the server.

use std::process::Child;

use reqwest::StatusCode;

use crate::helpers::*;
use crate::projections::assert_rebuilds_equal_live;
use crate::smtp::Codes as _;

struct Server {
    child: Child,
    address: String,
}

async fn start(database_url: &str, smtp_port: u16, data_dir: &std::path::Path) -> Server {
    let (child, address) = spawn_binary(&[
        ("IDENTITY_DATABASE_URL", database_url.to_owned()),
        ("IDENTITY_SMTP_PORT", smtp_port.to_string()),
        ("IDENTITY_DATA_DIR", data_dir.display().to_string()),
        // All load comes from one IP: the per-IP limits would stop it.
        ("IDENTITY_RATE_LIMIT_REGISTER", "0/60".to_owned()),
        ("IDENTITY_RATE_LIMIT_API", "0/60".to_owned()),
    ]);
    wait_ready(&address).await;
    Server { child, address }
}

#[tokio::test]
async fn acknowledged_accounts_survive_sigkill_and_projections_match_their_rebuild() {
    let smtp = SmtpSink::start().await.expect("SMTP sink");
    let data_dir = tempfile::tempdir().unwrap();
    let url = new_database_url(data_dir.path()).await;
    let mut server = start(&url, smtp.port(), data_dir.path()).await;
    let client = reqwest::Client::new();

    let mut accounts = Vec::new();
    for _ in 0..5 {
        let name = unique_name();
        let email = format!("{name}@example.com");
        let response = client
            .post(format!("{}/api/v1/auth/register", server.address))
            .json(&serde_json::json!({"username": name, "email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let code = smtp.wait_for_code(&email).await;
        let response = client
            .post(format!("{}/api/v1/auth/verify-email", server.address))
            .json(&serde_json::json!({"email": email, "code": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        accounts.push(name);
    }
    // Kill right after the last acknowledgement: no graceful shutdown.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let mut server = start(&url, smtp.port(), data_dir.path()).await;
    for name in &accounts {
        let response = client
            .post(format!("{}/api/v1/auth/login", server.address))
            .json(&serde_json::json!({"identifier": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{name} cannot log in after the crash"
        );
    }
    assert_rebuilds_equal_live(&open_database(&url).await).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[tokio::test]
async fn registrations_acknowledged_under_load_survive_sigkill_and_projections_match_their_rebuild()
{
    let smtp = SmtpSink::start().await.expect("SMTP sink");
    let data_dir = tempfile::tempdir().unwrap();
    let url = new_database_url(data_dir.path()).await;
    let mut server = start(&url, smtp.port(), data_dir.path()).await;
    let client = reqwest::Client::new();
    // Sixteen writers register accounts one after another; the server is
    // killed while they are at it, with requests in flight.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..16)
        .map(|_| {
            let (client, address) = (client.clone(), server.address.clone());
            let acknowledged = acknowledged.clone();
            tokio::spawn(async move {
                loop {
                    let name = unique_name();
                    let sent = client
                        .post(format!("{address}/api/v1/auth/register"))
                        .json(&serde_json::json!({
                            "username": name,
                            "email": format!("{name}@example.com"),
                            "password": PASSWORD,
                        }))
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == StatusCode::CREATED => {
                            acknowledged.lock().unwrap().push(name);
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();
    eventually(std::time::Duration::from_secs(30), || async {
        (acknowledged.lock().unwrap().len() >= 40).then_some(())
    })
    .await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let mut server = start(&url, smtp.port(), data_dir.path()).await;
    for name in &acknowledged {
        // The account exists: the right password is told the email is not
        // verified yet, where an unknown one would be told it is wrong.
        let response = client
            .post(format!("{}/api/v1/auth/login", server.address))
            .json(&serde_json::json!({"identifier": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            problem["code"], "email_not_verified",
            "{name}, acknowledged before the kill, is gone: {problem}"
        );
    }
    // A session too, so that every read model has rows to compare.
    let name = unique_name();
    let email = format!("{name}@example.com");
    client
        .post(format!("{}/api/v1/auth/register", server.address))
        .json(&serde_json::json!({"username": name, "email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let code = smtp.wait_for_code(&email).await;
    let verified = client
        .post(format!("{}/api/v1/auth/verify-email", server.address))
        .json(&serde_json::json!({"email": email, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), StatusCode::OK);
    assert_rebuilds_equal_live(&open_database(&url).await).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

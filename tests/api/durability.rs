//! Acknowledged commands survive a SIGKILL of the server.

use std::process::Child;

use reqwest::StatusCode;

use crate::helpers::*;
use crate::projections::assert_rebuilds_equal_live;

struct Server {
    child: Child,
    address: String,
}

async fn start(database_url: &str, smtp_port: u16, data_dir: &std::path::Path) -> Server {
    let (child, address) = spawn_binary(&[
        ("IDENTITY_DATABASE_URL", database_url.to_owned()),
        ("IDENTITY_SMTP_PORT", smtp_port.to_string()),
        ("IDENTITY_DATA_DIR", data_dir.display().to_string()),
    ]);
    wait_ready(&address).await;
    Server { child, address }
}

#[tokio::test]
async fn acknowledged_accounts_survive_sigkill_and_projections_match_their_rebuild() {
    let smtp = SmtpSink::start().await;
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

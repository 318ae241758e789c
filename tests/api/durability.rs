//! Acknowledged commands survive a SIGKILL of the server.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;
use crate::projections::assert_rebuilds_equal_live;

struct Server {
    child: Child,
    address: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(database_url: &str, smtp_port: u16, data_dir: &std::path::Path) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_identity"))
        .arg("serve")
        .env("IDENTITY_DATABASE_URL", database_url)
        .env("IDENTITY_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("IDENTITY_SMTP_PORT", smtp_port.to_string())
        .env("IDENTITY_DATA_DIR", data_dir)
        .env("IDENTITY_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the identity binary");
    let address = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    eventually(Duration::from_secs(30), || async {
        let ready = client
            .get(format!("{address}/health/ready"))
            .send()
            .await
            .ok()?;
        (ready.status() == StatusCode::OK).then_some(())
    })
    .await;
    Server { child, address }
}

#[tokio::test]
async fn acknowledged_accounts_survive_sigkill_and_projections_match_their_rebuild() {
    let (_, url) = create_database().await;
    let smtp = SmtpSink::start().await;
    let data_dir = tempfile::tempdir().unwrap();
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
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    assert_rebuilds_equal_live(&pool).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

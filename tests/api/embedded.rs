//! The embedded default: the binary with nothing configured serves from a
//! SQLite file in its data directory, alone, and refuses bad set-ups in one
//! line.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::optional_parts::mail_files;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `identity` with an empty environment (but the listen addresses and
/// `extra`) in the directory `cwd`.
fn bare(cwd: &Path, port: u16, extra: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_identity"));
    command
        .env_clear()
        .current_dir(cwd)
        .env("IDENTITY_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        // Tests run side by side: the metrics port must not be shared.
        .env("IDENTITY_METRICS_ADDR", "127.0.0.1:0")
        .envs(extra.iter().copied());
    command
}

fn serve_bare(cwd: &Path, extra: &[(&str, &str)]) -> (Child, String) {
    let port = free_port();
    let child = bare(cwd, port, extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start identity");
    (child, format!("http://127.0.0.1:{port}"))
}

/// Runs `identity` to its end; exit code and standard error.
fn run_bare(cwd: &Path, args: &[&str], extra: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = bare(cwd, free_port(), extra)
        .args(args)
        .output()
        .expect("run identity");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_one_line_naming(code: Option<i32>, stderr: &str, setting: &str) {
    assert_ne!(code, Some(0), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(setting), "{stderr}");
}

struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The README walk-through against `address`: register, read the code
/// from the mail directory, verify, log in, `/me`; the access token.
async fn walk_through(address: &str, data_dir: &Path) -> String {
    let client = reqwest::Client::new();
    let (_, email, _) = register_and_verify_at(&client, address, |email| async move {
        let message = eventually(Duration::from_secs(10), || async {
            mail_files(data_dir)
                .into_iter()
                .find(|m| m.contains(&email))
        })
        .await;
        crate::smtp::extract_code(&message).expect("a code in the mail")
    })
    .await;
    let login: Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&json!({"identifier": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().expect("a token").to_owned();
    let me = client
        .get(format!("{address}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    token
}

#[tokio::test]
async fn with_nothing_configured_the_binary_serves_from_sqlite_in_its_data_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let (child, address) = serve_bare(cwd.path(), &[]);
    let _server = Stop(child);
    wait_ready(&address).await;
    let ready: Value = reqwest::get(format!("{address}/health/ready"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["backend"], "sqlite", "{ready}");
    assert_eq!(ready["relay"], "off", "{ready}");
    walk_through(&address, &cwd.path().join("data")).await;
    assert!(cwd.path().join("data/identity.db").exists());
}

#[tokio::test]
async fn a_second_server_on_the_same_sqlite_file_refuses_to_start_in_one_line() {
    let cwd = tempfile::tempdir().unwrap();
    let (child, address) = serve_bare(cwd.path(), &[]);
    let _server = Stop(child);
    wait_ready(&address).await;
    let (code, stderr) = run_bare(cwd.path(), &["serve"], &[]);
    assert_one_line_naming(code, &stderr, "IDENTITY_DATABASE_URL");
    assert!(stderr.contains("another `identity serve`"), "{stderr}");
}

#[tokio::test]
async fn an_operator_command_beside_a_running_sqlite_server_reaches_its_read_models() {
    let cwd = tempfile::tempdir().unwrap();
    let (child, address) = serve_bare(cwd.path(), &[("IDENTITY_PROJECTION_POLL_MS", "100")]);
    let _server = Stop(child);
    wait_ready(&address).await;
    let token = walk_through(&address, &cwd.path().join("data")).await;
    let client = reqwest::Client::new();
    let me: Value = client
        .get(format!("{address}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let email = me["email"].as_str().unwrap().to_owned();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_identity"))
        .env_clear()
        .current_dir(cwd.path())
        .args([
            "admin",
            "grant-role",
            "--email",
            &email,
            "--role",
            "auditor",
        ])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    eventually(Duration::from_secs(10), || async {
        let me: Value = client
            .get(format!("{address}/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        me["roles"]
            .as_array()?
            .contains(&json!("auditor"))
            .then_some(())
    })
    .await;
}

#[test]
fn an_unwritable_data_directory_is_refused_in_one_line() {
    let cwd = tempfile::tempdir().unwrap();
    // A directory below a plain file cannot be created, not even by root.
    std::fs::write(cwd.path().join("file"), b"").unwrap();
    let (code, stderr) = run_bare(
        cwd.path(),
        &["serve"],
        &[("IDENTITY_DATA_DIR", "file/data")],
    );
    assert_one_line_naming(code, &stderr, "IDENTITY_DATA_DIR");
}

#[tokio::test]
async fn a_sqlite_file_of_a_newer_schema_is_refused_in_one_line() {
    let cwd = tempfile::tempdir().unwrap();
    let (code, stderr) = run_bare(cwd.path(), &["migrate"], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let url = format!("sqlite://{}", cwd.path().join("data/identity.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99991231000001, 'from a newer build', true, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let (code, stderr) = run_bare(cwd.path(), &["serve"], &[]);
    assert_one_line_naming(code, &stderr, "IDENTITY_DATABASE_URL");
    assert!(stderr.contains("newer"), "{stderr}");
}

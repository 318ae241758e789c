//! The command line pipes: command output on stdout and nothing else
//! there, logs on stderr; every argument is listed by `--help`, and a typo
//! is refused with the list.

use std::process::Output;

use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

/// Runs `identity ARGS` against the test app's database with the default
/// log level, so that whatever the command logs would show.
async fn identity(app: &TestApp, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_identity"))
        .args(args)
        .env("IDENTITY_DATABASE_URL", &app.config.database_url)
        .env("IDENTITY_DATA_DIR", &app.config.data_dir)
        .env_remove("IDENTITY_LOG")
        .output()
        .await
        .unwrap()
}

/// Stdout parsed as one JSON document, as `| jq` would.
fn json_stdout(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "failed: {stdout}\n{stderr}");
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"))
}

#[tokio::test]
async fn projections_status_and_history_as_json_pipe_through_a_json_parser() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let status = identity(&app, &["projections", "status"]).await;
    let report = json_stdout(&status);
    assert!(
        report.as_array().is_some_and(|all| all.len() >= 5),
        "{report}"
    );
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(
        !stderr.contains("already exists, skipping"),
        "the migration notice was printed: {stderr}"
    );
    let history = identity(&app, &["history", &account.id, "--format", "json"]).await;
    let history = json_stdout(&history);
    assert!(
        history["events"].as_array().is_some_and(|e| !e.is_empty()),
        "{history}"
    );
}

#[tokio::test]
async fn granting_a_role_the_account_has_says_so_and_records_nothing() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let email = format!("{}@example.com", account.username);
    let args = [
        "admin",
        "grant-role",
        "--email",
        &email,
        "--role",
        "auditor",
    ];
    let first = identity(&app, &args).await;
    assert!(first.status.success());
    assert!(String::from_utf8_lossy(&first.stdout).contains("granted"));
    let events = app
        .count_events("identity.user.RoleGranted", &account.id)
        .await;
    let again = identity(&app, &args).await;
    assert!(again.status.success());
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(said.contains("already has the role auditor"), "{said}");
    let after = app
        .count_events("identity.user.RoleGranted", &account.id)
        .await;
    assert_eq!(after, events);
}

#[tokio::test]
async fn help_lists_roles_projections_and_every_setting_and_a_typo_gets_the_list() {
    let app = spawn_app().await;
    let help = identity(&app, &["admin", "grant-role", "--help"]).await;
    let help = String::from_utf8_lossy(&help.stdout);
    for role in ["user", "admin", "auditor", "influencer", "service"] {
        assert!(help.contains(role), "{role} missing from:\n{help}");
    }
    let rebuild = identity(&app, &["projections", "rebuild", "--help"]).await;
    let rebuild = String::from_utf8_lossy(&rebuild.stdout);
    for name in ["login_lookup", "user_directory", "user_sessions", "all"] {
        assert!(rebuild.contains(name), "{name} missing from:\n{rebuild}");
    }
    let typo = identity(&app, &["projections", "rebuild", "login_lookpu"]).await;
    assert!(!typo.status.success());
    let refused = String::from_utf8_lossy(&typo.stderr);
    assert!(refused.contains("login_lookup"), "{refused}");
    let serve = identity(&app, &["serve", "--help"]).await;
    let serve = String::from_utf8_lossy(&serve.stdout);
    for setting in identity::config::settings::SETTINGS {
        assert!(serve.contains(setting.name), "{} missing", setting.name);
        assert!(
            serve.contains(setting.default),
            "{} default missing",
            setting.name
        );
    }
}

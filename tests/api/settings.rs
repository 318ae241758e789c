//! Bad settings stop start-up with one line naming the setting.

use std::process::Command;

/// Runs `identity serve` with `env` and no other `IDENTITY_*` setting;
/// its exit code and standard error.
fn serve_with(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let data = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_identity"));
    for (name, _) in std::env::vars() {
        if name.starts_with("IDENTITY_") {
            command.env_remove(name);
        }
    }
    let output = command
        .arg("serve")
        .env("IDENTITY_DATA_DIR", data.path())
        .env("IDENTITY_LISTEN_ADDR", "127.0.0.1:0")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_database_url_of_an_unknown_scheme_is_refused_in_one_line() {
    for url in ["mysql://db/identity", "identity.db", "sqlite://"] {
        let (code, stderr) = serve_with(&[("IDENTITY_DATABASE_URL", url)]);
        assert_eq!(code, Some(2), "{url}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{url}: {stderr}");
        assert!(stderr.contains("IDENTITY_DATABASE_URL"), "{url}: {stderr}");
    }
}

#[tokio::test]
async fn a_sqlite_url_never_creates_a_postgres_database() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("identity.db");
    let url = format!("sqlite://{}", path.display());
    let (code, stderr) = serve_with(&[("IDENTITY_DATABASE_URL", &url)]);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("IDENTITY_DATABASE_URL") || stderr.is_empty());
    let admin = sqlx::PgPool::connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .unwrap();
    let created: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname LIKE $1")
        .bind(format!("%{}%", data.path().display()))
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(created, 0, "a PostgreSQL database was created for {url}");
}

#[test]
fn the_relay_switched_on_without_a_nats_url_is_refused_in_one_line() {
    let (code, stderr) = serve_with(&[("IDENTITY_RELAY_ENABLED", "true")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("IDENTITY_RELAY_ENABLED"), "{stderr}");
}

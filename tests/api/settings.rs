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
        .env("IDENTITY_METRICS_ADDR", "127.0.0.1:0")
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

#[test]
fn the_relay_switched_on_without_a_nats_url_is_refused_in_one_line() {
    let (code, stderr) = serve_with(&[("IDENTITY_RELAY_ENABLED", "true")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("IDENTITY_RELAY_ENABLED"), "{stderr}");
}

#[test]
fn an_unparsable_setting_says_what_it_expects() {
    let (code, stderr) = serve_with(&[("IDENTITY_RATE_LIMIT_API", "100")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr.trim(),
        r#"configuration error: IDENTITY_RATE_LIMIT_API: cannot parse "100": expected QUOTA/SECONDS"#
    );
}

#[test]
fn an_unreachable_database_is_named_by_host_port_and_database_in_one_line() {
    // Port 1 on loopback: nothing listens, the connection is refused.
    let url = "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable";
    let (code, stderr) = serve_with(&[("IDENTITY_DATABASE_URL", url)]);
    assert_ne!(code, Some(0), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("\"nowhere\" on 127.0.0.1:1"),
        "the database it tried is not named: {stderr}"
    );
}

//! Signing-key rotation: published before it signs, old tokens valid
//! until they expire, and a third-party verifier (PyJWT with its JWKS
//! client) that never fails across it.
//!
//! PyJWT comes from PyPI: `.ci/run` installs it beside schemathesis and
//! names that Python in `IDENTITY_PYTHON`. A missing verifier fails the
//! test, it never skips.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::helpers::*;

/// The PyJWT verifier, one token per line in, one verdict per line out.
pub struct Verifier {
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Verifier {
    /// A verifier caching the JWKS for `cache`, as PyJWKClient does
    /// (300 s by default; the test scales it down with the lead).
    fn start(app: &TestApp, cache: Duration) -> Self {
        Self::for_audience(app, cache, &app.config.audience, "EdDSA")
    }

    /// A verifier of tokens for `audience` signed with `algorithm` (an ID
    /// token's audience is its client, its algorithm RS256).
    pub fn for_audience(app: &TestApp, cache: Duration, audience: &str, algorithm: &str) -> Self {
        let python = std::env::var("IDENTITY_PYTHON").unwrap_or_else(|_| {
            panic!(
                "IDENTITY_PYTHON is not set: `.ci/run` installs PyJWT and sets it, or \
                 `pip install 'pyjwt[crypto]'` and point it at that python"
            )
        });
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/verify.py");
        let mut child = tokio::process::Command::new(python)
            .arg(script)
            .arg(app.url("/.well-known/jwks.json"))
            .arg(&app.config.public_url)
            .arg(audience)
            .arg(cache.as_secs_f64().to_string())
            .arg(algorithm)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the PyJWT verifier");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self {
            _child: child,
            stdin,
            stdout,
        }
    }

    /// The verifier's verdict on `token`: the key id it verified it with.
    pub async fn verify(&mut self, token: &str) -> String {
        self.stdin
            .write_all(format!("{token}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
        let line = tokio::time::timeout(Duration::from_secs(10), self.stdout.next_line())
            .await
            .expect("a verdict within 10 s")
            .unwrap()
            .expect("the verifier is running");
        line.strip_prefix("ok ")
            .unwrap_or_else(|| panic!("PyJWT refused a token: {line}"))
            .to_owned()
    }
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let jwks = app.jwks().await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// `identity keys rotate` beside the running server, as an operator runs it.
async fn rotate(app: &TestApp) -> (String, chrono::DateTime<chrono::Utc>) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_identity"))
        .args(["keys", "rotate"])
        .env("IDENTITY_DATABASE_URL", &app.config.database_url)
        .env("IDENTITY_DATA_DIR", &app.config.data_dir)
        .env("IDENTITY_SECRET", app.config.secret_hex.as_deref().unwrap())
        .env(
            "IDENTITY_SIGNING_KEY_PUBLISH_AHEAD_SECS",
            app.config.signing_key_publish_ahead.as_secs().to_string(),
        )
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rotated: Value = serde_json::from_str(&stdout).expect("one JSON document");
    let kid = rotated["kid"].as_str().unwrap().to_owned();
    let at = rotated["activates_at"].as_str().unwrap().parse().unwrap();
    (kid, at)
}

async fn fresh_token(app: &TestApp, username: &str) -> String {
    let pair = body(app.login(username, PASSWORD).await).await;
    pair["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_rotated_key_is_published_before_it_signs_and_no_token_fails_a_third_party_verifier() {
    // The verifier caches the JWKS for 2 s; a new key is published 4 s
    // before it signs (in production: 300 s, PyJWT's default cache).
    let app = spawn_app_with(|config| {
        config.signing_key_publish_ahead = Duration::from_secs(4);
    })
    .await;
    let mut verifier = Verifier::start(&app, Duration::from_secs(2));
    let account = app.create_account().await;
    let before = account.access_token.clone();
    let old_kid = kid_of(&before);
    assert_eq!(verifier.verify(&before).await, old_kid);

    let (new_kid, activates_at) = rotate(&app).await;
    assert_ne!(new_kid, old_kid);
    // The running server publishes it within seconds, beside the old key.
    eventually(Duration::from_secs(5), || async {
        let kids = jwks_kids(&app).await;
        (kids.contains(&new_kid) && kids.contains(&old_kid)).then_some(())
    })
    .await;
    // Published, not signing yet: tokens are still the old key's.
    let during = fresh_token(&app, &account.username).await;
    if chrono::Utc::now() < activates_at {
        assert_eq!(kid_of(&during), old_kid);
    }
    assert_eq!(verifier.verify(&during).await, kid_of(&during));
    // Once its time has come, it signs; the verifier's cache of the JWKS
    // has expired by then, so it has the new key.
    let after = eventually(Duration::from_secs(10), || async {
        let token = fresh_token(&app, &account.username).await;
        (kid_of(&token) == new_kid).then_some(token)
    })
    .await;
    assert!(chrono::Utc::now() >= activates_at);
    assert_eq!(verifier.verify(&after).await, new_kid);
    // Tokens signed before the rotation stay valid, here and for PyJWT.
    assert_eq!(app.me(&before).await.status(), StatusCode::OK);
    assert_eq!(app.me(&after).await.status(), StatusCode::OK);
    assert_eq!(verifier.verify(&before).await, old_kid);
}

#[tokio::test]
async fn keys_rotate_by_themselves_when_old_and_every_instance_accepts_every_other_ones_tokens() {
    let app = spawn_app_with(|config| {
        config.signing_key_rotation = chrono::Duration::seconds(3);
        // The floor (two key reads, 4 s) applies.
        config.signing_key_publish_ahead = Duration::ZERO;
    })
    .await;
    let second = app.second_instance().await;
    let account = app.create_account().await;
    let old_kid = kid_of(&account.access_token);
    let rotated = eventually(Duration::from_secs(15), || async {
        let token = fresh_token(&app, &account.username).await;
        (kid_of(&token) != old_kid).then_some(token)
    })
    .await;
    // A token of one instance is good at the other, before and after.
    let login = serde_json::json!({"identifier": account.username, "password": PASSWORD});
    let url = format!("{second}/api/v1/auth/login");
    let pair = body(app.client.post(&url).json(&login).send().await.unwrap()).await;
    let from_second = pair["access_token"].as_str().unwrap().to_owned();
    for token in [&account.access_token, &rotated, &from_second] {
        assert_eq!(app.me(token).await.status(), StatusCode::OK);
        let me = app
            .client
            .get(format!("{second}/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK);
    }
}

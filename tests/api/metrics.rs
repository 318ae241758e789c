//! `GET /metrics` on its own listener: each metric family after driving
//! the flow that moves it, read back with a Prometheus text parser.
//!
//! The recorder is process-wide, so tests running beside each other add
//! to the same counters: each check is "at least", after this test's own
//! requests.

use std::time::Duration;

use prometheus_parse::{Sample, Scrape, Value};
use reqwest::StatusCode;

use crate::helpers::*;

impl TestApp {
    /// One scrape of `/metrics`, parsed.
    async fn scrape(&self) -> Scrape {
        let response = self
            .client
            .get(format!("{}/metrics", self.metrics_address))
            .send()
            .await
            .expect("scrape");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = response.text().await.expect("text");
        Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text")
    }
}

/// The samples of `name` whose labels include every `(label, value)`.
fn samples<'a>(scrape: &'a Scrape, name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

/// The sum of the matching samples' values (a histogram counts its
/// observations).
fn total(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(scrape, name, labels)
        .iter()
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => 0.0,
        })
        .sum()
}

fn assert_at_least(scrape: &Scrape, name: &str, labels: &[(&str, &str)], least: f64) {
    let value = total(scrape, name, labels);
    assert!(
        value >= least,
        "{name}{labels:?} = {value}, expected >= {least}"
    );
}

#[tokio::test]
async fn metrics_are_served_apart_from_the_api() {
    let app = spawn_app().await;
    let on_api = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND);
    let scrape = app.scrape().await;
    assert!(!scrape.samples.is_empty());
}

#[tokio::test]
async fn a_sign_up_and_logins_show_in_requests_logins_hashing_events_codes_and_state() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let wrong = app.login(&account.username, "not-the-password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login(&account.username, PASSWORD).await.status(),
        StatusCode::OK
    );
    let scrape = app.scrape().await;
    let login = [("route", "/api/v1/auth/login"), ("method", "POST")];
    assert_at_least(
        &scrape,
        "identity_http_requests_total",
        &[login[0], login[1], ("status", "200")],
        1.0,
    );
    assert_at_least(
        &scrape,
        "identity_http_requests_total",
        &[login[0], ("status", "401")],
        1.0,
    );
    assert_at_least(
        &scrape,
        "identity_http_request_duration_seconds",
        &login,
        2.0,
    );
    let password = ("method", "password");
    assert_at_least(
        &scrape,
        "identity_logins_total",
        &[password, ("outcome", "success")],
        1.0,
    );
    let refused = [password, ("outcome", "invalid_credentials")];
    assert_at_least(&scrape, "identity_logins_total", &refused, 1.0);
    assert_at_least(
        &scrape,
        "identity_argon2_operations_total",
        &[("operation", "hash")],
        1.0,
    );
    assert_at_least(
        &scrape,
        "identity_argon2_operations_total",
        &[("operation", "verify")],
        2.0,
    );
    assert_at_least(&scrape, "identity_argon2_queue_wait_seconds", &[], 3.0);
    assert_at_least(
        &scrape,
        "identity_events_committed_total",
        &[("aggregate", "user")],
        3.0,
    );
    assert_at_least(
        &scrape,
        "identity_events_committed_total",
        &[("aggregate", "session")],
        2.0,
    );
    assert_at_least(
        &scrape,
        "identity_codes_sent_total",
        &[("channel", "email")],
        1.0,
    );
    let smtp = [("target", "smtp"), ("outcome", "ok")];
    assert_at_least(&scrape, "identity_outbound_calls_total", &smtp, 1.0);
    assert_eq!(
        total(
            &scrape,
            "identity_circuit_breaker_open",
            &[("target", "smtp")]
        ),
        0.0
    );
    let projection = [("projection", "login_lookup")];
    for family in [
        "identity_projection_lag_events",
        "identity_projection_lag_seconds",
    ] {
        assert_eq!(samples(&scrape, family, &projection).len(), 1, "{family}");
    }
    assert_eq!(
        samples(&scrape, "identity_db_pool_connections", &[]).len(),
        2
    );
    // No label holds anything of the person.
    for sample in &scrape.samples {
        for value in sample.labels.values() {
            for private in [account.username.as_str(), account.id.as_str()] {
                assert!(!value.contains(private), "{} holds {value}", sample.metric);
            }
        }
    }
}

#[tokio::test]
async fn lockouts_and_rate_limit_refusals_are_counted_by_limit() {
    let app = spawn_app_with(|config| {
        config.lockout.max_failures = 2;
        config.rate_limits.login_per_identifier = identity::ratelimit::Limit::new(3, 86_400);
    })
    .await;
    let account = app.create_account().await;
    for _ in 0..4 {
        app.login(&account.username, "not-the-password").await;
    }
    let scrape = app.scrape().await;
    assert_at_least(&scrape, "identity_lockouts_total", &[], 1.0);
    assert_at_least(
        &scrape,
        "identity_rate_limited_total",
        &[("limit", "login")],
        1.0,
    );
    assert_at_least(
        &scrape,
        "identity_logins_total",
        &[("outcome", "account_locked")],
        1.0,
    );
}

#[tokio::test]
async fn the_relay_reports_what_it_published_and_its_backlog() {
    let app = spawn_app().await;
    app.create_account().await;
    if on_sqlite() {
        // No relay on SQLite (the HTTP feed serves it), in any instance of
        // this run: no relay figures at all.
        let scrape = app.scrape().await;
        assert!(samples(&scrape, "identity_relay_backlog_events", &[]).is_empty());
        return;
    }
    eventually(Duration::from_secs(10), || async {
        let scrape = app.scrape().await;
        let published = total(&scrape, "identity_relay_published_total", &[]);
        let timed = total(&scrape, "identity_relay_publish_duration_seconds", &[]);
        let backlog = samples(&scrape, "identity_relay_backlog_events", &[]).len();
        (published >= 1.0 && timed >= 1.0 && backlog == 1).then_some(())
    })
    .await;
}

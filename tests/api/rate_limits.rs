//! Rate limits: per IP, per identifier, per address; shared by instances.

use identity::ratelimit::Limit;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// Windows are aligned to the clock, so a short one can end between two of
/// a test's requests (slow debug logins); a day-long window keeps a test in
/// one window.
const DAY: u64 = 86_400;

async fn assert_rate_limited(response: reqwest::Response, policy: &str) {
    let headers = response.headers().clone();
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(headers.contains_key("retry-after"));
    let policy_header = headers["ratelimit-policy"].to_str().unwrap();
    assert!(
        policy_header.starts_with(&format!("\"{policy}\";q=")),
        "{policy_header}"
    );
    assert!(headers["ratelimit"].to_str().unwrap().contains(";r=0;"));
}

#[tokio::test]
async fn the_api_limit_per_ip_answers_429_with_ratelimit_headers() {
    let app = spawn_app_with(|c| c.rate_limits.api_per_ip = Limit::new(3, DAY)).await;
    for _ in 0..3 {
        let response = app.login("someone", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["ratelimit-policy"],
            "\"api\";q=3;w=86400"
        );
    }
    assert_rate_limited(app.login("someone", PASSWORD).await, "api").await;
    // Health and docs are outside the API limit.
    assert_eq!(
        app.client
            .get(app.url("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let app = spawn_app_with(|c| c.rate_limits.api_per_ip = Limit::new(1, DAY)).await;
    let spoofed = |ip: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({}))
            .send()
    };
    assert_eq!(
        spoofed("1.1.1.1").await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        spoofed("2.2.2.2").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    let proxied = spawn_app_with(|c| {
        c.rate_limits.api_per_ip = Limit::new(1, DAY);
        c.trusted_proxy_hops = 1;
    })
    .await;
    let via = |ip: &'static str| {
        proxied
            .client
            .post(proxied.url("/api/v1/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({}))
            .send()
    };
    assert_eq!(
        via("1.1.1.1").await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        via("2.2.2.2").await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        via("1.1.1.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn login_is_limited_per_identifier_for_unknown_identifiers_exactly_like_known_ones() {
    let app = spawn_app_with(|c| c.rate_limits.login_per_identifier = Limit::new(5, DAY)).await;
    let account = app.create_account().await;
    for identifier in [account.username.as_str(), "no_such_user"] {
        for _ in 0..5 {
            assert_eq!(
                app.login(identifier, "Wrong-Password-1!").await.status(),
                StatusCode::UNAUTHORIZED
            );
        }
        assert_rate_limited(app.login(identifier, PASSWORD).await, "login").await;
    }
    // Another identifier is unaffected.
    assert_eq!(
        app.login("someone_else", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn registration_is_limited_per_ip() {
    let app = spawn_app_with(|c| c.rate_limits.register_per_ip = Limit::new(2, DAY)).await;
    for _ in 0..2 {
        let name = unique_name();
        assert_eq!(
            app.register(&name, &format!("{name}@example.com"), PASSWORD)
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    let name = unique_name();
    assert_rate_limited(
        app.register(&name, &format!("{name}@example.com"), PASSWORD)
            .await,
        "register",
    )
    .await;
}

#[tokio::test]
async fn email_code_requests_are_limited_per_address_beyond_the_cooldown() {
    let app = spawn_app_with(|c| {
        c.codes.resend_cooldown = std::time::Duration::ZERO;
        c.rate_limits.email_codes_per_address = Limit::new(2, DAY);
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            app.resend("someone@example.com").await.status(),
            StatusCode::ACCEPTED
        );
    }
    assert_rate_limited(app.resend("someone@example.com").await, "email-codes").await;
    assert_eq!(
        app.resend("other@example.com").await.status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn two_instances_together_never_allow_more_than_the_limit() {
    let app = spawn_app_with(|c| c.rate_limits.login_per_identifier = Limit::new(10, DAY)).await;
    let second = identity::startup::Application::build(app.config.clone())
        .await
        .unwrap();
    let second_address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());
    let attempts = (0..40).map(|i| {
        let base = if i % 2 == 0 {
            app.address.clone()
        } else {
            second_address.clone()
        };
        let client = app.client.clone();
        async move {
            client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"identifier": "shared_target", "password": PASSWORD}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let let_through = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(let_through, 10, "{statuses:?}");
    assert_eq!(limited, 30);
}

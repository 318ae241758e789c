//! Security headers on every response: each documented route whatever it
//! answers, the docs, the fallbacks and the error paths; a looser policy
//! only for the docs page; HSTS only when configured.

use identity::http::MAX_BODY_BYTES;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
const HSTS: &str = "max-age=63072000; includeSubDomains";
const OPENAPI_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Asserts the headers every response carries, with `csp` as its policy.
fn assert_security_headers(response: &Response, csp: &str, what: &str) {
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("content-security-policy", csp),
    ] {
        assert_eq!(header(response, name), Some(value), "{name} on {what}");
    }
    assert_eq!(header(response, "server"), None, "server header on {what}");
}

/// `template` with every `{param}` replaced by a random UUID.
fn fill_params(template: &str) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = start + rest[start..].find('}').expect("unclosed {param}");
        path.push_str(&rest[..start]);
        path.push_str(&Uuid::new_v4().to_string());
        rest = &rest[end + 1..];
    }
    path.push_str(rest);
    path
}

async fn call(app: &TestApp, method: Method, path: &str) -> Response {
    let mut request = app.client.request(method.clone(), app.url(path));
    if [Method::POST, Method::PUT, Method::PATCH].contains(&method) {
        request = request.json(&json!({}));
    }
    request.send().await.expect("request sent")
}

/// The sources a policy allows for `directive`, if it names it.
fn sources<'a>(csp: &'a str, directive: &str) -> Option<Vec<&'a str>> {
    csp.split(';').find_map(|part| {
        let mut words = part.split_whitespace();
        (words.next() == Some(directive)).then(|| words.collect())
    })
}

#[tokio::test]
async fn every_route_in_the_openapi_document_answers_with_security_headers() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_security_headers(&response, API_CSP, "GET /openapi.json");
    let doc: Value = body(response).await;
    let mut called = 0;
    for (template, item) in doc["paths"].as_object().expect("paths") {
        let path = fill_params(template);
        for method in item.as_object().expect("path item").keys() {
            if !OPENAPI_METHODS.contains(&method.as_str()) {
                continue;
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let what = format!("{method} {path}");
            let response = call(&app, method, &path).await;
            let csp = header(&response, "content-security-policy").unwrap_or_default();
            if path == "/oauth/authorize" {
                // The sign-in page: no script, nothing loaded, styles
                // inline, forms only to us (and the client's redirect).
                assert!(
                    csp.starts_with(
                        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
                    ),
                    "{csp}"
                );
                assert!(csp.ends_with("frame-ancestors 'none'"), "{csp}");
                assert_security_headers(&response, csp, &what);
            } else {
                assert_security_headers(&response, API_CSP, &what);
            }
            called += 1;
        }
    }
    assert!(called >= 12, "only {called} operations documented");

    for (path, status) in [
        ("/docs/", StatusCode::OK),
        ("/docs/swagger-ui-bundle.js", StatusCode::OK),
    ] {
        let response = call(&app, Method::GET, path).await;
        assert_eq!(response.status(), status, "GET {path}");
        let csp = header(&response, "content-security-policy").unwrap_or_default();
        assert_ne!(csp, API_CSP, "GET {path}");
        assert_security_headers(&response, csp, path);
    }

    for (method, path, status) in [
        (Method::GET, "/no/such/path", StatusCode::NOT_FOUND),
        (
            Method::DELETE,
            "/api/v1/auth/login",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ] {
        let response = call(&app, method.clone(), path).await;
        assert_eq!(response.status(), status, "{method} {path}");
        assert_security_headers(&response, API_CSP, &format!("{method} {path}"));
    }

    let too_large = json!({ "username": "a".repeat(MAX_BODY_BYTES + 1) });
    let response = app.post("/api/v1/auth/register", too_large).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_security_headers(&response, API_CSP, "413");

    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"identifier\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_security_headers(&response, API_CSP, "malformed JSON");

    // The per-address limit answers 429 to a second request for one address.
    let limited = spawn_app_with(|c| {
        c.rate_limits.email_codes_per_address = identity::ratelimit::Limit::new(1, 3600);
    })
    .await;
    let email = format!("{}@example.com", unique_name());
    assert_eq!(limited.resend(&email).await.status(), StatusCode::ACCEPTED);
    let response = limited.resend(&email).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_security_headers(&response, API_CSP, "429");
}

#[tokio::test]
async fn docs_page_gets_a_looser_policy_than_the_api() {
    let app = spawn_app().await;
    let response = call(&app, Method::GET, "/docs/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = header(&response, "content-security-policy")
        .expect("docs CSP")
        .to_owned();
    assert_security_headers(&response, &csp, "/docs/");
    let page = response.text().await.unwrap();

    assert_eq!(sources(&csp, "default-src"), Some(vec!["'self'"]));
    assert_eq!(sources(&csp, "frame-ancestors"), Some(vec!["'none'"]));
    // Swagger UI fetches /openapi.json and, on "Try it out", the API.
    assert_eq!(sources(&csp, "connect-src"), Some(vec!["'self'"]));
    // The page runs only its own script files: no inline script to allow.
    assert_eq!(sources(&csp, "script-src"), Some(vec!["'self'"]));
    for tag in page.split("<script").skip(1) {
        let open_tag = &tag[..tag.find('>').expect("tag closes")];
        assert!(open_tag.contains("src="), "inline script: <script{tag}");
    }
    // Nothing from elsewhere, nothing evaluated from strings.
    for source in csp.split([';', ' ']) {
        assert!(
            !source.contains(':') || source == "data:",
            "remote source {source} in {csp}"
        );
        assert!(source != "*" && source != "'unsafe-eval'", "{csp}");
    }

    // The redirect to /docs/ and its assets share the policy; the rest of
    // the service, even paths that merely start like it, does not.
    for path in [
        "/docs",
        "/docs/swagger-ui.css",
        "/docs/swagger-initializer.js",
    ] {
        let response = call(&app, Method::GET, path).await;
        assert_security_headers(&response, &csp, path);
    }
    for path in ["/openapi.json", "/docsx", "/api/v1/docs/"] {
        let response = call(&app, Method::GET, path).await;
        assert_security_headers(&response, API_CSP, path);
    }
}

#[tokio::test]
async fn hsts_is_sent_only_when_configured() {
    let plain = spawn_app().await;
    let tls = spawn_app_with(|c| c.hsts = true).await;
    for path in ["/health/live", "/no/such/path", "/docs/"] {
        let response = call(&plain, Method::GET, path).await;
        assert_eq!(
            header(&response, "strict-transport-security"),
            None,
            "{path}"
        );
        let response = call(&tls, Method::GET, path).await;
        assert_eq!(
            header(&response, "strict-transport-security"),
            Some(HSTS),
            "{path}"
        );
    }
}

#[tokio::test]
async fn token_responses_are_not_cacheable() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let login = app.login(&account.username, PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(header(&login, "cache-control"), Some("no-store"));
    assert_security_headers(&login, API_CSP, "login");

    let refresh = app.refresh(&account.refresh_token).await;
    assert_eq!(refresh.status(), StatusCode::OK);
    assert_eq!(header(&refresh, "cache-control"), Some("no-store"));
}

/// Defect 11: personal data went out without `Cache-Control: no-store`.
#[tokio::test]
async fn personal_data_is_never_cacheable() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let influencer = app.create_account().await;
    for (path, token) in [
        ("/api/v1/me", &admin.access_token),
        ("/api/v1/auth/sessions", &admin.access_token),
        ("/api/v1/admin/users", &admin.access_token),
        ("/api/v1/admin/influencers", &admin.access_token),
        ("/api/v1/admin/influencer-applications", &admin.access_token),
        (
            "/api/v1/influencer/applications/me",
            &influencer.access_token,
        ),
    ] {
        let response = app.get_with_token(path, token).await;
        assert_eq!(
            header(&response, "cache-control"),
            Some("no-store"),
            "{path} answered {}",
            response.status()
        );
    }
}

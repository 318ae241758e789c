//! The OpenAPI document is complete: clients generate SDKs from it, and
//! fuzzers send what it allows. Walked operation by operation, and checked
//! against the running router.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{body, spawn_app, TestApp};

/// Resolves a `$ref` to `#/components/schemas/...` (or returns `schema`).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// The first schema of a request or response's `content`.
fn content_schema(part: &Value) -> Option<&Value> {
    part["content"]
        .as_object()?
        .values()
        .next()
        .map(|media| &media["schema"])
        .filter(|schema| !schema.is_null())
}

fn nullable(schema: &Value) -> bool {
    schema["nullable"] == json!(true)
        || schema["type"]
            .as_array()
            .is_some_and(|types| types.contains(&json!("null")))
        || schema["oneOf"]
            .as_array()
            .is_some_and(|types| types.iter().any(|t| t["type"] == json!("null")))
}

/// Every operation as `(path, method, operation)`.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            all.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    all
}

/// The path with every `{parameter}` filled with a value of the right
/// shape that names nothing.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closing brace") + start;
        out.push_str("00000000-0000-4000-8000-000000000000");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_operation_documents_its_success_body_its_errors_and_its_request_body() {
    let app = spawn_app().await;
    let doc = app.openapi().await;
    let mut problems = Vec::new();
    for (path, method, operation) in operations(&doc) {
        let name = format!("{} {path}", method.to_uppercase());
        let responses = operation["responses"].as_object().expect("responses");
        // A browser flow's step succeeds with a redirect (302, 303).
        let success = |s: &str| s.starts_with('2') || s == "302" || s == "303";
        let successes: Vec<_> = responses.iter().filter(|(s, _)| success(s)).collect();
        if successes.is_empty() {
            problems.push(format!("{name}: no 2xx response"));
        }
        for (status, response) in successes {
            // 202, 204 and 302 answer without a body; so does RFC 7009's
            // revocation, with 200.
            let bodiless =
                matches!(status.as_str(), "202" | "204" | "302" | "303") || path == "/oauth/revoke";
            if !bodiless && content_schema(response).is_none() {
                problems.push(format!("{name}: {status} has no body schema"));
            }
        }
        // The OAuth endpoints answer errors in RFC 6749's shape instead.
        let error_schema = if path.starts_with("/oauth/") {
            "/OAuthError"
        } else {
            "/Problem"
        };
        // A page (the sign-in page) answers its errors as pages.
        let page = |response: &Value| response["content"].get("text/html").is_some();
        for (status, response) in responses.iter().filter(|(s, r)| !success(s) && !page(r)) {
            let is_problem = content_schema(response)
                .and_then(|schema| schema["$ref"].as_str())
                .is_some_and(|r| r.ends_with(error_schema));
            if !is_problem {
                problems.push(format!("{name}: {status} is not a Problem"));
            }
        }
        if let Some(request) = operation.get("requestBody") {
            match content_schema(request) {
                None => problems.push(format!("{name}: request body without a schema")),
                Some(schema) => {
                    let schema = resolve(&doc, schema);
                    for field in schema["required"].as_array().into_iter().flatten() {
                        let field = field.as_str().expect("field name");
                        let property = resolve(&doc, &schema["properties"][field]);
                        if nullable(property) {
                            problems.push(format!("{name}: required `{field}` is nullable"));
                        }
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `method url` with `token`.
fn request(app: &TestApp, method: &str, url: &str, token: &str) -> reqwest::RequestBuilder {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
    app.client.request(method, url).bearer_auth(token)
}

/// A token holding every role, so that no guard answers before the body
/// is read.
async fn every_role(app: &TestApp) -> String {
    let mut account = app.create_account_with_role("admin").await;
    for role in ["auditor", "influencer"] {
        account = app.grant_and_login(account, role).await;
    }
    app.grant_and_login(account, "service").await.access_token
}

#[tokio::test]
async fn the_document_lists_exactly_what_the_router_serves_and_every_body_it_reads() {
    let app = spawn_app().await;
    let doc = app.openapi().await;
    let token = every_role(&app).await;
    let mut problems = Vec::new();
    let mut documented: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (path, method, _) in operations(&doc) {
        documented.entry(path).or_default().push(method);
    }
    for (path, methods) in &documented {
        let url = app.url(&concrete(path));
        for method in ["get", "post", "put", "patch", "delete"] {
            // The stream answers and stays open; its status is enough.
            let response = request(&app, method, &url, &token).send().await.unwrap();
            let status = response.status();
            let served = status != StatusCode::METHOD_NOT_ALLOWED;
            let listed = methods.iter().any(|m| m == method);
            if served != listed {
                problems.push(format!(
                    "{} {path}: served {served}, documented {listed} ({status})",
                    method.to_uppercase()
                ));
            }
            if !listed || !matches!(method, "post" | "put" | "patch") {
                continue;
            }
            let operation = &doc["paths"][path][method];
            let takes_body = status == StatusCode::UNSUPPORTED_MEDIA_TYPE;
            if takes_body && operation.get("requestBody").is_none() {
                problems.push(format!(
                    "{} {path}: reads a body it does not document",
                    method.to_uppercase()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn every_field_a_handler_requires_is_required_in_the_document() {
    let app = spawn_app().await;
    let doc = app.openapi().await;
    let token = every_role(&app).await;
    let mut problems = Vec::new();
    for (path, method, operation) in operations(&doc) {
        let Some(schema) = operation.get("requestBody").and_then(content_schema) else {
            continue;
        };
        let schema = resolve(&doc, schema);
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let url = app.url(&concrete(&path));
        let response = request(&app, &method, &url, &token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        if response.status() != StatusCode::UNPROCESSABLE_ENTITY {
            continue;
        }
        let problem = body(response).await;
        for error in problem["errors"].as_array().into_iter().flatten() {
            let field = error["field"].as_str().unwrap_or_default();
            if error["code"] == "required" && !required.contains(&field) {
                problems.push(format!(
                    "{} {path}: `{field}` is required by the handler, not by the document",
                    method.to_uppercase()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

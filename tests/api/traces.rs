//! Traces: the binary exports its spans by OTLP/HTTP to a real receiver on
//! loopback (this module's, decoding with the `opentelemetry-proto` types),
//! continues a caller's `traceparent`, and hands the command's on in each
//! event: in NATS headers and in the HTTP feed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;
use crate::smtp::Codes;

/// The caller's trace: trace id, then the caller's span id.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn given_traceparent() -> String {
    format!("00-{TRACE_ID}-{CALLER_SPAN}-01")
}

/// A span as received, with the service name of its resource.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

impl Received {
    fn id(&self) -> String {
        hex::encode(&self.span.span_id)
    }

    fn parent(&self) -> String {
        hex::encode(&self.span.parent_span_id)
    }

    fn trace(&self) -> String {
        hex::encode(&self.span.trace_id)
    }

    fn attribute(&self, key: &str) -> Option<String> {
        attribute(&self.span.attributes, key)
    }
}

/// An attribute's value as text.
fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            AnyValue::StringValue(s) => s.clone(),
            AnyValue::IntValue(n) => n.to_string(),
            other => format!("{other:?}"),
        })
}

/// An OTLP/HTTP receiver on loopback: `POST /v1/traces` with a protobuf
/// `ExportTraceServiceRequest`, as every OpenTelemetry SDK sends it.
struct Receiver {
    port: u16,
    spans: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> Self {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let sink = spans.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            post(move |body: Bytes| {
                let sink = sink.clone();
                async move {
                    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                        return (StatusCode::BAD_REQUEST, Vec::new());
                    };
                    let mut sink = sink.lock().unwrap();
                    for resource in request.resource_spans {
                        let service = resource
                            .resource
                            .as_ref()
                            .and_then(|r| attribute(&r.attributes, "service.name"))
                            .unwrap_or_default();
                        for scope in resource.scope_spans {
                            sink.extend(scope.spans.into_iter().map(|span| Received {
                                service: service.clone(),
                                span,
                            }));
                        }
                    }
                    // An empty `ExportTraceServiceResponse`: all accepted.
                    (StatusCode::OK, Vec::new())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { port, spans }
    }

    /// Waits for a span that `matches`.
    async fn span(&self, matches: impl Fn(&Received) -> bool) -> Received {
        eventually(Duration::from_secs(20), || async {
            self.spans
                .lock()
                .unwrap()
                .iter()
                .find(|s| matches(s))
                .cloned()
        })
        .await
    }
}

/// The `SessionStarted` of `session` as published to `stream`.
async fn session_start_on_nats(stream: &str, session: &str) -> crate::nats::Received {
    let mut seen = Vec::new();
    for _ in 0..40 {
        seen.extend(crate::nats::consume(&nats_url(), stream, "trace", 1).await);
        if let Some(started) = seen.iter().find(|r| {
            r.envelope["event_type"] == "identity.session.SessionStarted"
                && r.envelope["aggregate_id"] == session
        }) {
            return started.clone();
        }
    }
    panic!("no SessionStarted was published: {seen:?}");
}

#[tokio::test]
async fn a_login_exports_its_request_command_and_commit_spans_under_the_callers_trace() {
    let receiver = Receiver::start().await;
    let setup = BinarySetup::new().await;
    let tag = Uuid::new_v4().simple().to_string();
    let mut env = setup.env();
    env.extend([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", receiver.port),
        ),
        ("OTEL_SERVICE_NAME", format!("identity-{tag}")),
        // The batch processor's delay: export within a tenth of a second.
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ]);
    // The NATS relay runs on PostgreSQL (the HTTP feed serves SQLite).
    if !on_sqlite() {
        env.extend([
            ("IDENTITY_NATS_URL", nats_url()),
            ("IDENTITY_NATS_STREAM", format!("TEST_{tag}")),
            ("IDENTITY_NATS_SUBJECT_PREFIX", format!("t{tag}")),
        ]);
    }
    let (mut child, address) = spawn_binary(&env);
    wait_ready(&address).await;
    let client = reqwest::Client::new();
    let (username, _, _) = register_and_verify_at(&client, &address, |email| async move {
        setup.smtp.wait_for_code(&email).await
    })
    .await;

    let login = client
        .post(format!("{address}/api/v1/auth/login"))
        .header("traceparent", given_traceparent())
        .json(&json!({"identifier": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);

    // The request: a server span, child of the caller's, named by route.
    let request = receiver
        .span(|s| s.trace() == TRACE_ID && s.parent() == CALLER_SPAN)
        .await;
    assert_eq!(request.span.name, "POST /api/v1/auth/login");
    assert_eq!(request.service, format!("identity-{tag}"));
    assert_eq!(
        request.attribute("http.route").as_deref(),
        Some("/api/v1/auth/login")
    );
    assert_eq!(
        request.attribute("http.response.status_code").as_deref(),
        Some("200")
    );
    // The session's start: a command under the request, its commit under it.
    let command = receiver
        .span(|s| s.parent() == request.id() && s.span.name == "command session")
        .await;
    assert_eq!(command.trace(), TRACE_ID);
    let commit = receiver
        .span(|s| s.parent() == command.id() && s.span.name == "store.commit")
        .await;
    assert_eq!(
        commit.attribute("aggregate.type").as_deref(),
        Some("session")
    );
    // The verification mail: a client span under its registration request.
    let mail = receiver.span(|s| s.span.name == "call smtp").await;
    assert_eq!(mail.attribute("outcome").as_deref(), Some("ok"));
    let registration = receiver.span(|s| s.id() == mail.parent()).await;
    assert_eq!(registration.span.name, "POST /api/v1/auth/register");
    // Projections apply in batches, each a trace of its own.
    let batch = receiver.span(|s| s.span.name == "projection.batch").await;
    assert!(batch.span.parent_span_id.is_empty());

    if !on_sqlite() {
        // The relay's publish links to the command, and the message names
        // the command's span as its parent: the consumer continues it.
        let published = receiver
            .span(|s| {
                s.span.name == "relay.publish"
                    && s.span
                        .links
                        .iter()
                        .any(|l| hex::encode(&l.span_id) == command.id())
            })
            .await;
        assert_ne!(
            published.trace(),
            TRACE_ID,
            "a publish is a trace of its own"
        );
        let session = command.attribute("aggregate.id").unwrap();
        let started = session_start_on_nats(&format!("TEST_{tag}"), &session).await;
        let expected = format!("00-{TRACE_ID}-{}-01", command.id());
        assert_eq!(started.traceparent.as_deref(), Some(expected.as_str()));
        assert_eq!(
            started.envelope["metadata"]["traceparent"],
            expected.as_str()
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn with_traces_off_a_callers_traceparent_reaches_the_event_feed_unchanged() {
    let app = spawn_app().await;
    let service = app.create_account_with_role("service").await;
    let username = unique_name();
    let registered = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("traceparent", given_traceparent())
        .json(&json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let id = body(registered).await["id"].as_str().unwrap().to_owned();
    let page = body(
        app.get_with_token("/api/v1/events?after=0&limit=1000", &service.access_token)
            .await,
    )
    .await;
    let traceparents: HashMap<String, Value> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["aggregate_id"] == id.as_str())
        .map(|e| {
            (
                e["event_type"].as_str().unwrap().to_owned(),
                e["metadata"]["traceparent"].clone(),
            )
        })
        .collect();
    assert_eq!(
        traceparents.get("identity.user.UserRegistered"),
        Some(&Value::from(given_traceparent()))
    );
    // An event of a request that named no trace carries none.
    let untraced = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["aggregate_id"] == service.id.as_str())
        .unwrap();
    assert!(
        untraced["metadata"].get("traceparent").is_none(),
        "{untraced}"
    );
}

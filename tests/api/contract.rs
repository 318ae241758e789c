//! The event contract: docs/events.md shows one complete envelope per event
//! type, every example decodes with the service's own types, the page lists
//! every event type the code can produce, and what the relay really
//! publishes has the documented shape.

use std::collections::BTreeSet;
use std::time::Duration;

use aggregates::{
    Audit, AuditEvent, Conversion, ConversionEvent, Influencer, InfluencerEvent, Ledger,
    LedgerEvent, Referral, ReferralEvent, Session, SessionEvent, User, UserEvent, EVENT_NAMESPACE,
};
use cqrs_es::{Aggregate, DomainEvent};
use identity::config::Config;
use identity::relay::Envelope;
use reqwest::StatusCode;
use serde_json::{json, Map, Value};

use crate::helpers::*;
use crate::nats::{consume, Received};

const EVENTS_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/events.md");

fn events_doc() -> String {
    std::fs::read_to_string(EVENTS_DOC).expect("docs/events.md is readable")
}

/// Every ```json block of the page with the `### <event_type>` heading it
/// stands under; a heading holds at most one example.
fn documented_examples() -> Vec<(String, Value)> {
    let doc = events_doc();
    let mut examples = Vec::new();
    let mut heading: Option<String> = None;
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if let Some(title) = line.strip_prefix("### ") {
            heading = Some(title.trim().to_owned());
        } else if line.starts_with("# ") || line.starts_with("## ") {
            heading = None;
        } else if line.trim_end() == "```json" {
            let block: Vec<&str> = lines
                .by_ref()
                .take_while(|l| l.trim_end() != "```")
                .collect();
            let block = block.join("\n");
            let Some(heading) = heading.take() else {
                panic!("a json example must be the only one under a `### <event_type>` heading:\n{block}");
            };
            let example = serde_json::from_str(&block)
                .unwrap_or_else(|e| panic!("the example of {heading} is not JSON: {e}"));
            examples.push((heading, example));
        }
    }
    examples
}

fn event_types_of(aggregate: &str, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|name| format!("{EVENT_NAMESPACE}.{aggregate}.{name}"))
        .collect()
}

/// Every event type the service can produce, from the domain's own lists.
fn produced_event_types() -> BTreeSet<String> {
    [
        event_types_of(User::TYPE, UserEvent::NAMES),
        event_types_of(Session::TYPE, SessionEvent::NAMES),
        event_types_of(Audit::TYPE, AuditEvent::NAMES),
        event_types_of(Influencer::TYPE, InfluencerEvent::NAMES),
        event_types_of(Referral::TYPE, ReferralEvent::NAMES),
        event_types_of(Conversion::TYPE, ConversionEvent::NAMES),
        event_types_of(Ledger::TYPE, LedgerEvent::NAMES),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The bare event name: the last part of `identity.<aggregate>.<Event>`.
fn event_name(event_type: &str) -> &str {
    event_type.rsplit('.').next().unwrap_or(event_type)
}

/// Decodes the domain event and answers it re-encoded, with its own type
/// and version.
fn reencode<E: DomainEvent>(wrapped: &Value) -> (Value, String, String) {
    let event: E = serde_json::from_value(wrapped.clone())
        .unwrap_or_else(|e| panic!("payload does not decode as a domain event: {e}\n{wrapped}"));
    let json = serde_json::to_value(&event).unwrap();
    (json, event.event_type(), event.event_version())
}

/// Checks one envelope (as JSON) against the contract: it parses as an
/// `Envelope` with nothing left over, its names follow the rules, and its
/// payload is exactly the fields of the domain event it names.
fn decode(json: &Value) -> Envelope {
    let envelope: Envelope = serde_json::from_value(json.clone())
        .unwrap_or_else(|e| panic!("not an envelope: {e}\n{json}"));
    assert_eq!(
        &serde_json::to_value(&envelope).unwrap(),
        json,
        "the envelope has unknown, missing or non-canonical members"
    );
    assert_eq!(
        envelope.event_id.get_version_num(),
        5,
        "event_id is a UUIDv5: {json}"
    );
    let parts: Vec<&str> = envelope.event_type.split('.').collect();
    assert_eq!(parts.len(), 3, "event_type is identity.<aggregate>.<Event>");
    assert_eq!(parts[0], EVENT_NAMESPACE);
    assert_eq!(parts[1], envelope.aggregate_type);

    let name = event_name(&envelope.event_type);
    let mut wrapped = Map::new();
    wrapped.insert(name.to_owned(), envelope.payload.clone());
    let wrapped = Value::Object(wrapped);
    let (reencoded, event_type, event_version) = match envelope.aggregate_type.as_str() {
        t if t == User::TYPE => reencode::<UserEvent>(&wrapped),
        t if t == Session::TYPE => reencode::<SessionEvent>(&wrapped),
        t if t == Audit::TYPE => reencode::<AuditEvent>(&wrapped),
        t if t == Influencer::TYPE => reencode::<InfluencerEvent>(&wrapped),
        t if t == Referral::TYPE => reencode::<ReferralEvent>(&wrapped),
        t if t == Conversion::TYPE => reencode::<ConversionEvent>(&wrapped),
        t if t == Ledger::TYPE => reencode::<LedgerEvent>(&wrapped),
        other => panic!("unknown aggregate_type {other}"),
    };
    assert_eq!(
        reencoded, wrapped,
        "the payload has unknown, missing or non-canonical fields"
    );
    assert_eq!(event_type, envelope.event_type);
    assert_eq!(event_version, envelope.event_version);
    envelope
}

fn keys(object: &Value) -> BTreeSet<String> {
    object
        .as_object()
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_event_type_has_a_documented_example_that_decodes() {
    let examples = documented_examples();
    assert!(!examples.is_empty(), "docs/events.md has no examples");
    let default_prefix = Config::default().relay.subject_prefix;
    for (heading, example) in &examples {
        let envelope = decode(example);
        assert_eq!(&envelope.event_type, heading, "example under {heading}");
        let subject = format!(
            "{default_prefix}.{}.{}",
            envelope.aggregate_type,
            event_name(&envelope.event_type)
        );
        assert_eq!(
            &subject, heading,
            "with the default prefix the subject is the event type"
        );
    }

    let documented: BTreeSet<String> = examples.iter().map(|(h, _)| h.clone()).collect();
    assert_eq!(documented.len(), examples.len(), "one example per type");
    let produced = produced_event_types();
    let undocumented: Vec<_> = produced.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&produced).collect();
    assert!(
        undocumented.is_empty(),
        "event types without an example in docs/events.md: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/events.md documents types the service does not produce: {unknown:?}"
    );
}

#[test]
fn documented_stream_settings_are_the_defaults() {
    let doc = events_doc();
    let relay = Config::default().relay;
    for (variable, default) in [
        ("IDENTITY_NATS_STREAM", relay.stream),
        ("IDENTITY_NATS_SUBJECT_PREFIX", relay.subject_prefix),
        (
            "IDENTITY_NATS_MAX_AGE_SECS",
            relay.max_age.as_secs().to_string(),
        ),
        (
            "IDENTITY_NATS_DUPLICATE_WINDOW_SECS",
            relay.duplicate_window.as_secs().to_string(),
        ),
    ] {
        let row = format!("| `{variable}` | `{default}`");
        assert!(doc.contains(&row), "docs/events.md lacks the row {row}");
    }
}

/// Waits until the relay has published every committed event, then reads
/// them all from the app's own stream through the durable `durable`.
async fn published_events(app: &TestApp, durable: &str) -> Vec<Received> {
    eventually(Duration::from_secs(30), || async {
        let ready = body(app.client.get(app.url("/health/ready")).send().await.ok()?).await;
        (ready["relay_lag"]["events"] == 0).then_some(())
    })
    .await;
    let expected: i64 = on_db!(&app.db, pool => {
    sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(pool)
    .await
    })
    .unwrap();
    let expected = usize::try_from(expected).unwrap();
    let received = consume(
        &crate::helpers::nats_url(),
        &app.config.relay.stream,
        durable,
        expected,
    )
    .await;
    assert_eq!(received.len(), expected, "every committed event arrived");
    received
}

/// Checks every received message against the documented examples: the
/// same members and metadata, a documented type that decodes, and the
/// subject and `Nats-Msg-Id` the page promises. Answers the envelopes.
fn assert_documented_shape(received: &[Received], prefix: &str) -> Vec<Envelope> {
    let examples = documented_examples();
    let top_level: BTreeSet<BTreeSet<String>> = examples.iter().map(|(_, e)| keys(e)).collect();
    let metadata: BTreeSet<BTreeSet<String>> =
        examples.iter().map(|(_, e)| keys(&e["metadata"])).collect();
    assert_eq!(top_level.len(), 1, "every example has the same members");
    assert_eq!(metadata.len(), 1, "every example has the same metadata");
    let documented: BTreeSet<String> = examples.into_iter().map(|(h, _)| h).collect();
    received
        .iter()
        .map(|message| {
            let json = &message.envelope;
            assert!(top_level.contains(&keys(json)), "members of {json}");
            assert!(metadata.contains(&keys(&json["metadata"])), "{json}");
            let envelope = decode(json);
            assert!(documented.contains(&envelope.event_type), "{json}");
            assert_eq!(
                message.subject,
                format!(
                    "{prefix}.{}.{}",
                    envelope.aggregate_type,
                    event_name(&envelope.event_type)
                )
            );
            assert_eq!(
                message.msg_id,
                format!(
                    "{}:{}:{}",
                    envelope.aggregate_type, envelope.aggregate_id, envelope.sequence
                )
            );
            envelope
        })
        .collect()
}

#[tokio::test]
async fn published_envelopes_match_the_documented_shape() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let login = app.login(&account.username, PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let refresh_token = body(login).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refreshed = body(app.refresh(&refresh_token).await).await;
    let logout = app
        .logout(refreshed["refresh_token"].as_str().unwrap())
        .await;
    assert!(logout.status().is_success(), "logout: {}", logout.status());

    let received = published_events(&app, "contract").await;
    assert_documented_shape(&received, &app.config.relay.subject_prefix);
}

#[tokio::test]
async fn program_events_are_published_with_the_documented_envelope() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let service = app.create_account_with_role("service").await;
    // Apply, approved by an admin.
    let (influencer, code) = app.create_influencer(&admin.access_token).await;
    // A user signs up through the code and verifies.
    let (response, email) = app.register_with_code(&code).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let buyer = body(response).await["id"].as_str().unwrap().to_owned();
    let verification = app.code_for(&email).await;
    assert_eq!(
        app.verify_email(&email, &verification).await.status(),
        StatusCode::OK
    );
    // The provider reports a sale of that user, then its refund.
    let external_id = format!("ord-{}", uuid::Uuid::new_v4());
    let occurred_at = chrono::Utc::now();
    let recorded = app
        .admin_post(
            "/api/v1/referrals/conversions",
            &service.access_token,
            Some(json!({
                "external_id": external_id,
                "user_id": buyer,
                "amount_minor": 4_900,
                "currency": "USD",
                "occurred_at": occurred_at.to_rfc3339(),
            })),
        )
        .await;
    assert_eq!(recorded.status(), StatusCode::CREATED);
    assert_eq!(
        body(recorded).await["influencer_id"],
        influencer.id.as_str()
    );
    let refunded = app
        .admin_post(
            &format!("/api/v1/referrals/conversions/{external_id}/refund"),
            &service.access_token,
            None,
        )
        .await;
    assert_eq!(refunded.status(), StatusCode::OK);

    let received = published_events(&app, "program").await;
    let envelopes = assert_documented_shape(&received, &app.config.relay.subject_prefix);
    let published: BTreeSet<(String, String)> = envelopes
        .into_iter()
        .map(|e| (e.event_type, e.aggregate_id))
        .collect();
    for (event_type, aggregate_id) in [
        ("identity.influencer.ApplicationSubmitted", &influencer.id),
        ("identity.influencer.ApplicationApproved", &influencer.id),
        ("identity.referral.SignupAttributed", &buyer),
        ("identity.referral.VerifiedSignupRecorded", &buyer),
        ("identity.conversion.ConversionRecorded", &external_id),
        ("identity.conversion.ConversionRefunded", &external_id),
        ("identity.ledger.EarningsAccrued", &influencer.id),
        ("identity.ledger.EarningsReversed", &influencer.id),
    ] {
        assert!(
            published.contains(&(event_type.to_owned(), aggregate_id.clone())),
            "{event_type} of {aggregate_id} was not published: {published:?}"
        );
    }
}

//! The JSON envelope every published event travels in (documented, with an
//! example per event type, in docs/events.md).

use chrono::{DateTime, Utc};
use projections::StoredEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Namespace for deriving stable event ids from `Nats-Msg-Id`.
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_3c52_8a4e_4b7a_9a51_2f0e_7d3c_1b90);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Stable per event: UUIDv5 of the message id.
    pub event_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// 1-based position within the aggregate's stream.
    pub sequence: i64,
    /// Store-wide position (increasing, with gaps).
    pub position: i64,
    /// Stable namespaced name, e.g. `identity.user.UserRegistered`.
    pub event_type: String,
    pub event_version: String,
    pub occurred_at: DateTime<Utc>,
    /// The event's fields (the body of the event, without its name).
    pub payload: Value,
    pub metadata: EnvelopeMetadata,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeMetadata {
    pub request_id: Option<String>,
    pub actor: Option<String>,
    pub ip: Option<String>,
    /// The W3C `traceparent` of the command that recorded the event (when
    /// it was traced, or its request named one): a consumer continues the
    /// trace from it. NATS messages carry it as a header too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl Envelope {
    pub fn from_stored(event: &StoredEvent) -> Self {
        let meta = |key: &str| {
            event
                .metadata
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        // Stored payloads are `{"EventName": {...fields}}`: keep the fields.
        let payload = match &event.payload {
            Value::Object(map) if map.len() == 1 => {
                map.values().next().cloned().unwrap_or(Value::Null)
            }
            other => other.clone(),
        };
        Self {
            event_id: Uuid::new_v5(&EVENT_ID_NAMESPACE, message_id(event).as_bytes()),
            aggregate_type: event.aggregate_type.clone(),
            aggregate_id: event.aggregate_id.clone(),
            sequence: event.sequence,
            position: event.position,
            event_type: event.event_type.clone(),
            event_version: event.event_version.clone(),
            occurred_at: event.recorded_at,
            payload,
            metadata: EnvelopeMetadata {
                request_id: meta("request_id"),
                actor: meta("actor"),
                ip: meta("ip"),
                traceparent: meta("traceparent"),
            },
        }
    }
}

/// `Nats-Msg-Id`: unique per event, identical on every re-send.
pub fn message_id(event: &StoredEvent) -> String {
    format!(
        "{}:{}:{}",
        event.aggregate_type, event.aggregate_id, event.sequence
    )
}

/// `<prefix>.<aggregate>.<Event>`: the event type with our namespace
/// replaced by the configured prefix (the namespace itself by default).
pub fn subject(prefix: &str, event: &StoredEvent) -> String {
    let name = event
        .event_type
        .rsplit('.')
        .next()
        .unwrap_or(&event.event_type);
    format!("{prefix}.{}.{name}", event.aggregate_type)
}

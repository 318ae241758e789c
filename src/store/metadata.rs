//! Who and what caused an event: stored beside each event, never inside the
//! domain payload.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Whoever issued the command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The W3C `traceparent` of the command that recorded the event, so a
    /// consumer of the event continues its trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// Who issued a command. Stored as text: the account's id, `cli` or
/// `system` (what events have always recorded, so old events read alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Actor {
    /// An account, by its user id (from its access token).
    User(Uuid),
    /// An operator's command (`identity admin ...`, `identity history`).
    Cli,
    /// The service itself, on no one's request.
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(id) => write!(f, "{id}"),
            Self::Cli => f.write_str("cli"),
            Self::System => f.write_str("system"),
        }
    }
}

impl FromStr for Actor {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        match raw {
            "cli" => Ok(Self::Cli),
            "system" => Ok(Self::System),
            id => Uuid::parse_str(id)
                .map(Self::User)
                .map_err(|_| format!("{raw:?} is not an actor")),
        }
    }
}

impl TryFrom<String> for Actor {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        raw.parse()
    }
}

impl From<Actor> for String {
    fn from(actor: Actor) -> Self {
        actor.to_string()
    }
}

impl Metadata {
    /// Who issued the command, as events record it (`by`).
    pub fn by(&self) -> String {
        self.actor
            .map_or_else(|| "unknown".to_owned(), |actor| actor.to_string())
    }

    /// This metadata, naming the current span as the events' trace parent
    /// (kept as it was when there is no trace).
    pub fn traced(&self) -> Self {
        let mut metadata = self.clone();
        if let Some(traceparent) = crate::telemetry::propagation::current_traceparent() {
            metadata.traceparent = Some(traceparent);
        }
        metadata
    }

    pub fn system() -> Self {
        Self {
            actor: Some(Actor::System),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actor_is_stored_as_the_text_events_always_held() {
        let id = Uuid::now_v7();
        for (actor, text) in [
            (Actor::User(id), id.to_string()),
            (Actor::Cli, "cli".to_owned()),
            (Actor::System, "system".to_owned()),
        ] {
            assert_eq!(serde_json::to_value(actor).unwrap(), text.as_str());
            assert_eq!(serde_json::from_value::<Actor>(text.into()).unwrap(), actor);
        }
        assert!("someone".parse::<Actor>().is_err());
    }
}

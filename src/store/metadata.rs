//! Who and what caused an event: stored beside each event, never inside the
//! domain payload.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The user id of whoever issued the command, or `system`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

impl Metadata {
    /// Who issued the command, as events record it (`by`).
    pub fn by(&self) -> String {
        self.actor.clone().unwrap_or_else(|| "unknown".to_owned())
    }

    pub fn system() -> Self {
        Self {
            actor: Some("system".to_owned()),
            ..Self::default()
        }
    }
}

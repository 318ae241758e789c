//! The `Audit` aggregate: who read an account's history, when, and how.
//!
//! Stream id: the id of the user whose history was read (the subject), so
//! one stream lists every read of one account. Reading a history is not an
//! event of the account itself; these events live in their own `audit`
//! streams and the history of a user does not include them (see
//! `src/history.rs` in the service).

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a history was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// `GET /api/v1/admin/users/{id}/history`.
    Api,
    /// `identity history`, straight from the event store.
    Cli,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Cli => "cli",
        }
    }
}

#[derive(Debug, Clone)]
pub enum AuditCommand {
    /// Note that `viewer` (a user id, or `cli`) read the history of
    /// `subject`, as of `as_of` when given.
    RecordHistoryView {
        viewer: String,
        subject: Uuid,
        as_of: Option<DateTime<Utc>>,
        via: Via,
        at: DateTime<Utc>,
    },
}

/// Events of the `Audit` aggregate (`identity.audit.<Event>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AuditEvent {
    HistoryViewed {
        viewer: String,
        subject: Uuid,
        as_of: Option<DateTime<Utc>>,
        via: Via,
        viewed_at: DateTime<Utc>,
    },
}

impl AuditEvent {
    /// Every event name, for whoever must know them all without a value of
    /// each (the contract test of docs/events.md). Kept in step with
    /// [`AuditEvent::name`] by a test.
    pub const NAMES: &'static [&'static str] = &["HistoryViewed"];

    /// The bare event name, without namespace.
    pub fn name(&self) -> &'static str {
        match self {
            Self::HistoryViewed { .. } => "HistoryViewed",
        }
    }
}

impl DomainEvent for AuditEvent {
    fn event_type(&self) -> String {
        format!("{}.audit.{}", crate::EVENT_NAMESPACE, self.name())
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why the `Audit` aggregate refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("a history view needs a viewer")]
    ViewerMissing,
    #[error("this audit stream belongs to another subject")]
    WrongSubject,
}

/// The reads of one account's history. Bounded: only a count and the last
/// read are kept, the reads themselves are the events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    pub subject: Option<Uuid>,
    pub views: u64,
    pub last_viewed_at: Option<DateTime<Utc>>,
}

impl Aggregate for Audit {
    const TYPE: &'static str = "audit";
    type Command = AuditCommand;
    type Event = AuditEvent;
    type Error = AuditError;
    type Services = ();

    async fn handle(
        &mut self,
        command: AuditCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), AuditError> {
        let AuditCommand::RecordHistoryView {
            viewer,
            subject,
            as_of,
            via,
            at,
        } = command;
        if viewer.trim().is_empty() {
            return Err(AuditError::ViewerMissing);
        }
        if self.subject.is_some_and(|known| known != subject) {
            return Err(AuditError::WrongSubject);
        }
        let event = AuditEvent::HistoryViewed {
            viewer,
            subject,
            as_of,
            via,
            viewed_at: at,
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: AuditEvent) {
        match event {
            AuditEvent::HistoryViewed {
                subject, viewed_at, ..
            } => {
                self.subject = Some(subject);
                self.views += 1;
                self.last_viewed_at = Some(viewed_at);
            }
        }
    }
}

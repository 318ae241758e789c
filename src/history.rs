//! Auditor history: one account's events, read straight from the log, and
//! the account as it stood at a given time, rebuilt with the aggregates' own
//! `apply`. Used by `GET /api/v1/admin/users/{id}/history` and by
//! `identity history`.
//!
//! A user's history is its `user` stream plus every `session` stream whose
//! `SessionStarted` names the user, in log order (by position). Secrets never
//! leave: `password_hash` fields are replaced by `"[redacted]"` (the log
//! holds only hashes anyway; refresh token hashes stay, they are SHA-256 of
//! random tokens).
//!
//! Every read is itself recorded, before anything is disclosed, as a
//! `HistoryViewed` event of the subject's `audit` stream. Those reads are
//! *not* part of the user's history: they are not something the account did
//! or had done to it, and including them would make the history grow with
//! every page an auditor reads, so that paging never reaches a stable end.
//! Who read a history is answered from the `audit` streams instead.

pub mod cli;
mod state;

use aggregates::audit::Via;
use aggregates::{Audit, AuditCommand};
use chrono::{DateTime, Utc};
use projections::log::StoredEvent;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

pub use state::AccountState;

use crate::error::AppError;
use crate::store::{Actor, Database, Metadata, Repository};

/// Page size when none is asked for.
pub const DEFAULT_LIMIT: i64 = 100;
/// Largest page size.
pub const MAX_LIMIT: i64 = 500;

/// What replaces a secret in a payload.
const REDACTED: &str = "[redacted]";

/// One page of a user's history, already validated.
#[derive(Debug, Clone)]
pub struct HistoryRequest {
    pub user_id: Uuid,
    /// Only events after this position (0: from the start).
    pub after: i64,
    /// 1..=[`MAX_LIMIT`].
    pub limit: i64,
    /// Only events recorded at or before this time, and the account as it
    /// stood then.
    pub as_of: Option<DateTime<Utc>>,
}

/// Who reads a history, recorded in the `HistoryViewed` event.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub id: Actor,
    pub via: Via,
}

/// A page of a user's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct History {
    pub user_id: Uuid,
    pub events: Vec<HistoryEntry>,
    /// The `after` of the next page; `null` when this page is the last.
    pub next_after: Option<i64>,
    /// The account as of `as_of`; only when `as_of` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<AccountState>,
}

/// One event of a user's history.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub position: i64,
    /// `user` or `session`.
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// When the event was recorded in the log.
    pub occurred_at: DateTime<Utc>,
    /// Who caused it: a user id, `system` or `cli`.
    pub actor: Option<String>,
    pub request_id: Option<String>,
    /// The event as stored, with secrets redacted.
    #[schema(value_type = Object)]
    pub payload: Value,
}

impl From<StoredEvent> for HistoryEntry {
    fn from(event: StoredEvent) -> Self {
        let text = |key: &str| {
            event
                .metadata
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let mut payload = event.payload;
        redact(&mut payload);
        Self {
            actor: text("actor"),
            request_id: text("request_id"),
            position: event.position,
            aggregate_type: event.aggregate_type,
            aggregate_id: event.aggregate_id,
            sequence: event.sequence,
            event_type: event.event_type,
            event_version: event.event_version,
            occurred_at: event.recorded_at,
            payload,
        }
    }
}

/// Replaces every `password_hash` in `value` (in `UserRegistered` today;
/// wherever a future event version puts one).
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if key == "password_hash" {
                    *field = Value::String(REDACTED.to_owned());
                } else {
                    redact(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// An RFC 3339 time (`2026-01-01T12:00:00Z`, `...+02:00`), in UTC.
pub fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Records the read, then answers one page (and the state, with `as_of`).
/// 404 for a user that never registered; nothing is recorded then.
pub async fn view(
    db: &Database,
    audits: &Repository<Audit>,
    request: &HistoryRequest,
    viewer: Viewer,
    metadata: Metadata,
) -> Result<History, AppError> {
    ensure_exists(db, request.user_id).await?;
    record_view(audits, request.user_id, request.as_of, viewer, metadata).await?;
    let (events, next_after) = page(db, request).await?;
    let state = match request.as_of {
        Some(as_of) => Some(state::at(db, request.user_id, as_of).await?),
        None => None,
    };
    Ok(History {
        user_id: request.user_id,
        events,
        next_after,
        state,
    })
}

/// Records one read, then answers the whole history (every page).
pub async fn view_all(
    db: &Database,
    audits: &Repository<Audit>,
    user_id: Uuid,
    as_of: Option<DateTime<Utc>>,
    viewer: Viewer,
    metadata: Metadata,
) -> Result<History, AppError> {
    let mut request = HistoryRequest {
        user_id,
        after: 0,
        limit: MAX_LIMIT,
        as_of,
    };
    let mut history = view(db, audits, &request, viewer, metadata).await?;
    while let Some(after) = history.next_after {
        request.after = after;
        let (more, next_after) = page(db, &request).await?;
        history.events.extend(more);
        history.next_after = next_after;
    }
    Ok(history)
}

async fn ensure_exists(db: &Database, user_id: Uuid) -> Result<(), AppError> {
    if db.user_exists(user_id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

async fn record_view(
    audits: &Repository<Audit>,
    subject: Uuid,
    as_of: Option<DateTime<Utc>>,
    viewer: Viewer,
    mut metadata: Metadata,
) -> Result<(), AppError> {
    metadata.actor = Some(viewer.id);
    let command = AuditCommand::RecordHistoryView {
        viewer: viewer.id.to_string(),
        subject,
        as_of,
        via: viewer.via,
        at: Utc::now(),
    };
    // The command is always well-formed here: a domain error is a bug (500).
    audits
        .execute(&subject.to_string(), command, &metadata)
        .await?;
    Ok(())
}

/// One page, oldest first, and the `after` of the next one if any.
async fn page(
    db: &Database,
    request: &HistoryRequest,
) -> Result<(Vec<HistoryEntry>, Option<i64>), AppError> {
    // One more than asked for tells whether another page follows.
    let mut rows = db
        .user_events(
            request.user_id,
            request.after,
            request.as_of,
            request.limit + 1,
        )
        .await?;
    let more = rows.len() as i64 > request.limit;
    rows.truncate(usize::try_from(request.limit).unwrap_or(0));
    let next_after = if more {
        rows.last().map(|e| e.position)
    } else {
        None
    };
    Ok((
        rows.into_iter().map(HistoryEntry::from).collect(),
        next_after,
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn redact_replaces_password_hashes_at_any_depth() {
        let mut payload = json!({"UserRegistered": {"username": "ada", "password_hash": "$argon2id$x"},
                                 "list": [{"password_hash": "y"}]});
        redact(&mut payload);
        assert_eq!(payload["UserRegistered"]["password_hash"], REDACTED);
        assert_eq!(payload["UserRegistered"]["username"], "ada");
        assert_eq!(payload["list"][0]["password_hash"], REDACTED);
    }

    #[test]
    fn parse_time_accepts_rfc3339_only() {
        assert!(parse_time("2026-01-01T12:00:00Z").is_some());
        assert!(parse_time("2026-01-01T12:00:00.123+02:00").is_some());
        assert!(parse_time("2026-01-01").is_none());
        assert!(parse_time("yesterday").is_none());
    }
}

//! `identity history <user-id|email>`: the whole history of one account,
//! read straight from the event store (no server needed), recorded as a read
//! by viewer `cli`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use aggregates::audit::Via;
use aggregates::values::Email;
use anyhow::{anyhow, Context};
use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use super::{AccountState, History, Viewer};
use crate::error::AppError;
use crate::store::{Actor, Database, Metadata, Repository};

/// How the history is printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per event: position, time, type, actor.
    #[default]
    Table,
    /// The same document as the HTTP API, with every event.
    Json,
}

pub async fn run(
    db: Database,
    user: &str,
    as_of: Option<DateTime<Utc>>,
    format: Format,
) -> anyhow::Result<()> {
    let user_id = resolve(&db, user).await?;
    let audits = Repository::new(db.clone(), Arc::default());
    let viewer = Viewer {
        id: Actor::Cli,
        via: Via::Cli,
    };
    let history =
        match super::view_all(&db, &audits, user_id, as_of, viewer, Metadata::default()).await {
            Ok(history) => history,
            Err(AppError::NotFound) => return Err(anyhow!("no account with id {user_id}")),
            Err(other) => return Err(other).context("reading the history failed"),
        };
    let output = match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&history)?),
        Format::Table => table(&history),
    };
    // The history is the command's output, not a log line.
    std::io::stdout().write_all(output.as_bytes())?;
    Ok(())
}

/// A user id as given, or the id of the account with this email address.
async fn resolve(db: &Database, user: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = Uuid::parse_str(user.trim()) {
        return Ok(id);
    }
    let email = Email::parse(user).map_err(|e| anyhow!("neither a user id nor an email: {e}"))?;
    db.user_id_by_email(email.as_str())
        .await?
        .ok_or_else(|| anyhow!("no account with email {email}"))
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn table(history: &History) -> String {
    let mut out = format!("{:>9}  {:<24}  {:<44}  actor\n", "position", "time", "type");
    for event in &history.events {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{:>9}  {:<24}  {:<44}  {}",
            event.position,
            time(event.occurred_at),
            event.event_type,
            event.actor.as_deref().unwrap_or("-"),
        );
    }
    if let Some(state) = &history.state {
        out.push_str(&state_lines(state));
    }
    out
}

fn state_lines(state: &AccountState) -> String {
    let sessions: Vec<String> = state.sessions_open.iter().map(Uuid::to_string).collect();
    let lock = match (state.locked, state.locked_until) {
        (true, Some(until)) => format!("until {}", time(until)),
        _ => "no".to_owned(),
    };
    format!(
        "\nas of {}\n  status          {}\n  username        {}\n  email           {}\n  email verified  {}\n  roles           {}\n  locked          {}\n  sessions open   {}\n",
        time(state.as_of),
        state.status,
        state.username.as_deref().unwrap_or("-"),
        state.email.as_deref().unwrap_or("-"),
        state.email_verified,
        state.roles.join(","),
        lock,
        if sessions.is_empty() { "-".to_owned() } else { sessions.join(",") },
    )
}

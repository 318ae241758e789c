//! Writes a batch's changes many rows per statement, so a rebuild or a
//! catch-up runs at the database's speed rather than at one round trip per
//! change (a million-account rebuild on PostgreSQL spent half its time
//! idle, waiting on round trips).
//!
//! Only the changes that dominate a log are batched: registrations, email
//! verifications, locks set and cleared (every login clears one), and
//! sessions starting, being used and ending. Each touches
//! exactly one row of its table, found by primary key, and reads nothing
//! else; so changes to *different* rows may be written in any order, and
//! only the order of changes to the same row matters. A change is put in
//! round N when N earlier changes of the batch touch its row; rounds are
//! written in order, and within a round one statement per kind of change
//! writes all of its rows. Any other change is a barrier: everything
//! before it is written first, then it alone, in log order.
//!
//! The statements are multi-row `VALUES` lists, which both dialects read
//! alike (including the `column1, column2, ...` names of a `VALUES` list's
//! columns), so each is written once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use projections::login_lookup::LoginChange;
use projections::user_directory::DirectoryChange;
use projections::user_sessions::SessionChange;
use projections::Change;
use uuid::Uuid;

use super::Writer;

/// Rows per statement: well under SQLite's 32,766 parameters at seven a
/// row.
const ROWS: usize = 500;

/// Binds `$row`'s values for every row of `$rows` and runs `$sql` on the
/// writer's connection.
macro_rules! exec_rows {
    ($writer:expr, $sql:expr, $rows:expr, |$row:ident| $($bind:expr),+ $(,)?) => {
        match $writer {
            Writer::Postgres(conn) => {
                let mut query = sqlx::query($sql);
                for $row in $rows {
                    $(query = query.bind($bind);)+
                }
                query.execute(&mut **conn).await.map(|_| ())
            }
            Writer::Sqlite(conn) => {
                let mut query = sqlx::query($sql);
                for $row in $rows {
                    $(query = query.bind($bind);)+
                }
                query.execute(&mut **conn).await.map(|_| ())
            }
        }
    };
}

type At = DateTime<Utc>;

/// A new `login_lookup` row, with what later changes of the batch set.
struct LoginRow<'a> {
    user_id: &'a Uuid,
    email: &'a String,
    username: &'a String,
    verified: bool,
}

/// A new `user_directory` row, with what later changes of the batch set.
struct DirectoryRow<'a> {
    user_id: &'a Uuid,
    username: &'a String,
    email: &'a String,
    created_at: &'a At,
    verified: bool,
    locked_until: Option<&'a At>,
    updated_at: &'a At,
}

/// A new `user_sessions` row, with what later changes of the batch set.
struct SessionRow<'a> {
    session_id: &'a Uuid,
    user_id: &'a Uuid,
    started_at: &'a At,
    last_used_at: &'a At,
    expires_at: &'a At,
    user_agent: &'a Option<String>,
    ip: &'a Option<String>,
    revoked_at: Option<&'a At>,
}

/// One round's rows, by kind of change. New rows absorb the later changes
/// of the batch to them (a registration verified and logged into within
/// one batch is one insert), so a rebuild writes each row once.
#[derive(Default)]
struct Round<'a> {
    login_new: Vec<LoginRow<'a>>,
    login_verified: Vec<&'a Uuid>,
    directory_new: Vec<DirectoryRow<'a>>,
    directory_verified: Vec<(&'a Uuid, &'a At)>,
    directory_locked: Vec<(&'a Uuid, &'a Option<At>, &'a At)>,
    session_new: Vec<SessionRow<'a>>,
    session_used: Vec<(&'a Uuid, &'a At, &'a At)>,
    session_revoked: Vec<(&'a Uuid, &'a At)>,
}

/// The table a batchable change writes and the row's key; `None` for a
/// change that is not batched.
fn row_of(change: &Change) -> Option<(&'static str, &Uuid)> {
    Some(match change {
        Change::Login(LoginChange::Registered { user_id, .. })
        | Change::Login(LoginChange::EmailVerified { user_id }) => ("login_lookup", user_id),
        Change::Directory(DirectoryChange::Registered { user_id, .. })
        | Change::Directory(DirectoryChange::EmailVerified { user_id, .. })
        | Change::Directory(DirectoryChange::LockedUntil { user_id, .. }) => {
            ("user_directory", user_id)
        }
        Change::Session(SessionChange::Started { session_id, .. })
        | Change::Session(SessionChange::Used { session_id, .. })
        | Change::Session(SessionChange::Revoked { session_id, .. }) => {
            ("user_sessions", session_id)
        }
        _ => return None,
    })
}

impl<'a> Round<'a> {
    /// Adds a change [`row_of`] accepted; the index of the new row when it
    /// inserts one.
    fn push(&mut self, change: &'a Change) -> Option<usize> {
        let new_row = self.push_new(change);
        if new_row.is_none() {
            self.push_update(change);
        }
        new_row
    }

    /// A change that inserts a row: the index of the new row.
    fn push_new(&mut self, change: &'a Change) -> Option<usize> {
        match change {
            Change::Login(LoginChange::Registered {
                user_id,
                email,
                username_normalized,
            }) => {
                self.login_new.push(LoginRow {
                    user_id,
                    email,
                    username: username_normalized,
                    verified: false,
                });
                Some(self.login_new.len() - 1)
            }
            Change::Directory(DirectoryChange::Registered {
                user_id,
                username,
                email,
                at,
            }) => {
                self.directory_new.push(DirectoryRow {
                    user_id,
                    username,
                    email,
                    created_at: at,
                    verified: false,
                    locked_until: None,
                    updated_at: at,
                });
                Some(self.directory_new.len() - 1)
            }
            Change::Session(SessionChange::Started {
                session_id,
                user_id,
                started_at,
                expires_at,
                user_agent,
                ip,
            }) => {
                self.session_new.push(SessionRow {
                    session_id,
                    user_id,
                    started_at,
                    last_used_at: started_at,
                    expires_at,
                    user_agent,
                    ip,
                    revoked_at: None,
                });
                Some(self.session_new.len() - 1)
            }
            _ => None,
        }
    }

    /// A change to a row that exists before this round.
    fn push_update(&mut self, change: &'a Change) {
        match change {
            Change::Login(LoginChange::EmailVerified { user_id }) => {
                self.login_verified.push(user_id)
            }
            Change::Directory(DirectoryChange::EmailVerified { user_id, at }) => {
                self.directory_verified.push((user_id, at))
            }
            Change::Directory(DirectoryChange::LockedUntil { user_id, until, at }) => {
                self.directory_locked.push((user_id, until, at))
            }
            Change::Session(SessionChange::Used {
                session_id,
                at,
                expires_at,
            }) => self.session_used.push((session_id, at, expires_at)),
            Change::Session(SessionChange::Revoked { session_id, at }) => {
                self.session_revoked.push((session_id, at))
            }
            // `row_of` lets no other change in.
            _ => {}
        }
    }

    /// Folds `change` into the new row at `index` (of its table); false if
    /// it is not a change that a new row absorbs.
    fn fold(&mut self, index: usize, change: &'a Change) -> bool {
        match change {
            Change::Login(LoginChange::EmailVerified { .. }) => {
                self.login_new[index].verified = true;
            }
            Change::Directory(DirectoryChange::EmailVerified { at, .. }) => {
                let row = &mut self.directory_new[index];
                row.verified = true;
                row.updated_at = at;
            }
            Change::Directory(DirectoryChange::LockedUntil { until, at, .. }) => {
                let row = &mut self.directory_new[index];
                row.locked_until = until.as_ref();
                row.updated_at = at;
            }
            Change::Session(SessionChange::Used { at, expires_at, .. }) => {
                let row = &mut self.session_new[index];
                row.last_used_at = at;
                row.expires_at = expires_at;
            }
            Change::Session(SessionChange::Revoked { at, .. }) => {
                self.session_new[index].revoked_at = Some(at);
            }
            _ => return false,
        }
        true
    }

    async fn write(&self, w: &mut Writer<'_>) -> Result<(), sqlx::Error> {
        self.write_login(w).await?;
        self.write_directory(w).await?;
        self.write_sessions(w).await
    }

    async fn write_login(&self, w: &mut Writer<'_>) -> Result<(), sqlx::Error> {
        let roles = w.initial_roles();
        for rows in self.login_new.chunks(ROWS) {
            let sql = values(
                w,
                "INSERT INTO login_lookup (user_id, email, username_normalized, email_verified, roles, status) VALUES",
                rows.len(),
                &format!("?, ?, ?, ?, {roles}, 'active'"),
            );
            exec_rows!(
                w,
                &sql,
                rows,
                |r| r.user_id,
                r.email,
                r.username,
                r.verified
            )?;
        }
        for rows in self.login_verified.chunks(ROWS) {
            let sql = format!(
                "UPDATE login_lookup SET email_verified = TRUE WHERE user_id IN ({})",
                placeholders(w, rows.len())
            );
            exec_rows!(w, &sql, rows, |r| *r)?;
        }
        Ok(())
    }

    async fn write_directory(&self, w: &mut Writer<'_>) -> Result<(), sqlx::Error> {
        let roles = w.initial_roles();
        for rows in self.directory_new.chunks(ROWS) {
            let sql = values(
                w,
                "INSERT INTO user_directory (user_id, username, email, email_verified, roles, status, created_at, updated_at, locked_until)
                 SELECT column1, column2, column3, column4, ROLES, 'active', column5, column6, column7 FROM (VALUES",
                rows.len(),
                "?, ?, ?, ?, ?, ?, ?",
            )
            .replace("ROLES", roles)
                + ") AS v";
            exec_rows!(
                w,
                &sql,
                rows,
                |r| r.user_id,
                r.username,
                r.email,
                r.verified,
                r.created_at,
                r.updated_at,
                r.locked_until
            )?;
        }
        for rows in self.directory_verified.chunks(ROWS) {
            let sql = update(
                w,
                "user_directory",
                "user_id",
                "email_verified = TRUE, updated_at = v.column2",
                rows.len(),
                2,
            );
            exec_rows!(w, &sql, rows, |r| r.0, r.1)?;
        }
        for rows in self.directory_locked.chunks(ROWS) {
            let sql = update(
                w,
                "user_directory",
                "user_id",
                "locked_until = v.column2, updated_at = v.column3",
                rows.len(),
                3,
            );
            exec_rows!(w, &sql, rows, |r| r.0, r.1, r.2)?;
        }
        Ok(())
    }

    async fn write_sessions(&self, w: &mut Writer<'_>) -> Result<(), sqlx::Error> {
        for rows in self.session_new.chunks(ROWS) {
            let sql = values(
                w,
                "INSERT INTO user_sessions (session_id, user_id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at) VALUES",
                rows.len(),
                "?, ?, ?, ?, ?, ?, ?, ?",
            );
            exec_rows!(
                w,
                &sql,
                rows,
                |r| r.session_id,
                r.user_id,
                r.started_at,
                r.last_used_at,
                r.expires_at,
                r.user_agent,
                r.ip,
                r.revoked_at
            )?;
        }
        for rows in self.session_used.chunks(ROWS) {
            let sql = update(
                w,
                "user_sessions",
                "session_id",
                "last_used_at = v.column2, expires_at = v.column3",
                rows.len(),
                3,
            );
            exec_rows!(w, &sql, rows, |r| r.0, r.1, r.2)?;
        }
        for rows in self.session_revoked.chunks(ROWS) {
            let sql = update(
                w,
                "user_sessions",
                "session_id",
                "revoked_at = v.column2",
                rows.len(),
                2,
            );
            exec_rows!(w, &sql, rows, |r| r.0, r.1)?;
        }
        Ok(())
    }
}

/// The `n`th parameter (from 1) in the writer's dialect. SQLite gets
/// anonymous `?`: sqlx looks each named parameter up by index, and
/// SQLite's lookup walks the statement's list of names, so thousands of
/// `$N` in one statement cost a quadratic number of steps.
fn parameter(w: &Writer<'_>, n: usize) -> String {
    match w {
        Writer::Postgres(_) => format!("${n}"),
        Writer::Sqlite(_) => "?".to_owned(),
    }
}

/// The parameters `1..=count`, comma-separated.
fn placeholders(w: &Writer<'_>, count: usize) -> String {
    (1..=count)
        .map(|n| parameter(w, n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `head` followed by `rows` rows of `row` (with `?` for each parameter),
/// the parameters numbered in order.
fn values(w: &Writer<'_>, head: &str, rows: usize, row: &str) -> String {
    let mut sql = String::from(head);
    let mut n = 0;
    for i in 0..rows {
        sql.push_str(if i == 0 { " (" } else { ", (" });
        for (index, part) in row.split('?').enumerate() {
            if index > 0 {
                n += 1;
                sql.push_str(&parameter(w, n));
            }
            sql.push_str(part);
        }
        sql.push(')');
    }
    sql
}

/// `UPDATE table SET set FROM (VALUES (key, v2, ...), ...) AS v WHERE
/// table.key = v.column1`.
fn update(w: &Writer<'_>, table: &str, key: &str, set: &str, rows: usize, width: usize) -> String {
    let row = vec!["?"; width].join(", ");
    values(
        w,
        &format!("UPDATE {table} SET {set} FROM (VALUES"),
        rows,
        &row,
    ) + &format!(") AS v WHERE {table}.{key} = v.column1")
}

/// Where a row of the batch stands: the round its next change goes to, and
/// the new row it is (in round 0) if the batch inserts it.
#[derive(Default)]
struct Slot {
    round: usize,
    new: Option<usize>,
}

/// Writes `changes` in order: the batchable ones in rounds, any other
/// alone (see the module's doc).
pub async fn apply_all(w: &mut Writer<'_>, changes: &[&Change]) -> Result<(), sqlx::Error> {
    let mut rounds: Vec<Round<'_>> = Vec::new();
    let mut slots: HashMap<(&'static str, &Uuid), Slot> = HashMap::new();
    for &change in changes {
        let Some(row) = row_of(change) else {
            for round in rounds.drain(..) {
                round.write(w).await?;
            }
            slots.clear();
            super::apply(w, change).await?;
            continue;
        };
        let slot = slots.entry(row).or_default();
        if let Some(index) = slot.new {
            if rounds[0].fold(index, change) {
                continue;
            }
        }
        if rounds.len() <= slot.round {
            rounds.push(Round::default());
        }
        let new = rounds[slot.round].push(change);
        if slot.round == 0 {
            slot.new = new;
        }
        slot.round += 1;
    }
    for round in &rounds {
        round.write(w).await?;
    }
    Ok(())
}

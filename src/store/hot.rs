//! The statements on hot paths, named in one place: the code runs them,
//! and the query-plan tests (`tests/api/query_plans.rs`) ask each backend
//! how it would run them on a seeded store, failing on a scan of the log
//! or a read model, so that a change which makes one grow with the store
//! shows before a user meets it.

use chrono::{DateTime, Utc};
use projections::Cursor;
use uuid::Uuid;

use super::directory::{self, Key, Status};
use super::{postgres, sqlite, Database, StoreError};

/// The account behind a login by email.
pub const LOGIN_BY_EMAIL: &str =
    "SELECT user_id, email, email_verified, roles FROM login_lookup WHERE email = $1";
/// The account behind a login by username (normalized).
pub const LOGIN_BY_USERNAME: &str =
    "SELECT user_id, email, email_verified, roles FROM login_lookup WHERE username_normalized = $1";
/// The account behind a sign-in by verified phone (E.164).
pub const LOGIN_BY_PHONE: &str =
    "SELECT user_id, email, email_verified, roles FROM login_lookup WHERE phone = $1";
/// What a refresh needs of the account: whether it may still refresh, and
/// the roles the next access token carries (`accounts::refresh`).
pub const ACCOUNT_FOR_REFRESH: &str =
    "SELECT status, admin_locked_until, roles FROM login_lookup WHERE user_id = $1";
/// `GET /me`.
pub const PROFILE: &str =
    "SELECT user_id AS id, username, email, email_verified, phone, phone_verified,
            display_name, locale, roles, created_at
       FROM user_directory WHERE user_id = $1";
/// `GET /auth/sessions` (`$2`: now).
pub const SESSIONS_OF_USER: &str =
    "SELECT session_id AS id, created_at, last_used_at, user_agent, ip FROM user_sessions
      WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
      ORDER BY created_at DESC";

/// A value bound to a statement's parameter.
#[derive(Debug, Clone)]
pub enum Param {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
    NoTime,
    NoText,
    Id(Uuid),
}

/// A hot statement with sample parameters.
#[derive(Debug, Clone)]
pub struct Statement {
    pub name: String,
    pub sql: String,
    pub params: Vec<Param>,
}

/// Values from a seeded store to run the statements with.
pub struct Sample {
    pub user_id: Uuid,
    pub email: String,
    pub username: String,
    /// Somewhere in the middle of the log.
    pub cursor: Cursor,
}

/// Every hot statement of `db`'s backend, with `sample`'s values.
pub fn statements(db: &Database, sample: &Sample) -> Vec<Statement> {
    use Param::*;
    let now = Utc::now();
    let id = Id(sample.user_id);
    let mut all = vec![
        statement(
            "login by email",
            LOGIN_BY_EMAIL,
            vec![Text(sample.email.clone())],
        ),
        statement(
            "login by username",
            LOGIN_BY_USERNAME,
            vec![Text(sample.username.clone())],
        ),
        statement(
            "login by phone",
            LOGIN_BY_PHONE,
            vec![Text("+4915123456789".to_owned())],
        ),
        statement(
            "account for a refresh",
            ACCOUNT_FOR_REFRESH,
            vec![id.clone()],
        ),
        statement("profile", PROFILE, vec![id.clone()]),
        statement(
            "sessions of a user",
            SESSIONS_OF_USER,
            vec![id.clone(), Time(now)],
        ),
    ];
    all.extend(log_statements(db, sample));
    all.extend(admin_statements(db, sample, now));
    all
}

/// Tailing the log and reading one account's history, in the backend's
/// dialect.
fn log_statements(db: &Database, sample: &Sample) -> Vec<Statement> {
    use Param::*;
    let mut all = Vec::new();
    let user = sample.user_id.to_string();
    match db {
        Database::Postgres(_) => {
            let tail = vec![
                Text(sample.cursor.tx_id.to_string()),
                Int(sample.cursor.position),
                Int(500),
                NoText,
            ];
            all.push(statement(
                "tail of the log",
                &postgres::log::read_sql(),
                tail,
            ));
            let history = vec![Text(user), Int(0), NoTime, Int(100)];
            all.push(statement(
                "history",
                &postgres::log::user_events_sql(),
                history,
            ));
        }
        Database::Sqlite(_) => {
            let tail = vec![Int(sample.cursor.position), NoText, Int(500)];
            all.push(statement("tail of the log", &sqlite::log::read_sql(), tail));
            let history = vec![Text(user), Int(0), NoTime, Int(100)];
            all.push(statement(
                "history",
                &sqlite::log::user_events_sql(),
                history,
            ));
        }
    }
    all
}

/// Each shape of admin search, its own statement.
fn admin_statements(db: &Database, sample: &Sample, now: DateTime<Utc>) -> Vec<Statement> {
    use Param::*;
    let mut all = Vec::new();
    let epoch = Time(DateTime::<Utc>::UNIX_EPOCH);
    let prefix = |p: &str| {
        vec![
            Time(now),
            Int(21),
            Text(p.to_owned()),
            Text(format!("{p}\u{10FFFF}")),
            Text(String::new()),
        ]
    };
    let shapes = [
        (
            "admin list",
            Key::Created,
            None,
            vec![Time(now), Int(21), epoch.clone(), Id(Uuid::nil())],
        ),
        (
            "admin list of a status",
            Key::Created,
            Some(Status::Deactivated),
            vec![Time(now), Int(21), epoch.clone(), Id(Uuid::nil())],
        ),
        (
            "admin list of locked accounts",
            Key::LockedUntil,
            None,
            vec![Time(now), Int(21), epoch, Id(Uuid::nil())],
        ),
        (
            "admin search by email",
            Key::Email(String::new()),
            None,
            prefix(&sample.email[..1]),
        ),
        (
            "admin search by username",
            Key::Username(String::new()),
            None,
            prefix(&sample.username[..1]),
        ),
    ];
    for (name, key, status, params) in shapes {
        all.push(statement(
            name,
            &directory::statement(db, &key, status),
            params,
        ));
    }
    all
}

fn statement(name: &str, sql: &str, params: Vec<Param>) -> Statement {
    Statement {
        name: name.to_owned(),
        sql: sql.to_owned(),
        params,
    }
}

/// Binds `$params` to `$query` in order.
macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                Param::Text(text) => query.bind(text),
                Param::Int(n) => query.bind(n),
                Param::Time(at) => query.bind(at),
                Param::NoTime => query.bind(None::<DateTime<Utc>>),
                Param::NoText => query.bind(None::<String>),
                Param::Id(id) => query.bind(id),
            };
        }
        query
    }};
}

/// How the backend runs `statement`. On PostgreSQL: the generic plan (the
/// one a prepared statement settles on after a few executions, whatever
/// the parameters; the old admin search and history went wrong only in
/// it), executed (`ANALYZE`, so rows a node read and threw away show) with
/// sequential scans discouraged (so one in the plan means no index serves
/// the statement), as JSON. On SQLite: the query plan's lines.
pub async fn explain(db: &Database, statement: &Statement) -> Result<String, StoreError> {
    match db {
        Database::Postgres(pool) => {
            let mut conn = pool.acquire().await?;
            let literals: Vec<String> = statement.params.iter().map(literal).collect();
            for sql in [
                "SET enable_seqscan = off".to_owned(),
                "SET plan_cache_mode = force_generic_plan".to_owned(),
                format!("PREPARE hot_statement AS {}", statement.sql),
            ] {
                sqlx::query(&sql).execute(&mut *conn).await?;
            }
            let explain = format!(
                "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE hot_statement({})",
                literals.join(", ")
            );
            let plan: Result<serde_json::Value, _> =
                sqlx::query_scalar(&explain).fetch_one(&mut *conn).await;
            for sql in [
                "DEALLOCATE hot_statement",
                "RESET enable_seqscan",
                "RESET plan_cache_mode",
            ] {
                sqlx::query(sql).execute(&mut *conn).await?;
            }
            Ok(plan?.to_string())
        }
        Database::Sqlite(pool) => {
            let sql = format!("EXPLAIN QUERY PLAN {}", statement.sql);
            let rows: Vec<(i64, i64, i64, String)> =
                bind_all!(sqlx::query_as(&sql), &statement.params)
                    .fetch_all(pool)
                    .await?;
            Ok(rows
                .into_iter()
                .map(|(_, _, _, detail)| detail)
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }
}

/// A parameter as an SQL literal, for `EXECUTE` (sample values only).
fn literal(param: &Param) -> String {
    match param {
        Param::Text(text) => format!("'{}'", text.replace('\'', "''")),
        Param::Int(n) => n.to_string(),
        Param::Time(at) => format!("'{}'::timestamptz", at.to_rfc3339()),
        Param::NoTime => "NULL::timestamptz".to_owned(),
        Param::NoText => "NULL::text".to_owned(),
        Param::Id(id) => format!("'{id}'::uuid"),
    }
}

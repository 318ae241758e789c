//! The hot statements (`identity::store::hot`) are served by indexes on
//! both backends: on a seeded store, each backend's plan for each of them
//! scans no table of the log or the read models from end to end, and no
//! node reads rows only to throw them away. A statement that would grow
//! with the store fails here first.
//!
//! What this cannot see: a plan PostgreSQL only chooses once the tables are
//! large, by its statistics (the history's sessions branch as `IN (...)
//! ORDER BY position` was fine here and walked the log at 6M events). That
//! is what `bench scale` at 1M accounts is for; the statements are written
//! so that no plan has the choice (see `store::postgres::log`).

use aggregates::session::SessionCommand;
use aggregates::values::TokenHash;
use aggregates::values::{Email, Username, UsernamePolicy};
use aggregates::{Session, User, UserCommand};
use chrono::Utc;
use cqrs_es::Aggregate as _;
use identity::store::hot::{self, Sample};
use identity::store::import::NewStream;
use identity::store::{Database, Metadata};
use projections::Cursor;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::*;

/// Tables whose full scan would grow with the store.
const TRACKED: [&str; 6] = [
    "events",
    "snapshots",
    "unique_claims",
    "login_lookup",
    "user_directory",
    "user_sessions",
];

const ACCOUNTS: usize = 300;

/// One migrated database per backend, seeded with registered, verified
/// accounts and its projections rebuilt; a sample account of each.
async fn seeded() -> (Vec<(&'static str, Database, Sample)>, tempfile::TempDir) {
    let (backends, dir) = crate::store_conformance::backends().await;
    let mut seeded = Vec::new();
    for (name, db) in backends {
        let sample = seed(&db).await;
        identity::cli::rebuild_all(db.clone(), &["all".to_owned()])
            .await
            .unwrap();
        if let Some(pool) = db.postgres() {
            sqlx::query("ANALYZE").execute(pool).await.unwrap();
        }
        // The plans of a connection that has just built an index follow
        // the row count it saw while building (300 here: a scan is
        // cheaper), not SQLite's defaults; the server's connections, opened
        // after, use the defaults. Explain on fresh connections, as they do.
        let db = match db {
            Database::Sqlite(_) => crate::store_conformance::open_sqlite(&dir).await,
            postgres => postgres,
        };
        seeded.push((name, db, sample));
    }
    (seeded, dir)
}

/// Imports [`ACCOUNTS`] registered and verified accounts, each with a
/// session; the sample is the account in the middle.
async fn seed(db: &Database) -> Sample {
    let metadata = Metadata::system();
    let mut streams = Vec::new();
    let mut sessions = Vec::new();
    for _ in 0..ACCOUNTS {
        let user_id = Uuid::now_v7();
        let name = unique_name();
        let sink = cqrs_es::event_sink::EventSink::default();
        let mut user = User::default();
        let commands = [
            UserCommand::RegisterUser {
                user_id,
                username: Username::parse(&name, &UsernamePolicy::default()).unwrap(),
                email: Email::parse(&format!("{name}@example.com")).unwrap(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".to_owned(),
                at: Utc::now(),
                code_expires_at: Utc::now(),
            },
            UserCommand::VerifyEmail { at: Utc::now() },
        ];
        for command in commands {
            user.handle(command, &(), &sink).await.unwrap();
        }
        streams.push((user_id, name, sink.collect().await, user));
        let sink = cqrs_es::event_sink::EventSink::default();
        let mut session = Session::default();
        let start = SessionCommand::StartSession {
            session_id: Uuid::now_v7(),
            user_id,
            refresh_token_hash: TokenHash::from_hex("00".repeat(32)),
            user_agent: None,
            ip: None,
            amr: vec!["pwd".to_owned()],
            at: Utc::now(),
            expires_at: Utc::now() + chrono::Duration::days(1),
        };
        session.handle(start, &(), &sink).await.unwrap();
        let id = session.id.unwrap().to_string();
        sessions.push((id, sink.collect().await, session));
    }
    let ids: Vec<String> = streams.iter().map(|(id, ..)| id.to_string()).collect();
    let new: Vec<NewStream<'_, User>> = streams
        .iter()
        .zip(&ids)
        .map(|((_, _, events, state), id)| NewStream {
            id,
            events,
            state,
            metadata: &metadata,
        })
        .collect();
    db.import(&new).await.unwrap();
    let new: Vec<NewStream<'_, Session>> = sessions
        .iter()
        .map(|(id, events, state)| NewStream {
            id,
            events,
            state,
            metadata: &metadata,
        })
        .collect();
    db.import(&new).await.unwrap();
    let (user_id, name, _, _) = &streams[ACCOUNTS / 2];
    let middle = db
        .read_after(Cursor::default(), ACCOUNTS as i64, None)
        .await
        .unwrap();
    Sample {
        user_id: *user_id,
        email: format!("{name}@example.com"),
        username: name.clone(),
        cursor: middle.last().map(|e| e.cursor()).unwrap_or_default(),
    }
}

/// Rows one node may read and throw away: a plan that walks the log or a
/// read model and filters (instead of finding its rows through an index)
/// throws away most of the seeded store.
const THROWN_AWAY: i64 = ACCOUNTS as i64;

/// What in a PostgreSQL JSON plan (executed) grows with the store:
/// sequential scans of tracked tables, index scans of them with no index
/// condition (a walk of a whole index), and any node that read more than
/// [`THROWN_AWAY`] rows only to filter them out.
fn postgres_full_scans(plan: &Value, found: &mut Vec<String>) {
    let node = plan["Node Type"].as_str().unwrap_or_default();
    if let Some(relation) = plan.get("Relation Name").and_then(Value::as_str) {
        let tracked = TRACKED.contains(&relation);
        let full =
            node == "Seq Scan" || (node.starts_with("Index") && plan.get("Index Cond").is_none());
        if tracked && full {
            found.push(format!("{node} on {relation}"));
        }
    }
    let thrown: i64 = ["Rows Removed by Filter", "Rows Removed by Join Filter"]
        .iter()
        .filter_map(|key| plan.get(*key).and_then(Value::as_i64))
        .sum();
    if thrown > THROWN_AWAY {
        found.push(format!("{node} threw away {thrown} rows"));
    }
    for key in ["Plan", "Plans"] {
        match plan.get(key) {
            Some(Value::Array(children)) => {
                children.iter().for_each(|c| postgres_full_scans(c, found))
            }
            Some(child @ Value::Object(_)) => postgres_full_scans(child, found),
            _ => {}
        }
    }
}

/// The lines of a SQLite query plan that scan a tracked table (with or
/// without an index: `SCAN` reads it all, `SEARCH` a range).
fn sqlite_full_scans(plan: &str) -> Vec<String> {
    plan.lines()
        .filter(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            words.first() == Some(&"SCAN") && words.get(1).is_some_and(|t| TRACKED.contains(t))
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn no_hot_statement_scans_the_log_or_a_read_model_on_either_backend() {
    let (seeded, _dir) = seeded().await;
    let mut offenders = Vec::new();
    for (backend, db, sample) in &seeded {
        let statements = hot::statements(db, sample);
        assert!(statements.len() >= 12, "{backend}: {statements:?}");
        for statement in statements {
            let plan = hot::explain(db, &statement).await.unwrap_or_else(|error| {
                panic!("{backend}: cannot explain {}: {error:?}", statement.name)
            });
            let scans = match db {
                Database::Postgres(_) => {
                    let mut scans = Vec::new();
                    let json: Value = serde_json::from_str(&plan).unwrap();
                    postgres_full_scans(&json[0]["Plan"], &mut scans);
                    scans
                }
                Database::Sqlite(_) => sqlite_full_scans(&plan),
            };
            if !scans.is_empty() {
                offenders.push(format!("{backend}: {}: {scans:?}\n{plan}", statement.name));
            }
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n\n"));
}

#[test]
fn the_checks_see_a_full_scan_when_there_is_one() {
    let plan: Value = serde_json::json!({"Node Type": "Limit", "Plans": [
        {"Node Type": "Index Scan", "Relation Name": "events", "Index Name": "events_position_key"},
        {"Node Type": "Seq Scan", "Relation Name": "user_directory"},
        {"Node Type": "Index Scan", "Relation Name": "events", "Index Cond": "(x = 1)"},
        {"Node Type": "Index Scan", "Relation Name": "events", "Index Cond": "(p > 0)",
         "Rows Removed by Filter": 5000},
    ]});
    let mut found = Vec::new();
    postgres_full_scans(&plan, &mut found);
    assert_eq!(
        found,
        [
            "Index Scan on events",
            "Seq Scan on user_directory",
            "Index Scan threw away 5000 rows"
        ]
    );
    let plan =
        "SEARCH events USING INDEX e (aggregate_type=?)\nSCAN user_directory USING INDEX x\nSCAN v";
    assert_eq!(
        sqlite_full_scans(plan),
        ["SCAN user_directory USING INDEX x"]
    );
}

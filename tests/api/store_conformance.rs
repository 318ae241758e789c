//! The store conformance suite: what every storage backend must guarantee,
//! run on each (a PostgreSQL database and a SQLite file of its own per
//! test). A failure names the backend.

use std::sync::Arc;

use aggregates::audit::{AuditCommand, Via};
use aggregates::values::{Email, Username, UsernamePolicy};
use aggregates::{Audit, User, UserCommand};
use chrono::Utc;
use identity::store::{CommandError, Database, Metadata, Repository};
use projections::Cursor;
use uuid::Uuid;

use crate::helpers::*;

/// One empty, migrated database per backend; the directory holding the
/// SQLite file lives as long as the list.
pub async fn backends() -> (Vec<(&'static str, Database)>, tempfile::TempDir) {
    let (_, url) = create_database().await;
    let postgres = Database::from(sqlx::PgPool::connect(&url).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let sqlite = open_sqlite(&dir).await;
    for db in [&postgres, &sqlite] {
        db.migrate().await.unwrap();
    }
    (vec![("postgres", postgres), ("sqlite", sqlite)], dir)
}

/// The SQLite file of `backends()` in `dir`, opened (again).
pub async fn open_sqlite(dir: &tempfile::TempDir) -> Database {
    Database::open_sqlite(
        &dir.path().join("identity.db"),
        8,
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap()
}

/// A read of `subject`'s history: one event on the audit stream named
/// after the subject.
fn view(subject: Uuid) -> AuditCommand {
    AuditCommand::RecordHistoryView {
        viewer: "cli".to_owned(),
        subject,
        as_of: None,
        via: Via::Cli,
        at: Utc::now(),
    }
}

/// Every event's position, in the order a reader must see them.
async fn whole_log(db: &Database) -> Vec<i64> {
    let (mut cursor, mut seen) = (Cursor::default(), Vec::new());
    loop {
        let batch = db.read_after(cursor, 1_000, None).await.unwrap();
        let Some(last) = batch.last() else {
            return seen;
        };
        cursor = last.cursor();
        seen.extend(batch.iter().map(|e| e.position));
    }
}

/// The whole log once it holds `count` events. On PostgreSQL the tail reads
/// below the cluster's oldest open transaction, which another test's may
/// hold back for a moment after our commits.
async fn settled_log(db: &Database, count: usize) -> Vec<i64> {
    crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        let log = whole_log(db).await;
        (log.len() == count).then_some(log)
    })
    .await
}

#[tokio::test]
async fn writers_racing_on_one_stream_all_commit_and_leave_no_hole() {
    let (backends, _dir) = backends().await;
    let subject = Uuid::new_v4();
    let stream = subject.to_string();
    for (backend, db) in backends {
        // A repository of its own per writer: no turn-taking within the
        // instance, so they really race and the losers retry.
        let writers = (0..20).map(|_| {
            let repository: Repository<Audit> = Repository::new(db.clone(), Arc::default());
            let stream = stream.clone();
            async move {
                repository
                    .execute(&stream, view(subject), &Metadata::system())
                    .await
                    .map(|_| ())
            }
        });
        let outcomes = futures_util::future::join_all(writers).await;
        assert!(
            outcomes.iter().all(Result::is_ok),
            "{backend}: {outcomes:?}"
        );
        let repository: Repository<Audit> = Repository::new(db.clone(), Arc::default());
        let (_, sequence) = repository.load(&stream).await.unwrap();
        assert_eq!(sequence, 20, "{backend}");
        settled_log(&db, 20).await;
    }
}

#[tokio::test]
async fn a_command_from_a_state_the_store_has_moved_past_runs_again_on_the_stored_one() {
    use aggregates::user::LockoutPolicy;
    use identity::store::Start;
    let (backends, _dir) = backends().await;
    for (backend, db) in backends {
        let audits: Repository<Audit> = Repository::new(db.clone(), Arc::default());
        let subject = Uuid::new_v4();
        let stream = subject.to_string();
        let system = Metadata::system();
        let first = audits
            .execute(&stream, view(subject), &system)
            .await
            .unwrap();
        let from_first = audits
            .execute_from(&stream, first.start(), view(subject), &system)
            .await
            .unwrap();
        assert_eq!(from_first.sequence, 2, "{backend}: known and current");
        audits
            .execute(&stream, view(subject), &system)
            .await
            .unwrap();
        // `first` is two commits behind: the commit conflicts, and the
        // command runs on the loaded stream.
        let stale = audits
            .execute_from(&stream, first.start(), view(subject), &system)
            .await
            .unwrap();
        assert_eq!(stale.sequence, 4, "{backend}");
        assert_eq!(audits.load(&stream).await.unwrap().1, 4, "{backend}");

        // A known state that refuses the command: an empty stream is
        // assumed, but an account is stored under the id.
        let email = Email::parse(&format!("{}@example.com", unique_name())).unwrap();
        let (id, events, state) = registered_stream(&email).await;
        let imported = identity::store::import::NewStream {
            id: &id,
            events: &events,
            state: &state,
            metadata: &system,
        };
        db.import(&[imported]).await.unwrap();
        let users: Repository<User> = Repository::new(db.clone(), Arc::default());
        let check = UserCommand::StartPasswordCheck {
            at: Utc::now(),
            policy: LockoutPolicy::default(),
        };
        let started = users
            .execute_from(&id, Start::new_stream(), check, &system)
            .await
            .unwrap();
        assert_eq!(started.sequence, events.len() as i64 + 1, "{backend}");
        assert_eq!(started.state.lockout.pending_checks.len(), 1, "{backend}");
    }
}

#[tokio::test]
async fn twenty_concurrent_claims_of_one_email_let_exactly_one_win() {
    let (backends, _dir) = backends().await;
    let email = Email::parse(&format!("{}@example.com", unique_name())).unwrap();
    for (backend, db) in backends {
        let writers = (0..20).map(|_| {
            let repository: Repository<User> = Repository::new(db.clone(), Arc::default());
            let user_id = Uuid::new_v4();
            let command = UserCommand::RegisterUser {
                user_id,
                username: Username::parse(&unique_name(), &UsernamePolicy::default()).unwrap(),
                email: email.clone(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".to_owned(),
                at: Utc::now(),
                code_expires_at: Utc::now(),
            };
            async move {
                repository
                    .execute(&user_id.to_string(), command, &Metadata::system())
                    .await
                    .map(|_| ())
            }
        });
        let outcomes = futures_util::future::join_all(writers).await;
        let won = outcomes.iter().filter(|o| o.is_ok()).count();
        let claimed = outcomes
            .iter()
            .filter(|o| matches!(o, Err(CommandError::Claimed(_))))
            .count();
        assert_eq!((won, claimed), (1, 19), "{backend}: {outcomes:?}");
        // The losers wrote nothing: one registration's events, no more.
        let types: Vec<String> = db
            .read_after(Cursor::default(), 1_000, None)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        assert_eq!(
            types
                .iter()
                .filter(|t| t.ends_with("UserRegistered"))
                .count(),
            1,
            "{backend}: {types:?}"
        );
    }
}

#[tokio::test]
async fn a_tailer_never_skips_or_repeats_an_event_while_writers_commit() {
    let (backends, _dir) = backends().await;
    for (backend, db) in backends {
        let writers = futures_util::future::join_all((0..8).map(|_| {
            let repository: Repository<Audit> = Repository::new(db.clone(), Arc::default());
            async move {
                let subject = Uuid::new_v4();
                for _ in 0..10 {
                    repository
                        .execute(&subject.to_string(), view(subject), &Metadata::system())
                        .await
                        .unwrap();
                }
            }
        }));
        let tailer = async {
            let (mut cursor, mut seen) = (Cursor::default(), Vec::new());
            while seen.len() < 80 {
                let batch = db.read_after(cursor, 7, None).await.unwrap();
                if let Some(last) = batch.last() {
                    cursor = last.cursor();
                }
                seen.extend(batch.iter().map(|e| e.position));
                if batch.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
            }
            seen
        };
        let (_, seen) = tokio::join!(writers, tailer);
        assert_eq!(seen, whole_log(&db).await, "{backend}");
        let mut unique = seen.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 80, "{backend}: an event was read twice");
    }
}

#[tokio::test]
async fn a_reader_resumes_after_the_position_it_names() {
    let (backends, _dir) = backends().await;
    for (backend, db) in backends {
        let repository: Repository<Audit> = Repository::new(db.clone(), Arc::default());
        let subject = Uuid::new_v4();
        for _ in 0..5 {
            repository
                .execute(&subject.to_string(), view(subject), &Metadata::system())
                .await
                .unwrap();
        }
        let log = settled_log(&db, 5).await;
        let cursor = db.cursor_at(log[1]).await.unwrap().unwrap();
        let rest: Vec<i64> = db
            .read_after(cursor, 100, None)
            .await
            .unwrap()
            .iter()
            .map(|e| e.position)
            .collect();
        assert_eq!(rest, log[2..], "{backend}");
        assert_eq!(db.cursor_at(0).await.unwrap(), Some(Cursor::default()));
        assert_eq!(db.cursor_at(999_999).await.unwrap(), None, "{backend}");
        let audits = db
            .read_after(Cursor::default(), 100, Some("identity.audit."))
            .await
            .unwrap();
        assert_eq!(audits.len(), 5, "{backend}");
        let none = db
            .read_after(Cursor::default(), 100, Some("identity.user."))
            .await
            .unwrap();
        assert!(none.is_empty(), "{backend}");
    }
}

#[tokio::test]
async fn a_code_is_taken_once_when_right_and_wrong_tries_are_counted_to_the_limit() {
    use identity::store::codes::Taken;
    let (backends, _dir) = backends().await;
    let ttl = std::time::Duration::from_secs(60);
    for (backend, db) in backends {
        db.put_code("test", "alice", b"right", ttl).await.unwrap();
        let wrong = db
            .take_code("test", "alice", 2, |mac| mac == b"other")
            .await;
        assert!(matches!(wrong, Ok(Taken::Wrong)), "{backend}: {wrong:?}");
        let right = db
            .take_code("test", "alice", 2, |mac| mac == b"right")
            .await;
        let Ok(Taken::Code(code)) = right else {
            panic!("{backend}: {right:?}");
        };
        assert_eq!(code.failed_attempts, 1, "{backend}");
        let again = db.take_code("test", "alice", 2, |_| true).await;
        assert!(matches!(again, Ok(Taken::Missing)), "{backend}: {again:?}");
        // Put back, one more wrong try reaches the limit: even the right
        // code is refused, and a new code starts afresh.
        db.restore_code("test", "alice", &code).await.unwrap();
        db.take_code("test", "alice", 2, |_| false).await.unwrap();
        let exhausted = db.take_code("test", "alice", 2, |_| true).await;
        assert!(
            matches!(exhausted, Ok(Taken::Exhausted)),
            "{backend}: {exhausted:?}"
        );
        db.put_code("test", "alice", b"new", ttl).await.unwrap();
        let fresh = db.take_code("test", "alice", 2, |mac| mac == b"new").await;
        assert!(matches!(fresh, Ok(Taken::Code(_))), "{backend}: {fresh:?}");
        // An expired code is as good as none.
        db.put_code("test", "bob", b"right", std::time::Duration::ZERO)
            .await
            .unwrap();
        let expired = db.take_code("test", "bob", 2, |_| true).await;
        assert!(
            matches!(expired, Ok(Taken::Missing)),
            "{backend}: {expired:?}"
        );
    }
}

#[tokio::test]
async fn a_cooldown_refuses_a_second_start_until_it_ends_and_hits_count_per_window() {
    let (backends, _dir) = backends().await;
    for (backend, db) in backends {
        let minute = std::time::Duration::from_secs(60);
        assert_eq!(
            db.start_cooldown("k", minute).await.unwrap(),
            None,
            "{backend}"
        );
        let left = db.start_cooldown("k", minute).await.unwrap().unwrap();
        assert!((1..=60).contains(&left.as_secs()), "{backend}: {left:?}");
        let short = std::time::Duration::from_millis(50);
        assert_eq!(db.start_cooldown("s", short).await.unwrap(), None);
        tokio::time::sleep(std::time::Duration::from_millis(80)).await;
        // Restarted for a minute: nothing below may run out by chance.
        assert_eq!(
            db.start_cooldown("s", minute).await.unwrap(),
            None,
            "{backend}"
        );

        let hour = std::time::Duration::from_secs(3600);
        let hits: Vec<i32> = futures_util::future::join_all(
            (0..10).map(|_| async { db.count_hit("ip", hour).await.unwrap().0 }),
        )
        .await;
        let mut sorted = hits.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..=10).collect::<Vec<_>>(), "{backend}: {hits:?}");
        let (_, reset) = db.count_hit("ip", hour).await.unwrap();
        assert!((0.0..=3600.0).contains(&reset), "{backend}: {reset}");
        assert_eq!(db.count_hit("other", hour).await.unwrap().0, 1, "{backend}");
        assert_eq!(db.prune_expired().await.unwrap(), 0, "{backend}");
        // What ran out goes: a short cooldown and a code; the rest stays.
        let ms = std::time::Duration::from_millis(1);
        assert_eq!(db.start_cooldown("t", ms).await.unwrap(), None);
        db.put_code("p", "gone", b"mac", ms).await.unwrap();
        db.put_code("p", "live", b"mac", hour).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(db.prune_expired().await.unwrap(), 2, "{backend}");
        assert_eq!(db.prune_expired().await.unwrap(), 0, "{backend}");
        assert!(matches!(
            db.take_code("p", "live", 5, |_| true).await.unwrap(),
            identity::store::codes::Taken::Code(_)
        ));
    }
}

#[tokio::test]
async fn signing_keys_are_created_once_however_many_start_together() {
    use identity::store::keys::StoredKey;
    use identity::store::StoreError;
    let (backends, _dir) = backends().await;
    for (backend, db) in backends {
        let starts = (0..5).map(|i| {
            let db = db.clone();
            async move {
                // As the key ring does: a key only when none is published.
                db.signing_keys_or_create(|published| {
                    let first = StoredKey {
                        kid: format!("kid-{i}"),
                        algorithm: "EdDSA".into(),
                        public_key: vec![i],
                        sealed: vec![i],
                        created_at: chrono::Utc::now(),
                        activates_at: None,
                        retired_at: None,
                    };
                    let made = if published.is_empty() {
                        vec![first]
                    } else {
                        vec![]
                    };
                    Ok::<_, StoreError>(made)
                })
                .await
                .unwrap()
            }
        });
        let rings = futures_util::future::join_all(starts).await;
        let kids: Vec<&str> = rings.iter().map(|keys| keys[0].kid.as_str()).collect();
        assert!(
            kids.iter().all(|kid| *kid == kids[0]),
            "{backend}: {kids:?}"
        );
        assert!(rings.iter().all(|keys| keys.len() == 1), "{backend}");
    }
}

/// A new account's stream as the domain writes it: registered, then
/// verified.
async fn registered_stream(email: &Email) -> (String, Vec<aggregates::UserEvent>, User) {
    use cqrs_es::Aggregate as _;
    let user_id = Uuid::new_v4();
    let mut user = User::default();
    let sink = cqrs_es::event_sink::EventSink::default();
    let commands = [
        UserCommand::RegisterUser {
            user_id,
            username: Username::parse(&unique_name(), &UsernamePolicy::default()).unwrap(),
            email: email.clone(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".to_owned(),
            at: Utc::now(),
            code_expires_at: Utc::now(),
        },
        UserCommand::VerifyEmail { at: Utc::now() },
    ];
    for command in commands {
        user.handle(command, &(), &sink).await.unwrap();
    }
    (user_id.to_string(), sink.collect().await, user)
}

#[tokio::test]
async fn imported_streams_load_and_claim_like_committed_ones_and_a_taken_value_imports_nothing() {
    use identity::store::import::{ImportError, NewStream};
    let (backends, _dir) = backends().await;
    for (backend, db) in backends {
        let emails: Vec<Email> = (0..3)
            .map(|_| Email::parse(&format!("{}@example.com", unique_name())).unwrap())
            .collect();
        let mut streams = Vec::new();
        for email in &emails {
            streams.push(registered_stream(email).await);
        }
        let metadata = Metadata::system();
        let new: Vec<NewStream<'_, User>> = streams
            .iter()
            .map(|(id, events, state)| NewStream {
                id,
                events,
                state,
                metadata: &metadata,
            })
            .collect();
        db.import(&new).await.unwrap();
        let repository: Repository<User> = Repository::new(db.clone(), Arc::default());
        for (id, events, _) in &streams {
            let (state, sequence) = repository.load(id).await.unwrap();
            assert_eq!(sequence, events.len() as i64, "{backend}");
            assert!(state.email_verified, "{backend}: the snapshot is the state");
        }
        let count: usize = streams.iter().map(|(_, events, _)| events.len()).sum();
        settled_log(&db, count).await;
        // The claims are taken: registering the first email again is refused.
        let again = registered_stream(&emails[0]).await;
        let refused = db
            .import(&[NewStream {
                id: &again.0,
                events: &again.1,
                state: &again.2,
                metadata: &metadata,
            }])
            .await;
        assert!(
            matches!(refused, Err(ImportError::Taken(_))),
            "{backend}: {refused:?}"
        );
        assert_eq!(
            whole_log(&db).await.len(),
            count,
            "{backend}: nothing of it written"
        );
    }
}

/// Every index of the database, by name.
async fn indexes(db: &Database) -> Vec<String> {
    match db {
        Database::Postgres(pool) => sqlx::query_scalar(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Database::Sqlite(pool) => {
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY 1")
                .fetch_all(pool)
                .await
                .unwrap()
        }
    }
}

#[tokio::test]
async fn indexes_a_rebuild_sets_aside_come_back_after_it_and_after_a_rebuild_that_died() {
    let (backends, _dir) = backends().await;
    for (backend, db) in backends {
        let before = indexes(&db).await;
        identity::cli::rebuild_all(db.clone(), &["all".to_owned()])
            .await
            .unwrap();
        assert_eq!(indexes(&db).await, before, "{backend}: after a rebuild");
        // A rebuild that set the indexes aside and died before it built
        // them again: the next start (or operator command) builds them.
        let store = db.projection_store();
        store
            .begin_bulk(&["user_directory", "login_lookup"])
            .await
            .unwrap();
        if backend == "sqlite" {
            assert_ne!(
                indexes(&db).await,
                before,
                "{backend}: nothing was set aside"
            );
        }
        db.migrate().await.unwrap();
        assert_eq!(
            indexes(&db).await,
            before,
            "{backend}: after the next start"
        );
    }
}

/// A batch's transaction moves its projections' checkpoints only from
/// where the batch was read: of two runners (two instances) that read the
/// same batch, exactly one claims it, the other's claim waits for it and
/// then gets nothing, and a claim from a place the checkpoints left
/// changes nothing.
#[tokio::test]
async fn of_two_runners_claiming_one_batch_exactly_one_moves_the_checkpoints() {
    let (backends, _dir) = backends().await;
    let names = ["first", "second"];
    let at = |position| Cursor {
        tx_id: position,
        position,
    };
    for (backend, db) in backends {
        let store = db.projection_store();
        for name in names {
            store.register(name).await.unwrap();
        }
        let claim = |from: Cursor, to: Cursor| {
            let store = store.clone();
            async move {
                let mut tx = store.begin().await.unwrap();
                let mut claimed = tx.claim(&names, from, to).await.unwrap();
                // Holds the claim while the other runner tries.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                tx.commit().await.unwrap();
                claimed.sort();
                claimed
            }
        };
        let (one, other) = tokio::join!(claim(at(0), at(1)), claim(at(0), at(2)));
        let (winner, to) = match (one.is_empty(), other.is_empty()) {
            (false, true) => (one, at(1)),
            (true, false) => (other, at(2)),
            _ => panic!("{backend}: both or neither claimed: {one:?} {other:?}"),
        };
        assert_eq!(winner, names, "{backend}");
        let moved = store.checkpoints(&names).await.unwrap();
        assert!(
            names.iter().all(|name| moved[*name] == to),
            "{backend}: {moved:?}"
        );
        let stale = claim(at(0), at(3)).await;
        assert!(stale.is_empty(), "{backend}: a stale claim moved {stale:?}");
        assert_eq!(store.checkpoints(&names).await.unwrap(), moved, "{backend}");
    }
}

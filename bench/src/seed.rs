//! Fills a store with accounts fast, for measuring the service on a large
//! store: each account's events come from the domain itself (the `User`
//! and `Session` aggregates handling the commands of a registration, an
//! email verification and a password login) and are written by the
//! store's bulk import, which encodes events, snapshots and claims with
//! the same code as a commit. So a seeded account is an account the
//! service made, without an HTTP request or a transaction each.
//!
//! A bench tool, not one of the service's commands. Projections are not
//! run: rebuild them afterwards (`identity projections rebuild all`), or
//! let start-up catch up.

use std::time::Instant;

use aggregates::session::SessionCommand;
use aggregates::user::LockoutPolicy;
use aggregates::values::{Email, TokenHash, Username, UsernamePolicy};
use aggregates::{Session, SessionEvent, User, UserCommand, UserEvent};
use anyhow::{anyhow, Context};
use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use identity::store::import::NewStream;
use identity::store::{Database, Metadata};
use serde::Serialize;
use uuid::Uuid;

use crate::scenarios::{ITERATIONS, MEMORY_KIB, PARALLELISM, PASSWORD};

/// Accounts written per import (one statement or transaction each for the
/// users, and one for their sessions).
const CHUNK: usize = 2_000;

/// What seeding wrote and how fast.
#[derive(Debug, Clone, Serialize)]
pub struct Seeded {
    pub accounts: usize,
    pub events: usize,
    pub seconds: f64,
    pub accounts_per_s: f64,
}

/// The username of seeded account `i`: two letters spread evenly over the
/// alphabet, then the number, so a one-letter prefix matches about 1/26
/// of the accounts (a broad search) and the full name exactly one.
pub fn username(i: usize) -> String {
    let mixed = (i as u64).wrapping_mul(2_654_435_761) % (26 * 26);
    let letter = |n: u64| char::from(b'a' + u8::try_from(n % 26).unwrap_or(0));
    format!("{}{}{i}", letter(mixed / 26), letter(mixed))
}

pub fn email(i: usize) -> String {
    format!("{}@seed.example", username(i))
}

/// Writes accounts `first..first + count` (each registered, verified and
/// logged in once, with that session open), all with the bench's password.
pub async fn seed(db: &Database, first: usize, count: usize) -> anyhow::Result<Seeded> {
    let hash = password_hash()?;
    let started = Instant::now();
    let mut events = 0;
    let mut next = first;
    while next < first + count {
        let end = (next + CHUNK).min(first + count);
        let mut accounts = Vec::with_capacity(end - next);
        for i in next..end {
            accounts.push(account(i, &hash).await?);
        }
        events += import(db, &accounts).await?;
        next = end;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Seeded {
        accounts: count,
        events,
        seconds,
        accounts_per_s: count as f64 / seconds.max(f64::EPSILON),
    })
}

/// The PHC string of the bench's password with the service's parameters;
/// one for all accounts (hashing a million would take hours).
fn password_hash() -> anyhow::Result<String> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| anyhow!("argon2 parameters: {e}"))?;
    let salt = SaltString::encode_b64(b"bench-seed-salt!").map_err(|e| anyhow!("salt: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(PASSWORD.as_bytes(), &salt)
        .map_err(|e| anyhow!("hash: {e}"))?
        .to_string())
}

/// One account's two streams, as the domain writes them.
struct Account {
    user_id: String,
    user_events: Vec<UserEvent>,
    user: User,
    session_id: String,
    session_events: Vec<SessionEvent>,
    session: Session,
    metadata: Metadata,
}

async fn account(i: usize, hash: &str) -> anyhow::Result<Account> {
    let (user_id, session_id) = (Uuid::now_v7(), Uuid::now_v7());
    let at = Utc::now();
    let username = Username::parse(&username(i), &UsernamePolicy::default())
        .map_err(|e| anyhow!("username {}: {e}", username(i)))?;
    let email = Email::parse(&email(i)).map_err(|e| anyhow!("email {}: {e}", email(i)))?;
    let policy = LockoutPolicy::default();
    let (user, user_events) = run(
        User::default(),
        vec![
            UserCommand::RegisterUser {
                user_id,
                username,
                email,
                password_hash: hash.to_owned(),
                at,
                code_expires_at: at + Duration::minutes(15),
            },
            UserCommand::VerifyEmail { at },
            UserCommand::StartPasswordCheck { at, policy },
            UserCommand::CompletePasswordCheck {
                at,
                session_id,
                method: aggregates::user::LoginMethod::Password,
            },
        ],
    )
    .await?;
    let (session, session_events) = run(
        Session::default(),
        vec![SessionCommand::StartSession {
            session_id,
            user_id,
            refresh_token_hash: TokenHash::from_hex(format!("{:064x}", Uuid::new_v4().as_u128())),
            user_agent: Some("bench-seed".to_owned()),
            ip: None,
            amr: vec!["pwd".to_owned()],
            at,
            expires_at: at + Duration::days(30),
        }],
    )
    .await?;
    Ok(Account {
        user_id: user_id.to_string(),
        user_events,
        user,
        session_id: session_id.to_string(),
        session_events,
        session,
        metadata: Metadata {
            actor: Some(identity::store::Actor::User(user_id)),
            ..Metadata::default()
        },
    })
}

/// Handles `commands` in turn, as the service would, from `state`.
async fn run<A: Aggregate<Services = ()>>(
    mut state: A,
    commands: Vec<A::Command>,
) -> anyhow::Result<(A, Vec<A::Event>)> {
    let sink = EventSink::default();
    for command in commands {
        state
            .handle(command, &(), &sink)
            .await
            .map_err(|e| anyhow!("the domain refused a seeded command: {e}"))?;
    }
    Ok((state, sink.collect().await))
}

/// Imports the users, then their sessions; the events written.
async fn import(db: &Database, accounts: &[Account]) -> anyhow::Result<usize> {
    let users: Vec<NewStream<'_, User>> = accounts
        .iter()
        .map(|a| NewStream {
            id: &a.user_id,
            events: &a.user_events,
            state: &a.user,
            metadata: &a.metadata,
        })
        .collect();
    db.import(&users).await.context("importing users")?;
    let sessions: Vec<NewStream<'_, Session>> = accounts
        .iter()
        .map(|a| NewStream {
            id: &a.session_id,
            events: &a.session_events,
            state: &a.session,
            metadata: &a.metadata,
        })
        .collect();
    db.import(&sessions).await.context("importing sessions")?;
    Ok(accounts
        .iter()
        .map(|a| a.user_events.len() + a.session_events.len())
        .sum())
}

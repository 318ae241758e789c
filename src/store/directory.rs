//! The account directory as admins search it: one statement per shape of
//! search, each served in order by an index and paged by keyset, so a page
//! costs the same with a million accounts as with a thousand.
//!
//! What made the old search grow with the store: one statement for every
//! kind of search (a shared generic plan that stopped using the prefix
//! indexes), `count(*) OVER ()` (every match read to count it), and
//! `OFFSET` (every earlier page read again). Now:
//!
//! | shape | order (the keyset) | index |
//! |---|---|---|
//! | everyone, or a status | `created_at, user_id` | `user_directory_created_idx`, `user_directory_status_created_idx` |
//! | locked accounts | `locked_until, user_id` (soonest to unlock first) | `user_directory_locked_idx` (partial) |
//! | email prefix | `email` | `user_directory_email_idx` |
//! | username prefix | `lower(username)` | `user_directory_username_idx` |
//!
//! A prefix is a range (`key >= prefix AND key < prefix || U+10FFFF`),
//! compared byte-wise (`COLLATE "C"` on PostgreSQL, SQLite's default), not
//! `LIKE`: PostgreSQL can only turn a `LIKE` whose pattern is a parameter
//! into an index range in a custom plan. A status narrows a prefix search by
//! filtering its matches. There is no total: counting every match costs
//! as much as reading them; a page says whether another follows.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{on_either, Database, Roles, StoreError};

/// An account as the directory holds it.
#[derive(Debug, sqlx::FromRow)]
pub struct Entry {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub roles: Roles,
    /// `active`, `locked` (an active account whose lock has not ended) or
    /// `deactivated`.
    pub status: String,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Accounts by what admins filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Locked,
    Deactivated,
}

/// Which index a search walks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// Every account (or every one of a status), oldest first.
    Created,
    /// Locked accounts, soonest to unlock first.
    LockedUntil,
    /// Emails starting with the (lower-cased) prefix, in order.
    Email(String),
    /// Usernames starting with the (lower-cased) prefix, in order.
    Username(String),
}

/// Where the previous page ended: the sort key of its last row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    At(DateTime<Utc>, Uuid),
    Text(String),
}

#[derive(Debug, Clone)]
pub struct Search {
    pub key: Key,
    /// Only with [`Key::Created`] or a prefix (`LockedUntil` is the locked
    /// accounts already).
    pub status: Option<Status>,
    pub after: Option<After>,
    pub limit: i64,
    /// The time locks are judged against.
    pub now: DateTime<Utc>,
}

/// A page of results and whether another follows.
pub struct Page {
    pub entries: Vec<Entry>,
    /// The sort key of the last entry, when more follow.
    pub next: Option<After>,
}

impl Search {
    /// The key this search pages by: the locked accounts alone walk their
    /// own index.
    fn shape(&self) -> Key {
        match (&self.key, self.status) {
            (Key::Created, Some(Status::Locked)) => Key::LockedUntil,
            (key, _) => key.clone(),
        }
    }
}

/// The columns of [`Entry`], with locks judged against `$1`.
const COLUMNS: &str = "SELECT user_id AS id, username, email, email_verified, roles,
        CASE WHEN status = 'active' AND locked_until > $1 THEN 'locked' ELSE status END AS status,
        locked_until, created_at, updated_at
   FROM user_directory";

/// One page of `search`.
pub async fn search(db: &Database, search: &Search) -> Result<Page, StoreError> {
    let shape = search.shape();
    let sql = statement(db, &shape, search.status);
    // One row more than asked tells whether another page follows.
    let limit = search.limit + 1;
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let mut entries: Vec<Entry> = match &shape {
        Key::Created | Key::LockedUntil => {
            let (at, id) = match &search.after {
                Some(After::At(at, id)) => (*at, *id),
                _ => (epoch, Uuid::nil()),
            };
            on_either!(db, pool => {
                sqlx::query_as(&sql)
                    .bind(search.now)
                    .bind(limit)
                    .bind(at)
                    .bind(id)
                    .fetch_all(pool)
                    .await
            })?
        }
        Key::Email(prefix) | Key::Username(prefix) => {
            let after = match &search.after {
                Some(After::Text(text)) => text.clone(),
                _ => String::new(),
            };
            on_either!(db, pool => {
                sqlx::query_as(&sql)
                    .bind(search.now)
                    .bind(limit)
                    .bind(prefix)
                    .bind(format!("{prefix}\u{10FFFF}"))
                    .bind(&after)
                    .fetch_all(pool)
                    .await
            })?
        }
    };
    let more = entries.len() as i64 > search.limit;
    entries.truncate(usize::try_from(search.limit).unwrap_or(0));
    let next = match entries.last() {
        Some(last) if more => Some(match &shape {
            Key::Created => After::At(last.created_at, last.id),
            // Every entry of this shape has a lock (its WHERE says so).
            Key::LockedUntil => After::At(last.locked_until.unwrap_or(epoch), last.id),
            Key::Email(_) => After::Text(last.email.clone()),
            Key::Username(_) => After::Text(last.username.to_ascii_lowercase()),
        }),
        _ => None,
    };
    Ok(Page { entries, next })
}

/// The statement of one shape: `$1` now, `$2` limit, then the keyset's
/// parameters (time and id, or prefix, its end and the last key).
pub fn statement(db: &Database, shape: &Key, status: Option<Status>) -> String {
    let filter = match status {
        None => "TRUE",
        Some(Status::Active) => {
            "status = 'active' AND (locked_until IS NULL OR locked_until <= $1)"
        }
        Some(Status::Locked) => "status = 'active' AND locked_until > $1",
        Some(Status::Deactivated) => "status = 'deactivated'",
    };
    let collate = match db {
        Database::Postgres(_) => " COLLATE \"C\"",
        Database::Sqlite(_) => "",
    };
    match shape {
        Key::Created => format!(
            "{COLUMNS} WHERE {filter} AND (created_at, user_id) > ($3, $4)
              ORDER BY created_at, user_id LIMIT $2"
        ),
        Key::LockedUntil => format!(
            "{COLUMNS} WHERE status = 'active' AND locked_until > $1
                AND (locked_until, user_id) > ($3, $4)
              ORDER BY locked_until, user_id LIMIT $2"
        ),
        Key::Email(_) | Key::Username(_) => {
            let column = match shape {
                Key::Email(_) => "email",
                _ => "lower(username)",
            };
            let key = format!("{column}{collate}");
            format!(
                "{COLUMNS} WHERE {key} >= $3 AND {key} < $4 AND {key} > $5 AND {filter}
                  ORDER BY {key} LIMIT $2"
            )
        }
    }
}

/// One account by id.
pub async fn get(db: &Database, id: Uuid, now: DateTime<Utc>) -> Result<Option<Entry>, StoreError> {
    let sql = format!("{COLUMNS} WHERE user_id = $2");
    Ok(on_either!(db, pool => {
        sqlx::query_as(&sql).bind(now).bind(id).fetch_optional(pool).await
    })?)
}

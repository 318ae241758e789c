//! `bench scale`: the same reads on a small and a large store, side by
//! side, to show which costs grow with the store.
//!
//! For each size (10,000 and 1,000,000 accounts by default) and backend: a
//! fresh database, migrated by `identity migrate`; the accounts seeded
//! (`seed`); every projection rebuilt by `identity projections rebuild all`
//! (timed: events per second, each projection applying every event); an
//! admin granted by `identity admin grant-role`; 8,334 more accounts
//! (50,004 events) seeded and the service started on them, so its start-up
//! catches them up (timed); then each read for the same duration at the
//! same concurrency.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde::Serialize;

use crate::api::Api;
use crate::scenarios::{self, User, PASSWORD};
use crate::seed::{self, Seeded};
use crate::service::{Backend, Database, Service, ServiceConfig};
use crate::stats::{run_for, Recorder, Summary};

/// Accounts seeded after the rebuild, for start-up to catch up: six events
/// each, so about 50,000 events.
pub const BEHIND_ACCOUNTS: usize = 8_334;
/// Concurrent connections of each read.
const READERS: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct SizeReport {
    pub backend: Backend,
    pub accounts: usize,
    pub seeded: Seeded,
    /// Events in the log when every projection was rebuilt.
    pub rebuilt_events: usize,
    pub rebuild_secs: f64,
    /// Events per second, each projection applying every one.
    pub rebuild_events_per_s: f64,
    /// PostgreSQL: `VACUUM (ANALYZE)` after the bulk load, as autovacuum
    /// would do soon after (without it, autovacuum runs during the reads
    /// and the planner has no statistics of the new rows).
    pub vacuum_secs: Option<f64>,
    /// The store's size on disk after the rebuild (database or file).
    pub store_bytes: u64,
    /// Events start-up caught up before it listened.
    pub behind_events: usize,
    /// From spawning the service with that backlog to `/health/ready`.
    pub catch_up_secs: f64,
    pub reads: Vec<(String, Summary)>,
}

/// Runs the whole scale scenario for one backend and size.
pub async fn measure(
    bin: &Path,
    backend: Backend,
    postgres_url: &str,
    smtp_port: u16,
    accounts: usize,
    duration: Duration,
) -> anyhow::Result<SizeReport> {
    let database = Database::fresh(backend, postgres_url);
    let data_dir = std::env::temp_dir().join(database.name());
    std::fs::create_dir_all(&data_dir)?;
    let outcome = measure_on(
        bin, backend, &database, &data_dir, smtp_port, accounts, duration,
    )
    .await;
    if let Err(error) = database.drop_database().await {
        crate::progress(format!("could not drop {}: {error:#}", database.name()));
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    outcome
}

async fn measure_on(
    bin: &Path,
    backend: Backend,
    database: &Database,
    data_dir: &Path,
    smtp_port: u16,
    accounts: usize,
    duration: Duration,
) -> anyhow::Result<SizeReport> {
    let url = database.url();
    operator(bin, &url, data_dir, &["migrate"]).await?;
    let store = open(backend, &url).await?;
    crate::progress(format!("{backend:?}: seeding {accounts} accounts"));
    let seeded = seed::seed(&store, 0, accounts).await?;
    crate::progress(format!(
        "{backend:?}: rebuilding every projection over {} events",
        seeded.events
    ));
    let started = Instant::now();
    operator(bin, &url, data_dir, &["projections", "rebuild", "all"]).await?;
    let rebuild_secs = started.elapsed().as_secs_f64();
    let rebuilt_events = seeded.events;
    // After the rebuild: the command finds the account through a caught-up
    // `login_lookup` (before it, it would catch that projection up first).
    let admin = [
        "admin",
        "grant-role",
        "--email",
        &seed::email(0),
        "--role",
        "admin",
    ];
    operator(bin, &url, data_dir, &admin).await?;
    let vacuum_secs = vacuum(&store).await?;
    let store_bytes = size(&store, &url).await?;
    let behind = seed::seed(&store, accounts, BEHIND_ACCOUNTS).await?;
    drop(store);

    let config = ServiceConfig {
        bin,
        database_url: url.clone(),
        smtp_port,
        // No texts in the scale scenarios: nothing listens there.
        sms_url: "http://127.0.0.1:9".to_owned(),
        data_dir: data_dir.to_path_buf(),
        db_max_connections: None,
        secret_hex: crate::service::random_secret_hex(),
        relay: None,
        skip_revocation_check: false,
        oidc_issuer: None,
    };
    crate::progress(format!(
        "{backend:?}: starting the service {} events behind",
        behind.events
    ));
    let started = Instant::now();
    let service = Service::start(&config, crate::READY_TIMEOUT).await?;
    let catch_up_secs = started.elapsed().as_secs_f64();
    let reads = reads(service.base_url(), accounts, duration).await;
    service.stop().await;
    Ok(SizeReport {
        backend,
        accounts,
        seeded,
        rebuilt_events,
        rebuild_secs,
        rebuild_events_per_s: rebuilt_events as f64 / rebuild_secs.max(f64::EPSILON),
        vacuum_secs,
        store_bytes,
        behind_events: behind.events,
        catch_up_secs,
        reads: reads?,
    })
}

/// `bench seed`: migrates the store at `url`, seeds accounts
/// `first..first + count` and rebuilds every projection.
pub async fn seed_store(
    bin: &Path,
    backend: Backend,
    url: &str,
    data_dir: &Path,
    first: usize,
    count: usize,
) -> anyhow::Result<Seeded> {
    operator(bin, url, data_dir, &["migrate"]).await?;
    let store = open(backend, url).await?;
    let seeded = seed::seed(&store, first, count).await?;
    drop(store);
    operator(bin, url, data_dir, &["projections", "rebuild", "all"]).await?;
    Ok(seeded)
}

/// `VACUUM (ANALYZE)` on PostgreSQL; nothing on SQLite (no vacuum needed
/// after inserts; its planner needs no statistics for these statements).
async fn vacuum(store: &identity::store::Database) -> anyhow::Result<Option<f64>> {
    let Some(pool) = store.postgres() else {
        return Ok(None);
    };
    crate::progress("VACUUM (ANALYZE), CHECKPOINT");
    let started = Instant::now();
    sqlx::query("VACUUM (ANALYZE)").execute(pool).await?;
    // Writes the bulk load's dirty pages now rather than during the reads.
    sqlx::query("CHECKPOINT").execute(pool).await?;
    Ok(Some(started.elapsed().as_secs_f64()))
}

/// The store's size on disk: the database's on PostgreSQL, the file's and
/// its write-ahead log's on SQLite.
async fn size(store: &identity::store::Database, url: &str) -> anyhow::Result<u64> {
    if let Some(pool) = store.postgres() {
        let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(pool)
            .await?;
        return Ok(u64::try_from(bytes).unwrap_or(0));
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    let file = |suffix: &str| std::fs::metadata(format!("{path}{suffix}")).map_or(0, |m| m.len());
    Ok(file("") + file("-wal"))
}

/// The store behind the service's own seam, for seeding.
async fn open(backend: Backend, url: &str) -> anyhow::Result<identity::store::Database> {
    Ok(match backend {
        Backend::Postgres => identity::store::Database::from(
            sqlx::PgPool::connect(url)
                .await
                .with_context(|| format!("cannot connect to {url}"))?,
        ),
        Backend::Sqlite => {
            let path = url
                .strip_prefix("sqlite://")
                .ok_or_else(|| anyhow!("not a SQLite URL: {url}"))?;
            identity::store::Database::open_sqlite(Path::new(path), 4, Duration::from_secs(30))
                .await?
        }
    })
}

/// Runs an operator command of the service binary on the store.
async fn operator(bin: &Path, url: &str, data_dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = tokio::process::Command::new(bin)
        .args(args)
        .env("IDENTITY_DATABASE_URL", url)
        .env("IDENTITY_DATA_DIR", data_dir)
        .env("IDENTITY_LOG", "warn")
        .status()
        .await
        .with_context(|| format!("cannot run {} {}", bin.display(), args.join(" ")))?;
    if !status.success() {
        bail!("identity {} failed: {status}", args.join(" "));
    }
    Ok(())
}

/// Every read, one after the other, each at [`READERS`] connections.
async fn reads(
    base: &str,
    accounts: usize,
    duration: Duration,
) -> anyhow::Result<Vec<(String, Summary)>> {
    let api = Api::new(base)?;
    let admin = api.login(&seed::username(0), PASSWORD).await?;
    let user = api.login(&seed::username(1), PASSWORD).await?;
    let someone = accounts / 2;
    // A history read records an audit event on the stream of the account
    // read, so each connection reads its own account: readers of one
    // account would take turns on that stream and measure its commits.
    let mut subjects = Vec::with_capacity(READERS);
    for i in 0..READERS {
        subjects.push(user_id(&api, &admin.access_token, &seed::email(someone + i)).await?);
    }
    let broad = &seed::username(someone)[..1];
    let (admin, user) = (Some(&admin.access_token), Some(&user.access_token));
    let one = |path: String| vec![path; READERS];
    let gets = [
        ("GET /health/ready", one("/health/ready".to_owned()), None),
        ("GET /me", one("/api/v1/me".to_owned()), user),
        (
            "GET /auth/sessions",
            one("/api/v1/auth/sessions".to_owned()),
            user,
        ),
        (
            "admin list, no query",
            one("/api/v1/admin/users".to_owned()),
            admin,
        ),
        (
            "admin search, 1-letter prefix",
            one(format!("/api/v1/admin/users?username={broad}")),
            admin,
        ),
        (
            "admin search, exact email",
            one(format!(
                "/api/v1/admin/users?email={}",
                seed::email(someone)
            )),
            admin,
        ),
        (
            "one account's history",
            subjects
                .iter()
                .map(|id| format!("/api/v1/admin/users/{id}/history"))
                .collect(),
            admin,
        ),
    ];
    let mut summaries = Vec::new();
    for (name, paths, token) in gets {
        crate::progress(format!("{name}: GET {}", paths[0]));
        let summary = get_for(base, paths, token.map(String::as_str), duration).await?;
        summaries.push((name.to_owned(), summary));
    }
    let users: Vec<User> = (1..=40)
        .map(|i| User {
            username: seed::username(i),
            email: seed::email(i),
        })
        .collect();
    crate::progress("login");
    let login = scenarios::logins(base, &users, 2 * scenarios::cores(), duration).await?;
    summaries.push(("login (password)".to_owned(), login));
    let sessions = scenarios::open_sessions(base, &users, 32).await?;
    crate::progress("refresh");
    let refresh = scenarios::refreshes(base, sessions, duration).await?;
    summaries.push(("refresh x32".to_owned(), refresh));
    Ok(summaries)
}

/// The id of the account with `email`, by the admin search.
async fn user_id(api: &Api, token: &str, email: &str) -> anyhow::Result<String> {
    let page = api
        .get_json(&format!("/api/v1/admin/users?email={email}"), Some(token))
        .await?;
    page["items"][0]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no account with {email}: {page}"))
}

/// `GET` one path per connection, each on its own connection, for
/// `duration`.
async fn get_for(
    base: &str,
    paths: Vec<String>,
    token: Option<&str>,
    duration: Duration,
) -> anyhow::Result<Summary> {
    let items = paths
        .into_iter()
        .map(|path| Ok((Api::new(base)?, path, token.map(str::to_owned))))
        .collect::<anyhow::Result<Vec<_>>>()?;
    run_for(duration, items, |(api, path, token), deadline| async move {
        let mut recorder = Recorder::default();
        while Instant::now() < deadline {
            let started = Instant::now();
            match api.get_json(&path, token.as_deref()).await {
                Ok(_) => recorder.success(started.elapsed()),
                Err(failure) => recorder.failure(failure),
            }
        }
        recorder
    })
    .await
}

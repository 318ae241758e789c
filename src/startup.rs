//! Builds the application from its configuration: database (created and
//! migrated if needed), keys, projections, HTTP server.

mod guards;

use guards::ServeLock;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use projections::{Cursor, Projector};
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Postgres;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::secret::KeyPurpose;
use crate::auth::{OneTimeCodes, PasswordHasher, Revocations, ServerSecret, TokenIssuer};
use crate::config::{Config, DatabaseUrl};
use crate::cooldown::Cooldowns;
use crate::email::Mailer;
use crate::monitor::LagMonitor;
use crate::ratelimit::RateLimiter;
use crate::read_cache::ReadCache;
use crate::relay::Relay;
use crate::state::{AppState, Inner, ProjectionWaiter};
use crate::store::{Database, Repository};

/// How long a request waits for a database connection before it answers
/// 503 `unavailable`.
pub const DB_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
/// A PostgreSQL connection idle this long is pinged before it is used.
const IDLE_CHECK_AFTER: Duration = Duration::from_secs(1);

/// Pool size on PostgreSQL unless `IDENTITY_DB_MAX_CONNECTIONS` says
/// otherwise: each request holds a connection only for its statements.
pub const POSTGRES_POOL_SIZE: u32 = 20;

/// Pool size on SQLite unless `IDENTITY_DB_MAX_CONNECTIONS` says otherwise.
/// Smaller than on PostgreSQL on purpose: sqlx runs each SQLite connection
/// on a thread of its own, and past a few per core the threads only take
/// turns on the cores. Measured on 2 cores at 32 concurrent refreshes
/// (`bench --backend sqlite`): 2,323/s with 4 connections, 2,700/s with 8,
/// 2,908/s with 16 and 1,176/s with 40.
pub const SQLITE_POOL_SIZE: u32 = 16;

/// How long a request waits for projections before answering anyway.
const READ_YOUR_WRITES_TIMEOUT: Duration = Duration::from_secs(5);

/// Profiles kept in memory for `GET /me` (about 300 bytes each).
const PROFILES_CACHED: usize = 100_000;
/// Accounts kept in memory for refreshes (about 100 bytes each).
const REFRESH_ACCOUNTS_CACHED: usize = 100_000;

/// How often expired rate-limit counters are deleted.
const COUNTER_PURGE_PERIOD: Duration = Duration::from_secs(10 * 60);

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    /// Turns true at SIGTERM/SIGINT: readiness answers 503 and open event
    /// streams end, so the in-flight requests can finish.
    stopping: watch::Sender<bool>,
    /// Turns true once the server has stopped: the background loops end.
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    grace: Duration,
    drain: Duration,
    /// Kept until the server stops (SQLite only).
    metrics_port: u16,
    _lock: Option<ServeLock>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        guards::writable_data_dir(&config.data_dir)?;
        // Installed before anything is counted: counts made before the
        // recorder exists are lost.
        crate::instruments::handle();
        let lock = match DatabaseUrl::parse(&config.database_url) {
            Ok(DatabaseUrl::Sqlite(path)) => Some(ServeLock::take(&path)?),
            _ => None,
        };
        let db = connect(&config).await?;
        db.migrate().await?;
        let secret = match &config.secret_hex {
            Some(hex) => ServerSecret::from_hex(hex)?,
            None => ServerSecret::load_or_create(&config.data_dir)?,
        };
        let (shutdown, _) = watch::channel(false);
        let mut background = Background::start(&db, &config, &shutdown).await?;
        let (stopping, _) = watch::channel(false);
        let state = app_state(db, &config, &secret, &background, &stopping).await?;
        background.tasks.push(tokio::spawn(
            state
                .limiter
                .clone()
                .purge_every(COUNTER_PURGE_PERIOD, shutdown.subscribe()),
        ));
        background
            .tasks
            .push(tokio::spawn(state.tokens.clone().keep_fresh(
                state.db.clone(),
                secret.derive(KeyPurpose::SigningKeySeal),
                config.rotation_policy(),
                shutdown.subscribe(),
            )));
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen_addr))?;
        let metrics = crate::instruments::bind(config.metrics_addr)
            .await
            .with_context(|| {
                format!(
                    "IDENTITY_METRICS_ADDR: cannot listen on {}",
                    config.metrics_addr
                )
            })?;
        let metrics_port = metrics.local_addr().map(|a| a.port()).unwrap_or(0);
        let scrapes = crate::instruments::serve(metrics, state.clone(), shutdown.subscribe());
        background.tasks.push(tokio::spawn(async move {
            if let Err(error) = scrapes.await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        }));
        Ok(Self {
            listener,
            router: crate::http::router(state),
            stopping,
            shutdown,
            tasks: background.tasks,
            grace: config.shutdown_grace,
            drain: config.shutdown_drain,
            metrics_port,
            _lock: lock,
        })
    }

    /// The port `GET /metrics` is served on.
    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until SIGINT/SIGTERM. Then, at once, readiness answers 503
    /// and open event streams end; after `IDENTITY_SHUTDOWN_DRAIN_SECS`
    /// (0 by default) the listener stops accepting; in-flight
    /// requests finish (the projections and the relay still run, so their
    /// read-your-writes waits end as usual); then the background loops
    /// stop (the relay after publishing what it holds). All within the
    /// shutdown grace: whatever still runs then (a request waiting for an
    /// unreachable database, say) is abandoned and the process exits. Every
    /// acknowledged command is committed already, so nothing is lost.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(port = self.port(), "listening");
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let stopping = self.stopping;
        let mut stopped = stopping.subscribe();
        let drain = self.drain;
        let server = axum::serve(self.listener, service).with_graceful_shutdown(async move {
            shutdown_signal().await;
            stopping.send_replace(true);
            if !drain.is_zero() {
                tracing::info!(drain_secs = drain.as_secs(), "not ready; draining");
                tokio::time::sleep(drain).await;
            }
        });
        let grace = self.grace;
        let deadline = async {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(drain + grace).await;
        };
        let finish = async {
            server.await?;
            self.shutdown.send_replace(true);
            futures_util::future::join_all(self.tasks).await;
            Ok::<_, std::io::Error>(())
        };
        tokio::select! {
            result = finish => result?,
            () = deadline => tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace over; exiting with work unfinished"),
        }
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// The loops that run beside the HTTP server: projections (caught up
/// before anything listens), lag figures, revocations, and the relay.
struct Background {
    tasks: Vec<JoinHandle<()>>,
    appended: Arc<watch::Sender<Cursor>>,
    /// The furthest commit a request waits for the read models to reach.
    wanted: Arc<watch::Sender<Cursor>>,
    progress: Vec<watch::Receiver<projections::Progress>>,
    lag: LagMonitor,
    revocations: Arc<Revocations>,
    profiles: Arc<ReadCache<crate::http::Me>>,
    refresh_accounts: Arc<ReadCache<crate::accounts::RefreshAccount>>,
}

impl Background {
    async fn start(
        db: &Database,
        config: &Config,
        shutdown: &watch::Sender<bool>,
    ) -> anyhow::Result<Self> {
        let appended = Arc::new(watch::channel(Cursor::default()).0);
        let projector = Projector::new(db.projection_store(), projections::all()).await?;
        projector.catch_up().await?;
        let progress = projector.progress();
        let recent = projector.recent();
        let wanted = Arc::new(watch::channel(Cursor::default()).0);
        let wakes = projections::Wakes {
            appended: appended.subscribe(),
            wanted: wanted.subscribe(),
        };
        let mut tasks = vec![tokio::spawn(projector.run(
            wakes,
            config.projection_poll,
            shutdown.subscribe(),
        ))];
        let lag = LagMonitor::new(progress.clone());
        tasks.push(tokio::spawn(lag.clone().run(
            db.clone(),
            config.relay_enabled,
            config.projection_poll,
            shutdown.subscribe(),
        )));
        // Access-token lifetime, the verifier's 30 s leeway, and a margin for
        // clocks that disagree between instances.
        let revocations = Arc::new(Revocations::new(
            config.tokens.access_ttl + Duration::from_secs(30 + 60),
        ));
        let revocations_from = revocations.load(db).await?;
        tasks.push(tokio::spawn(revocations.clone().follow(
            db.clone(),
            revocations_from,
            Arc::clone(&recent),
            config.projection_poll,
            shutdown.subscribe(),
        )));
        let progress_of = |name: &str| {
            progress
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, rx)| rx.clone())
                .ok_or_else(|| anyhow::anyhow!("no {name} projection"))
        };
        let profiles = Arc::new(ReadCache::new(PROFILES_CACHED));
        tasks.push(tokio::spawn(profiles.clone().follow(
            db.clone(),
            Arc::clone(&recent),
            "identity.user.",
            progress_of(projections::USER_DIRECTORY)?,
            shutdown.subscribe(),
        )));
        let refresh_accounts = Arc::new(ReadCache::new(REFRESH_ACCOUNTS_CACHED));
        tasks.push(tokio::spawn(refresh_accounts.clone().follow(
            db.clone(),
            recent,
            "identity.user.",
            progress_of(projections::LOGIN_LOOKUP)?,
            shutdown.subscribe(),
        )));
        if config.relay_enabled {
            tasks.push(spawn_relay(db, config, &appended, shutdown)?);
        }
        // Read-your-writes also waits for what answers from memory: the
        // revocations (an ended session stops once its command answered)
        // and the cached profiles and refresh accounts.
        let mut progress: Vec<_> = progress.into_iter().map(|(_, rx)| rx).collect();
        progress.push(revocations.progress());
        progress.push(profiles.progress());
        progress.push(refresh_accounts.progress());
        Ok(Self {
            tasks,
            appended,
            wanted,
            progress,
            lag,
            revocations,
            profiles,
            refresh_accounts,
        })
    }
}

/// The NATS relay. Its leader election and checkpoint are PostgreSQL's
/// (advisory lock, transaction ids); on SQLite the HTTP feed serves
/// downstream services.
fn spawn_relay(
    db: &Database,
    config: &Config,
    appended: &watch::Sender<Cursor>,
    shutdown: &watch::Sender<bool>,
) -> anyhow::Result<JoinHandle<()>> {
    let Some(pool) = db.postgres() else {
        anyhow::bail!(
            "IDENTITY_NATS_URL: the NATS relay needs the PostgreSQL backend; unset it to use the HTTP feed on SQLite"
        );
    };
    let relay = Relay::new(pool.clone(), config.relay.clone());
    Ok(tokio::spawn(
        relay.run(appended.subscribe(), shutdown.subscribe()),
    ))
}

/// What every request handler shares.
async fn app_state(
    db: Database,
    config: &Config,
    secret: &ServerSecret,
    background: &Background,
    stopping: &watch::Sender<bool>,
) -> anyhow::Result<AppState> {
    let tokens = TokenIssuer::load(
        &db,
        &secret.derive(KeyPurpose::SigningKeySeal),
        config.public_url.clone(),
        config.audience.clone(),
        config.tokens.access_ttl,
    )
    .await?;
    let appended = &background.appended;
    Ok(AppState::new(Inner {
        users: Repository::new(db.clone(), appended.clone()),
        sessions: Repository::new(db.clone(), appended.clone()),
        audits: Repository::new(db.clone(), appended.clone()),
        influencers: Repository::new(db.clone(), appended.clone()),
        referrals: Repository::new(db.clone(), appended.clone()),
        conversions: Repository::new(db.clone(), appended.clone()),
        ledgers: Repository::new(db.clone(), appended.clone()),
        hasher: PasswordHasher::new(&config.argon2)?,
        tokens,
        revocations: background.revocations.clone(),
        profiles: background.profiles.clone(),
        refresh_accounts: background.refresh_accounts.clone(),
        codes: OneTimeCodes::new(
            db.clone(),
            secret.derive(KeyPurpose::OneTimeCodes),
            config.codes.ttl,
            config.codes.max_attempts,
        ),
        oidc: crate::oidc::Providers::new(&config.oidc, &config.public_url)?,
        oidc_states: crate::oidc::StateSealer::new(secret.derive(KeyPurpose::OidcState)),
        totp: crate::auth::Totp::new(
            secret.derive(KeyPurpose::TotpSeal),
            secret.derive(KeyPurpose::RecoveryCodes),
            config.totp_issuer.clone(),
        ),
        cooldowns: Cooldowns::new(db.clone(), secret.derive(KeyPurpose::RateLimitKeys)),
        mailer: Mailer::new(config)?,
        sms: crate::sms::SmsSender::new(&config.sms, &config.data_dir)?,
        login_bookkeeping: Default::default(),
        limiter: RateLimiter::new(db.clone(), secret.derive(KeyPurpose::RateLimitKeys)),
        projections: ProjectionWaiter::new(
            background.progress.clone(),
            background.wanted.clone(),
            READ_YOUR_WRITES_TIMEOUT,
        ),
        lag: background.lag.clone(),
        successor_key: secret.derive(KeyPurpose::RefreshSuccessors),
        appended: appended.clone(),
        shutdown: stopping.subscribe(),
        db,
        config: config.clone(),
    }))
}

/// Connects to the configured database, creating it first if it does not
/// exist (convenient locally; harmless where it already does).
pub async fn connect(config: &Config) -> anyhow::Result<Database> {
    let url = match DatabaseUrl::parse(&config.database_url) {
        Ok(DatabaseUrl::Postgres(url)) => url,
        Ok(DatabaseUrl::Sqlite(path)) => {
            let size = config.db_max_connections.unwrap_or(SQLITE_POOL_SIZE);
            return Database::open_sqlite(&path, size, DB_ACQUIRE_TIMEOUT).await;
        }
        Err(problem) => anyhow::bail!("IDENTITY_DATABASE_URL: {problem}"),
    };
    let url = &url;
    let options: PgConnectOptions = url.parse().context("IDENTITY_DATABASE_URL")?;
    let target = format!(
        "database {:?} on {}:{}",
        options.get_database().unwrap_or("postgres"),
        options.get_host(),
        options.get_port()
    );
    if !Postgres::database_exists(url).await.unwrap_or(true) {
        if let Err(error) = Postgres::create_database(url).await {
            // Another instance may have created it meanwhile.
            if !Postgres::database_exists(url).await.unwrap_or(false) {
                return Err(error).with_context(|| format!("cannot create the {target}"));
            }
        }
    }
    // PostgreSQL's notices (`relation "_sqlx_migrations" already exists,
    // skipping` on every start) are not the operator's business.
    let options = options.options([("client_min_messages", "warning")]);
    let pool = PgPoolOptions::new()
        .max_connections(config.db_max_connections.unwrap_or(POSTGRES_POOL_SIZE))
        // Short, so that requests answer 503 promptly while the database is
        // unreachable (`AppError::from(sqlx::Error)`).
        .acquire_timeout(DB_ACQUIRE_TIMEOUT)
        // sqlx pings every idle connection it hands out: a round trip per
        // acquire, as many as the queries themselves under load. As
        // HikariCP does, only a connection idle for a while is checked;
        // one used within the last second is taken as alive (a dead one
        // fails its query, which answers 503 like an unreachable database,
        // and is then dropped).
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_CHECK_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL ({target})"))?;
    Ok(Database::from(pool))
}

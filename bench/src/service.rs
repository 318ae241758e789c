//! The service under test: a fresh database, a free port, the `identity`
//! binary as a child process (killed on stop or drop), and a summary of the
//! warnings and errors it logged.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde::Serialize;
use sqlx::{Connection, Executor, PgConnection};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::scenarios;

/// How many warning/error lines the report keeps verbatim.
const KEPT_LINES: usize = 10;
/// Retention of the run's stream: long enough for any run, short enough
/// that a stream a crashed run failed to delete empties itself.
const NATS_MAX_AGE_SECS: u64 = 600;
/// JetStream's duplicate window must not exceed the stream's max age.
const NATS_DUPLICATE_WINDOW_SECS: u64 = 120;

/// A database that exists only for this run.
pub struct Database {
    server_url: String,
    name: String,
    /// On SQLite, the file the service creates (and nothing to drop).
    sqlite_file: Option<PathBuf>,
}

/// `--backend`: the storage backends to measure, one after the other.
#[derive(Debug, clap::Args)]
pub struct Backends {
    /// The storage backends, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sqlite,postgres"
    )]
    pub backend: Vec<Backend>,
}

/// The storage backend the service runs on in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Database {
    /// A new, unique name on the server at `server_url` (no database path),
    /// or on SQLite a file named so under the temporary directory. The
    /// service creates the database itself on start.
    pub fn fresh(backend: Backend, server_url: &str) -> Self {
        let name = format!("identity_bench_{}", uuid::Uuid::new_v4().simple());
        let sqlite_file = (backend == Backend::Sqlite)
            .then(|| std::env::temp_dir().join(&name).join("identity.db"));
        Self {
            server_url: server_url.trim_end_matches('/').to_owned(),
            name,
            sqlite_file,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The service's database URL. Postgres runs beside the service on
    /// loopback, where TLS (the driver's default `prefer`) only burns CPU.
    pub fn url(&self) -> String {
        match &self.sqlite_file {
            Some(file) => format!("sqlite://{}", file.display()),
            None => format!("{}/{}?sslmode=disable", self.server_url, self.name),
        }
    }

    /// Rows in the event log (run it while no service writes).
    pub async fn count_events(&self) -> anyhow::Result<i64> {
        let mut conn = PgConnection::connect(&self.url())
            .await
            .with_context(|| format!("cannot connect to {}", self.name))?;
        let count = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&mut conn)
            .await?;
        conn.close().await?;
        Ok(count)
    }

    /// Drops the database, disconnecting anyone still connected.
    pub async fn drop_database(&self) -> anyhow::Result<()> {
        if self.sqlite_file.is_some() {
            // The file lives in the data directory, removed with it.
            return Ok(());
        }
        let admin = format!("{}/postgres", self.server_url);
        let mut conn = PgConnection::connect(&admin)
            .await
            .with_context(|| format!("cannot connect to {admin}"))?;
        // The name is ours (a fixed prefix and hex digits), so quoting is enough.
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        conn.execute(sql.as_str()).await?;
        conn.close().await?;
        Ok(())
    }
}

/// What the child process needs to know.
#[derive(Clone)]
pub struct ServiceConfig<'a> {
    pub bin: &'a Path,
    pub database_url: String,
    pub smtp_port: u16,
    /// The SMS provider stand-in (`sinks::SmsSink`).
    pub sms_url: String,
    pub data_dir: PathBuf,
    /// `None`: the service's default for the backend.
    pub db_max_connections: Option<u32>,
    /// Kept across restarts on the same database: tokens and encrypted
    /// fields written by one start must still be readable by the next.
    pub secret_hex: String,
    /// Where the relay publishes; `None` starts the service with it off.
    pub relay: Option<RelayTarget>,
    /// Start it with `IDENTITY_BENCH_SKIP_REVOCATION_CHECK=true`: the `/me`
    /// baseline without the revocation lookup.
    pub skip_revocation_check: bool,
    /// The OpenID provider stand-in's issuer, configured as `google`.
    pub oidc_issuer: Option<String>,
}

/// The public URL every instance of a run says it has (never fetched).
pub const PUBLIC_URL: &str = "http://identity.bench";

/// The run's own stream and subject prefix on the NATS server at `url`.
#[derive(Clone)]
pub struct RelayTarget {
    pub url: String,
    pub stream: String,
    pub subject_prefix: String,
}

/// 64 hex characters from two random UUIDs (244 random bits).
pub fn random_secret_hex() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Warnings and errors the service logged during the run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct LogSummary {
    pub warn_lines: u64,
    pub error_lines: u64,
    /// Lines that were not JSON log records (panics, for instance).
    pub other_lines: u64,
    pub samples: VecDeque<String>,
}

impl LogSummary {
    /// The counts of two runs added, and the last lines of both.
    pub fn merge(mut self, later: LogSummary) -> LogSummary {
        self.warn_lines += later.warn_lines;
        self.error_lines += later.error_lines;
        self.other_lines += later.other_lines;
        self.samples.extend(later.samples);
        while self.samples.len() > KEPT_LINES {
            self.samples.pop_front();
        }
        self
    }
}

pub struct Service {
    child: Child,
    base_url: String,
    logs: Arc<Mutex<LogSummary>>,
}

impl Service {
    /// Spawns the binary on a free port and waits until `/health/ready` is 200.
    pub async fn start(config: &ServiceConfig<'_>, ready_within: Duration) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut command = Command::new(config.bin);
        command
            .arg("serve")
            .env("IDENTITY_DATABASE_URL", &config.database_url)
            .env("IDENTITY_LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("IDENTITY_METRICS_ADDR", "127.0.0.1:0")
            // One issuer for every instance of a run, so that the tokens of
            // one are valid on another (the unchecked /me instance).
            .env("IDENTITY_PUBLIC_URL", PUBLIC_URL)
            .env("IDENTITY_SMTP_HOST", "127.0.0.1")
            .env("IDENTITY_SMTP_PORT", config.smtp_port.to_string())
            .env("IDENTITY_SECRET", &config.secret_hex)
            .env("IDENTITY_DATA_DIR", &config.data_dir)
            .env("IDENTITY_LOG", "warn")
            .env(
                "IDENTITY_ARGON2_MEMORY_KIB",
                scenarios::MEMORY_KIB.to_string(),
            )
            .env(
                "IDENTITY_ARGON2_ITERATIONS",
                scenarios::ITERATIONS.to_string(),
            )
            .env(
                "IDENTITY_ARGON2_PARALLELISM",
                scenarios::PARALLELISM.to_string(),
            )
            // All load comes from one IP and a few identifiers, which the
            // per-IP and per-identifier limits exist to stop; quota 0 is off.
            .env("IDENTITY_RATE_LIMIT_API", "0/60")
            .env("IDENTITY_RATE_LIMIT_LOGIN", "0/60")
            .env("IDENTITY_RATE_LIMIT_REGISTER", "0/60")
            .env("IDENTITY_RATE_LIMIT_EMAIL_CODES", "0/60")
            .env("IDENTITY_RATE_LIMIT_SMS", "0/60")
            // The ways-in scenarios ask again and again for one address.
            .env("IDENTITY_EMAIL_RESEND_COOLDOWN_SECS", "0")
            .env("IDENTITY_SMS_URL", &config.sms_url)
            .env("IDENTITY_SMS_ACCOUNT", crate::ways_in::SMS_ACCOUNT)
            .env("IDENTITY_SMS_TOKEN", crate::ways_in::SMS_TOKEN)
            // Seeding 100,000 conversions can outlast the default 15-minute
            // access token of the `service` account.
            .env("IDENTITY_ACCESS_TOKEN_TTL_SECS", "7200")
            // The timing scenario sends hundreds of wrong passwords for one
            // account; a lock would answer them without the bookkeeping.
            .env("IDENTITY_LOCKOUT_MAX_FAILURES", "1000000000")
            .env(
                "IDENTITY_BENCH_SKIP_REVOCATION_CHECK",
                config.skip_revocation_check.to_string(),
            );
        if let Some(size) = config.db_max_connections {
            command.env("IDENTITY_DB_MAX_CONNECTIONS", size.to_string());
        }
        if let Some(issuer) = &config.oidc_issuer {
            command
                .env("IDENTITY_OIDC_GOOGLE_CLIENT_ID", crate::mfa_oidc::CLIENT_ID)
                .env("IDENTITY_OIDC_GOOGLE_ISSUER", issuer)
                .env("IDENTITY_OIDC_REDIRECT_URIS", crate::mfa_oidc::BACK);
        }
        match &config.relay {
            None => command.env("IDENTITY_RELAY_ENABLED", "false"),
            Some(relay) => command
                .env("IDENTITY_RELAY_ENABLED", "true")
                .env("IDENTITY_NATS_URL", &relay.url)
                .env("IDENTITY_NATS_STREAM", &relay.stream)
                .env("IDENTITY_NATS_SUBJECT_PREFIX", &relay.subject_prefix)
                .env("IDENTITY_NATS_MAX_AGE_SECS", NATS_MAX_AGE_SECS.to_string())
                .env(
                    "IDENTITY_NATS_DUPLICATE_WINDOW_SECS",
                    NATS_DUPLICATE_WINDOW_SECS.to_string(),
                ),
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", config.bin.display()))?;
        let logs = Arc::new(Mutex::new(LogSummary::default()));
        if let Some(out) = child.stdout.take() {
            tokio::spawn(collect_logs(out, logs.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(collect_logs(err, logs.clone()));
        }
        let mut service = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            logs,
        };
        service.wait_ready(ready_within).await?;
        Ok(service)
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Kills the process and returns what it logged.
    pub async fn stop(mut self) -> LogSummary {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        self.logs()
    }

    pub fn logs(&self) -> LogSummary {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    async fn wait_ready(&mut self, within: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = format!("{}/health/ready", self.base_url);
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                let logs = self.logs();
                bail!(
                    "the service exited with {status} before it was ready: {:?}",
                    logs.samples
                );
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(anyhow!("the service was not ready within {within:?}"));
            }
            // Short, so that the start-up figure is not rounded up.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A port nobody listens on right now: bind port 0, read it, let it go.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

async fn collect_logs(stream: impl AsyncRead + Unpin, logs: Arc<Mutex<LogSummary>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let level = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("level").and_then(|l| l.as_str()).map(str::to_owned));
        let Ok(mut summary) = logs.lock() else {
            return;
        };
        match level.as_deref() {
            Some("WARN") => summary.warn_lines += 1,
            Some("ERROR") => summary.error_lines += 1,
            Some(_) => continue,
            None => summary.other_lines += 1,
        }
        if summary.samples.len() == KEPT_LINES {
            summary.samples.pop_front();
        }
        summary.samples.push_back(line);
    }
}

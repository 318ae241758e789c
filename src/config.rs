//! Configuration from `IDENTITY_*` environment variables, each with a default
//! that is safe for one local instance (see the table in README.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use aggregates::influencer::ProgramPolicy;
use aggregates::user::LockoutPolicy;
use aggregates::values::{PasswordPolicy, UsernamePolicy};

mod database_url;

pub use database_url::DatabaseUrl;

use crate::clock::Clock;
use crate::ratelimit::RateLimits;
use crate::relay::RelayConfig;

/// A setting the service cannot start with, named, in one line.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    name: &'static str,
    problem: String,
}

impl ConfigError {
    pub fn new(name: &'static str, problem: impl Into<String>) -> Self {
        Self {
            name,
            problem: problem.into(),
        }
    }

    fn unparsable(name: &'static str, value: &str) -> Self {
        Self::new(name, format!("cannot parse {value:?}"))
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// Connections in the pool; `None` for the backend's default
    /// (`startup::default_pool_size`).
    pub db_max_connections: Option<u32>,
    pub listen_addr: SocketAddr,
    /// Base URL clients use; also the JWT issuer.
    pub public_url: String,
    pub audience: String,
    /// Hex; when `None` a random secret is kept in `data_dir/secret.key`.
    pub secret_hex: Option<String>,
    pub data_dir: PathBuf,
    /// Send mail through `smtp`: on when `IDENTITY_SMTP_HOST` is set.
    /// Otherwise messages are written as `.eml` files under
    /// `<data_dir>/mail/` (see `email::Mailer`).
    pub smtp_enabled: bool,
    pub smtp: SmtpConfig,
    pub tokens: TokenConfig,
    pub codes: CodeConfig,
    pub username_policy: UsernamePolicy,
    pub password_policy: PasswordPolicy,
    pub argon2: Argon2Config,
    pub lockout: LockoutPolicy,
    pub rate_limits: RateLimits,
    /// Reverse proxies in front of the service that append to
    /// `X-Forwarded-For`; 0 means the socket's peer is the client.
    pub trusted_proxy_hops: usize,
    pub projection_poll: Duration,
    /// How long a stopping instance waits for in-flight requests and its
    /// background loops after SIGTERM before it exits anyway.
    pub shutdown_grace: Duration,
    pub log_filter: String,
    /// Publish committed events to NATS JetStream: on when
    /// `IDENTITY_NATS_URL` is set, unless `IDENTITY_RELAY_ENABLED=false`.
    pub relay_enabled: bool,
    pub relay: RelayConfig,
    /// Send `Strict-Transport-Security`: only when clients reach us over TLS.
    pub hsts: bool,
    /// Benchmarks only (`IDENTITY_BENCH_SKIP_REVOCATION_CHECK`): access
    /// tokens are not checked against the revocation set, so the bench can
    /// measure what that check costs. Never set it anywhere else.
    pub bench_skip_revocation_check: bool,
    /// Rules of the influencer program (defaults: 30-day reapply wait and
    /// hold, 10%, 365-day attribution window, 5 vanity codes).
    pub program: ProgramPolicy,
    /// The program's clock: the system clock, never read from the
    /// environment (see `clock`).
    pub program_clock: Clock,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub from: String,
    /// Use STARTTLS (required by most real relays); off for local sinks.
    pub starttls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct TokenConfig {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub refresh_grace: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct CodeConfig {
    pub ttl: Duration,
    pub max_attempts: i32,
    pub resend_cooldown: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct Argon2Config {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hashes allowed to run at once; each holds `memory_kib` of memory.
    pub concurrency: usize,
}

impl Default for Config {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            database_url: "sqlite://./data/identity.db".to_owned(),
            db_max_connections: None,
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://localhost:8080".to_owned(),
            audience: "identity-clients".to_owned(),
            secret_hex: None,
            data_dir: PathBuf::from("./data"),
            smtp_enabled: false,
            smtp: SmtpConfig {
                host: "127.0.0.1".to_owned(),
                port: 1025,
                from: "no-reply@identity.local".to_owned(),
                starttls: false,
                username: None,
                password: None,
                timeout: Duration::from_secs(5),
            },
            tokens: TokenConfig {
                access_ttl: Duration::from_secs(15 * 60),
                refresh_ttl: Duration::from_secs(30 * 24 * 3600),
                refresh_grace: Duration::from_secs(10),
            },
            codes: CodeConfig {
                ttl: Duration::from_secs(10 * 60),
                max_attempts: 5,
                resend_cooldown: Duration::from_secs(60),
            },
            username_policy: UsernamePolicy::default(),
            password_policy: PasswordPolicy::default(),
            argon2: Argon2Config {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
                concurrency: cores,
            },
            lockout: LockoutPolicy::default(),
            rate_limits: RateLimits::default(),
            trusted_proxy_hops: 0,
            projection_poll: Duration::from_millis(250),
            shutdown_grace: Duration::from_secs(10),
            log_filter: "info".to_owned(),
            relay_enabled: false,
            relay: RelayConfig {
                url: "nats://127.0.0.1:4222".to_owned(),
                stream: "IDENTITY_EVENTS".to_owned(),
                subject_prefix: "identity".to_owned(),
                max_age: Duration::from_secs(7 * 24 * 3600),
                duplicate_window: Duration::from_secs(10 * 60),
                poll: Duration::from_millis(250),
                crash_after_publish: false,
            },
            hsts: false,
            bench_skip_revocation_check: false,
            program: ProgramPolicy::default(),
            program_clock: Clock::default(),
        }
    }
}

impl Config {
    /// Defaults overridden by whatever `IDENTITY_*` variables are set.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut c = Self::default();
        set(&mut c.data_dir, "IDENTITY_DATA_DIR")?;
        // Unset: the embedded default, a SQLite file in the data directory.
        c.database_url = var("IDENTITY_DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}", c.data_dir.join("identity.db").display()));
        DatabaseUrl::parse(&c.database_url)
            .map_err(|problem| ConfigError::new("IDENTITY_DATABASE_URL", problem))?;
        if var("IDENTITY_DB_MAX_CONNECTIONS").is_some() {
            let mut n = 0;
            set(&mut n, "IDENTITY_DB_MAX_CONNECTIONS")?;
            c.db_max_connections = Some(n);
        }
        set(&mut c.listen_addr, "IDENTITY_LISTEN_ADDR")?;
        set(&mut c.public_url, "IDENTITY_PUBLIC_URL")?;
        set(&mut c.audience, "IDENTITY_AUDIENCE")?;
        c.secret_hex = var("IDENTITY_SECRET");
        c.smtp_enabled = var("IDENTITY_SMTP_HOST").is_some();
        set(&mut c.smtp.host, "IDENTITY_SMTP_HOST")?;
        set(&mut c.smtp.port, "IDENTITY_SMTP_PORT")?;
        set(&mut c.smtp.from, "IDENTITY_SMTP_FROM")?;
        set(&mut c.smtp.starttls, "IDENTITY_SMTP_STARTTLS")?;
        c.smtp.username = var("IDENTITY_SMTP_USERNAME");
        c.smtp.password = var("IDENTITY_SMTP_PASSWORD");
        millis(&mut c.smtp.timeout, "IDENTITY_SMTP_TIMEOUT_MS")?;
        secs(&mut c.tokens.access_ttl, "IDENTITY_ACCESS_TOKEN_TTL_SECS")?;
        secs(&mut c.tokens.refresh_ttl, "IDENTITY_REFRESH_TOKEN_TTL_SECS")?;
        secs(&mut c.tokens.refresh_grace, "IDENTITY_REFRESH_GRACE_SECS")?;
        secs(&mut c.codes.ttl, "IDENTITY_EMAIL_CODE_TTL_SECS")?;
        set(
            &mut c.codes.max_attempts,
            "IDENTITY_EMAIL_CODE_MAX_ATTEMPTS",
        )?;
        secs(
            &mut c.codes.resend_cooldown,
            "IDENTITY_EMAIL_RESEND_COOLDOWN_SECS",
        )?;
        set(&mut c.username_policy.min_len, "IDENTITY_USERNAME_MIN_LEN")?;
        set(&mut c.username_policy.max_len, "IDENTITY_USERNAME_MAX_LEN")?;
        set(&mut c.password_policy.min_len, "IDENTITY_PASSWORD_MIN_LEN")?;
        set(&mut c.password_policy.max_len, "IDENTITY_PASSWORD_MAX_LEN")?;
        set(&mut c.argon2.memory_kib, "IDENTITY_ARGON2_MEMORY_KIB")?;
        set(&mut c.argon2.iterations, "IDENTITY_ARGON2_ITERATIONS")?;
        set(&mut c.argon2.parallelism, "IDENTITY_ARGON2_PARALLELISM")?;
        set(&mut c.argon2.concurrency, "IDENTITY_HASH_CONCURRENCY")?;
        set(&mut c.lockout.max_failures, "IDENTITY_LOCKOUT_MAX_FAILURES")?;
        let mut lock_secs = c.lockout.lock_duration.num_seconds();
        set(&mut lock_secs, "IDENTITY_LOCKOUT_SECS")?;
        c.lockout.lock_duration = chrono::Duration::seconds(lock_secs);
        set(&mut c.rate_limits.api_per_ip, "IDENTITY_RATE_LIMIT_API")?;
        set(
            &mut c.rate_limits.login_per_identifier,
            "IDENTITY_RATE_LIMIT_LOGIN",
        )?;
        set(
            &mut c.rate_limits.register_per_ip,
            "IDENTITY_RATE_LIMIT_REGISTER",
        )?;
        set(
            &mut c.rate_limits.email_codes_per_address,
            "IDENTITY_RATE_LIMIT_EMAIL_CODES",
        )?;
        set(&mut c.trusted_proxy_hops, "IDENTITY_TRUSTED_PROXY_HOPS")?;
        days(
            &mut c.program.reapply_after,
            "IDENTITY_PROGRAM_REAPPLY_DAYS",
        )?;
        days(&mut c.program.hold, "IDENTITY_PROGRAM_HOLD_DAYS")?;
        days(
            &mut c.program.attribution_window,
            "IDENTITY_PROGRAM_ATTRIBUTION_DAYS",
        )?;
        set(
            &mut c.program.max_vanity_codes,
            "IDENTITY_PROGRAM_MAX_VANITY_CODES",
        )?;
        let mut bps = c.program.default_commission_rate.bps();
        set(&mut bps, "IDENTITY_PROGRAM_COMMISSION_BPS")?;
        c.program.default_commission_rate = aggregates::values::CommissionRate::from_bps(bps)
            .map_err(|_| {
                ConfigError::unparsable("IDENTITY_PROGRAM_COMMISSION_BPS", &bps.to_string())
            })?;
        millis(&mut c.projection_poll, "IDENTITY_PROJECTION_POLL_MS")?;
        secs(&mut c.shutdown_grace, "IDENTITY_SHUTDOWN_GRACE_SECS")?;
        set(&mut c.log_filter, "IDENTITY_LOG")?;
        // NATS is optional: without a URL the feed over HTTP is the way out.
        c.relay_enabled = var("IDENTITY_NATS_URL").is_some();
        set(&mut c.relay_enabled, "IDENTITY_RELAY_ENABLED")?;
        if c.relay_enabled && var("IDENTITY_NATS_URL").is_none() {
            return Err(ConfigError::new(
                "IDENTITY_RELAY_ENABLED",
                "true needs IDENTITY_NATS_URL",
            ));
        }
        set(&mut c.relay.url, "IDENTITY_NATS_URL")?;
        set(&mut c.relay.stream, "IDENTITY_NATS_STREAM")?;
        set(&mut c.relay.subject_prefix, "IDENTITY_NATS_SUBJECT_PREFIX")?;
        secs(&mut c.relay.max_age, "IDENTITY_NATS_MAX_AGE_SECS")?;
        secs(
            &mut c.relay.duplicate_window,
            "IDENTITY_NATS_DUPLICATE_WINDOW_SECS",
        )?;
        set(
            &mut c.relay.crash_after_publish,
            "IDENTITY_RELAY_CRASH_AFTER_PUBLISH",
        )?;
        set(&mut c.hsts, "IDENTITY_HSTS")?;
        set(
            &mut c.bench_skip_revocation_check,
            "IDENTITY_BENCH_SKIP_REVOCATION_CHECK",
        )?;
        Ok(c)
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn set<T: FromStr>(slot: &mut T, name: &'static str) -> Result<(), ConfigError> {
    if let Some(value) = var(name) {
        *slot = value
            .parse()
            .map_err(|_| ConfigError::unparsable(name, &value))?;
    }
    Ok(())
}

fn secs(slot: &mut Duration, name: &'static str) -> Result<(), ConfigError> {
    let mut n = slot.as_secs();
    set(&mut n, name)?;
    *slot = Duration::from_secs(n);
    Ok(())
}

fn days(slot: &mut chrono::Duration, name: &'static str) -> Result<(), ConfigError> {
    let mut n = slot.num_days();
    set(&mut n, name)?;
    *slot = chrono::Duration::days(n);
    Ok(())
}

fn millis(slot: &mut Duration, name: &'static str) -> Result<(), ConfigError> {
    let mut n = slot.as_millis() as u64;
    set(&mut n, name)?;
    *slot = Duration::from_millis(n);
    Ok(())
}

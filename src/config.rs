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
pub mod oidc;
pub mod settings;

pub use database_url::DatabaseUrl;

use crate::clock::Clock;
use crate::ratelimit::RateLimits;
use crate::relay::RelayConfig;
use crate::telemetry::traces::TraceExport;

/// A setting the service cannot start with, named, in one line.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    name: String,
    problem: String,
}

impl ConfigError {
    pub fn new(name: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            problem: problem.into(),
        }
    }

    /// `NAME: cannot parse "VALUE": expected WHAT`, from the settings table.
    fn unparsable(name: &'static str, value: &str) -> Self {
        let expects = settings::setting(name).map_or("", |s| s.expects);
        Self::new(name, format!("cannot parse {value:?}: expected {expects}"))
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// Connections in the pool; `None` for the backend's default
    /// (`startup::default_pool_size`).
    pub db_max_connections: Option<u32>,
    pub listen_addr: SocketAddr,
    /// Where `GET /metrics` is served (see `instruments`): its own
    /// listener, loopback by default, so it is never public by accident.
    pub metrics_addr: SocketAddr,
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
    pub sms: SmsConfig,
    /// OpenID providers to sign in with (see `config::oidc`).
    pub oidc: oidc::OidcConfig,
    pub tokens: TokenConfig,
    /// When signing keys rotate (see `auth::keys`).
    pub signing_key_rotation: chrono::Duration,
    pub signing_key_publish_ahead: Duration,
    pub codes: CodeConfig,
    pub username_policy: UsernamePolicy,
    /// How long a username changed for another stays reserved to its
    /// account (see `store::claims`).
    pub username_reservation: chrono::Duration,
    pub password_policy: PasswordPolicy,
    pub argon2: Argon2Config,
    pub lockout: LockoutPolicy,
    /// The issuer name authenticator apps show beside a TOTP account.
    pub totp_issuer: String,
    pub rate_limits: RateLimits,
    /// Reverse proxies in front of the service that append to
    /// `X-Forwarded-For`; 0 means the socket's peer is the client.
    pub trusted_proxy_hops: usize,
    pub projection_poll: Duration,
    /// How long a stopping instance waits for in-flight requests and its
    /// background loops after SIGTERM before it exits anyway.
    pub shutdown_grace: Duration,
    /// After SIGTERM, how long the instance goes on serving with readiness
    /// at 503 before it stops accepting (time for a load balancer or
    /// Kubernetes to take it out of rotation).
    pub shutdown_drain: Duration,
    pub log_filter: String,
    /// Where spans are exported; `None`: traces off.
    pub traces: Option<TraceExport>,
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

/// The SMS provider (a Twilio-compatible Messages API).
#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// Base URL; `None`: messages are written under `<data_dir>/sms/`.
    pub url: Option<String>,
    pub account: String,
    pub token: Option<String>,
    pub from: String,
    pub timeout: Duration,
    /// How long the breaker stays open (not a setting: tests shorten it).
    pub breaker_cool_down: Duration,
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

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 1025,
            from: "no-reply@identity.local".to_owned(),
            starttls: false,
            username: None,
            password: None,
            timeout: Duration::from_secs(5),
        }
    }
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            url: None,
            account: "identity".to_owned(),
            token: None,
            from: "+15005550006".to_owned(),
            timeout: Duration::from_secs(5),
            breaker_cool_down: crate::breaker::COOL_DOWN,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            database_url: "sqlite://./data/identity.db".to_owned(),
            db_max_connections: None,
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 9464)),
            public_url: "http://localhost:8080".to_owned(),
            audience: "identity-clients".to_owned(),
            secret_hex: None,
            data_dir: PathBuf::from("./data"),
            smtp_enabled: false,
            smtp: SmtpConfig::default(),
            sms: SmsConfig::default(),
            oidc: oidc::OidcConfig::default(),
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
            username_reservation: chrono::Duration::days(30),
            signing_key_rotation: chrono::Duration::days(30),
            signing_key_publish_ahead: crate::auth::keys::JWKS_MAX_AGE,
            password_policy: PasswordPolicy::default(),
            argon2: Argon2Config {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
                concurrency: cores,
            },
            lockout: LockoutPolicy::default(),
            totp_issuer: "Identity".to_owned(),
            rate_limits: RateLimits::default(),
            trusted_proxy_hops: 0,
            projection_poll: Duration::from_millis(250),
            shutdown_grace: Duration::from_secs(10),
            shutdown_drain: Duration::ZERO,
            log_filter: "info".to_owned(),
            traces: None,
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
    /// When signing keys rotate, from the settings.
    pub fn rotation_policy(&self) -> crate::auth::keys::RotationPolicy {
        crate::auth::keys::RotationPolicy {
            every: self.signing_key_rotation,
            publish_ahead: self.signing_key_publish_ahead,
            access_ttl: self.tokens.access_ttl,
        }
    }

    /// Defaults overridden by whatever `IDENTITY_*` variables are set.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Defaults overridden by the settings `lookup` knows (each named in
    /// [`settings::SETTINGS`]); empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let mut c = Self::default();
        c.read_storage(&env)?;
        c.read_http(&env)?;
        c.read_smtp(&env)?;
        c.read_sms(&env)?;
        c.oidc.read(&env)?;
        c.read_accounts(&env)?;
        c.read_limits(&env)?;
        c.read_program(&env)?;
        c.read_operations(&env)?;
        c.read_relay(&env)?;
        Ok(c)
    }

    /// The data directory and the database.
    fn read_storage(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let c = self;
        env.set(&mut c.data_dir, "IDENTITY_DATA_DIR")?;
        // Unset: the embedded default, a SQLite file in the data directory.
        c.database_url = env
            .var("IDENTITY_DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}", c.data_dir.join("identity.db").display()));
        DatabaseUrl::parse(&c.database_url)
            .map_err(|problem| ConfigError::new("IDENTITY_DATABASE_URL", problem))?;
        if env.var("IDENTITY_DB_MAX_CONNECTIONS").is_some() {
            let mut n = 0;
            env.set(&mut n, "IDENTITY_DB_MAX_CONNECTIONS")?;
            c.db_max_connections = Some(n);
        }
        Ok(())
    }

    /// Where the service listens and who it says it is.
    fn read_http(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let c = self;
        env.set(&mut c.listen_addr, "IDENTITY_LISTEN_ADDR")?;
        env.set(&mut c.metrics_addr, "IDENTITY_METRICS_ADDR")?;
        env.set(&mut c.public_url, "IDENTITY_PUBLIC_URL")?;
        env.set(&mut c.audience, "IDENTITY_AUDIENCE")?;
        c.secret_hex = env.var("IDENTITY_SECRET");
        env.set(&mut c.hsts, "IDENTITY_HSTS")?;
        env.set(
            &mut c.bench_skip_revocation_check,
            "IDENTITY_BENCH_SKIP_REVOCATION_CHECK",
        )?;
        Ok(())
    }

    /// Outgoing mail.
    fn read_smtp(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let c = self;
        c.smtp_enabled = env.var("IDENTITY_SMTP_HOST").is_some();
        env.set(&mut c.smtp.host, "IDENTITY_SMTP_HOST")?;
        env.set(&mut c.smtp.port, "IDENTITY_SMTP_PORT")?;
        env.set(&mut c.smtp.from, "IDENTITY_SMTP_FROM")?;
        env.set(&mut c.smtp.starttls, "IDENTITY_SMTP_STARTTLS")?;
        c.smtp.username = env.var("IDENTITY_SMTP_USERNAME");
        c.smtp.password = env.var("IDENTITY_SMTP_PASSWORD");
        env.millis(&mut c.smtp.timeout, "IDENTITY_SMTP_TIMEOUT_MS")?;
        Ok(())
    }

    /// The SMS provider.
    fn read_sms(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let c = self;
        c.sms.url = env.var("IDENTITY_SMS_URL");
        env.set(&mut c.sms.account, "IDENTITY_SMS_ACCOUNT")?;
        c.sms.token = env.var("IDENTITY_SMS_TOKEN");
        env.set(&mut c.sms.from, "IDENTITY_SMS_FROM")?;
        env.millis(&mut c.sms.timeout, "IDENTITY_SMS_TIMEOUT_MS")?;
        Ok(())
    }

    /// Tokens, codes, username and password policies, hashing, lockout.
    fn read_accounts(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let c = self;
        env.secs(&mut c.tokens.access_ttl, "IDENTITY_ACCESS_TOKEN_TTL_SECS")?;
        env.secs(&mut c.tokens.refresh_ttl, "IDENTITY_REFRESH_TOKEN_TTL_SECS")?;
        env.secs(&mut c.tokens.refresh_grace, "IDENTITY_REFRESH_GRACE_SECS")?;
        env.secs(&mut c.codes.ttl, "IDENTITY_EMAIL_CODE_TTL_SECS")?;
        env.set(
            &mut c.codes.max_attempts,
            "IDENTITY_EMAIL_CODE_MAX_ATTEMPTS",
        )?;
        env.secs(
            &mut c.codes.resend_cooldown,
            "IDENTITY_EMAIL_RESEND_COOLDOWN_SECS",
        )?;
        env.set(&mut c.username_policy.min_len, "IDENTITY_USERNAME_MIN_LEN")?;
        env.set(&mut c.username_policy.max_len, "IDENTITY_USERNAME_MAX_LEN")?;
        env.days(
            &mut c.username_reservation,
            "IDENTITY_USERNAME_RESERVATION_DAYS",
        )?;
        env.days(
            &mut c.signing_key_rotation,
            "IDENTITY_SIGNING_KEY_ROTATION_DAYS",
        )?;
        env.secs(
            &mut c.signing_key_publish_ahead,
            "IDENTITY_SIGNING_KEY_PUBLISH_AHEAD_SECS",
        )?;
        env.set(&mut c.password_policy.min_len, "IDENTITY_PASSWORD_MIN_LEN")?;
        env.set(&mut c.password_policy.max_len, "IDENTITY_PASSWORD_MAX_LEN")?;
        env.set(&mut c.argon2.memory_kib, "IDENTITY_ARGON2_MEMORY_KIB")?;
        env.set(&mut c.argon2.iterations, "IDENTITY_ARGON2_ITERATIONS")?;
        env.set(&mut c.argon2.parallelism, "IDENTITY_ARGON2_PARALLELISM")?;
        env.set(&mut c.argon2.concurrency, "IDENTITY_HASH_CONCURRENCY")?;
        env.set(&mut c.lockout.max_failures, "IDENTITY_LOCKOUT_MAX_FAILURES")?;
        let mut lock_secs = c.lockout.lock_duration.num_seconds();
        env.set(&mut lock_secs, "IDENTITY_LOCKOUT_SECS")?;
        c.lockout.lock_duration = chrono::Duration::seconds(lock_secs);
        env.set(&mut c.totp_issuer, "IDENTITY_TOTP_ISSUER")?;
        Ok(())
    }

    /// Rate limits and the proxies in front.
    fn read_limits(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let c = self;
        env.set(&mut c.rate_limits.api_per_ip, "IDENTITY_RATE_LIMIT_API")?;
        env.set(
            &mut c.rate_limits.login_per_identifier,
            "IDENTITY_RATE_LIMIT_LOGIN",
        )?;
        env.set(
            &mut c.rate_limits.register_per_ip,
            "IDENTITY_RATE_LIMIT_REGISTER",
        )?;
        env.set(
            &mut c.rate_limits.email_codes_per_address,
            "IDENTITY_RATE_LIMIT_EMAIL_CODES",
        )?;
        env.set(
            &mut c.rate_limits.sms_per_ip_and_account,
            "IDENTITY_RATE_LIMIT_SMS",
        )?;
        env.set(&mut c.trusted_proxy_hops, "IDENTITY_TRUSTED_PROXY_HOPS")?;
        Ok(())
    }

    /// The influencer program's rules.
    fn read_program(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let c = self;
        env.days(
            &mut c.program.reapply_after,
            "IDENTITY_PROGRAM_REAPPLY_DAYS",
        )?;
        env.days(&mut c.program.hold, "IDENTITY_PROGRAM_HOLD_DAYS")?;
        env.days(
            &mut c.program.attribution_window,
            "IDENTITY_PROGRAM_ATTRIBUTION_DAYS",
        )?;
        env.set(
            &mut c.program.max_vanity_codes,
            "IDENTITY_PROGRAM_MAX_VANITY_CODES",
        )?;
        let mut bps = c.program.default_commission_rate.bps();
        env.set(&mut bps, "IDENTITY_PROGRAM_COMMISSION_BPS")?;
        c.program.default_commission_rate = aggregates::values::CommissionRate::from_bps(bps)
            .map_err(|_| {
                ConfigError::unparsable("IDENTITY_PROGRAM_COMMISSION_BPS", &bps.to_string())
            })?;
        Ok(())
    }

    /// Projections, shutdown and logs.
    fn read_operations(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let c = self;
        env.millis(&mut c.projection_poll, "IDENTITY_PROJECTION_POLL_MS")?;
        env.secs(&mut c.shutdown_grace, "IDENTITY_SHUTDOWN_GRACE_SECS")?;
        env.secs(&mut c.shutdown_drain, "IDENTITY_SHUTDOWN_DRAIN_SECS")?;
        env.set(&mut c.log_filter, "IDENTITY_LOG")?;
        if tracing_subscriber::EnvFilter::try_new(&c.log_filter).is_err() {
            return Err(ConfigError::unparsable("IDENTITY_LOG", &c.log_filter));
        }
        c.traces = trace_export(env)?;
        Ok(())
    }

    /// The NATS relay: optional, since the HTTP feed serves without it.
    fn read_relay(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let c = self;
        // NATS is optional: without a URL the feed over HTTP is the way out.
        c.relay_enabled = env.var("IDENTITY_NATS_URL").is_some();
        env.set(&mut c.relay_enabled, "IDENTITY_RELAY_ENABLED")?;
        if c.relay_enabled && env.var("IDENTITY_NATS_URL").is_none() {
            return Err(ConfigError::new(
                "IDENTITY_RELAY_ENABLED",
                "true needs IDENTITY_NATS_URL",
            ));
        }
        env.set(&mut c.relay.url, "IDENTITY_NATS_URL")?;
        env.set(&mut c.relay.stream, "IDENTITY_NATS_STREAM")?;
        env.set(&mut c.relay.subject_prefix, "IDENTITY_NATS_SUBJECT_PREFIX")?;
        env.secs(&mut c.relay.max_age, "IDENTITY_NATS_MAX_AGE_SECS")?;
        env.secs(
            &mut c.relay.duplicate_window,
            "IDENTITY_NATS_DUPLICATE_WINDOW_SECS",
        )?;
        env.set(
            &mut c.relay.crash_after_publish,
            "IDENTITY_RELAY_CRASH_AFTER_PUBLISH",
        )?;
        Ok(())
    }
}

/// Where traces go, by the OpenTelemetry SDKs' standard variables: the
/// traces URL itself, or the collector's base URL with `/v1/traces`
/// appended (as the OTLP/HTTP specification says). None: traces off.
fn trace_export(env: &Env<'_>) -> Result<Option<TraceExport>, ConfigError> {
    let service_name = env
        .var("OTEL_SERVICE_NAME")
        .unwrap_or_else(|| "identity".to_owned());
    let (name, endpoint) = match (
        env.var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        env.var("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(url), _) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url),
        (None, Some(base)) => (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("{}/v1/traces", base.trim_end_matches('/')),
        ),
        (None, None) => return Ok(None),
    };
    let valid = endpoint.parse::<axum::http::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
    });
    if !valid {
        let given = env.var(name).unwrap_or_default();
        return Err(ConfigError::unparsable(name, &given));
    }
    Ok(Some(TraceExport {
        endpoint,
        service_name,
    }))
}

/// The settings as `Config::from_lookup` reads them.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn var(&self, name: &'static str) -> Option<String> {
        debug_assert!(
            settings::setting(name).is_some(),
            "{name} is not in SETTINGS"
        );
        (self.0)(name).filter(|v| !v.is_empty())
    }

    /// A setting of one OpenID provider: `pattern` as the table names it
    /// (`IDENTITY_OIDC_<NAME>_...`), `<NAME>` replaced by the provider's.
    fn per_provider(&self, pattern: &'static str, provider: &str) -> Option<String> {
        debug_assert!(
            settings::setting(pattern).is_some(),
            "{pattern} is not in SETTINGS"
        );
        let name = pattern.replace("<NAME>", &provider.to_ascii_uppercase());
        (self.0)(&name).filter(|v| !v.is_empty())
    }

    fn set<T: FromStr>(&self, slot: &mut T, name: &'static str) -> Result<(), ConfigError> {
        if let Some(value) = self.var(name) {
            *slot = value
                .parse()
                .map_err(|_| ConfigError::unparsable(name, &value))?;
        }
        Ok(())
    }

    fn secs(&self, slot: &mut Duration, name: &'static str) -> Result<(), ConfigError> {
        let mut n = slot.as_secs();
        self.set(&mut n, name)?;
        *slot = Duration::from_secs(n);
        Ok(())
    }

    fn days(&self, slot: &mut chrono::Duration, name: &'static str) -> Result<(), ConfigError> {
        let mut n = slot.num_days();
        self.set(&mut n, name)?;
        *slot = chrono::Duration::days(n);
        Ok(())
    }

    fn millis(&self, slot: &mut Duration, name: &'static str) -> Result<(), ConfigError> {
        let mut n = slot.as_millis() as u64;
        self.set(&mut n, name)?;
        *slot = Duration::from_millis(n);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn configuration_reads_every_setting_of_the_table_and_nothing_else() {
        let asked = RefCell::new(BTreeSet::new());
        Config::from_lookup(|name| {
            // The default provider's settings, as the table names them.
            let pattern = name.replace("IDENTITY_OIDC_GOOGLE_", "IDENTITY_OIDC_<NAME>_");
            asked.borrow_mut().insert(pattern);
            None
        })
        .unwrap();
        let table: BTreeSet<String> = settings::SETTINGS
            .iter()
            .map(|s| s.name.to_owned())
            .collect();
        assert_eq!(asked.into_inner(), table);
    }

    #[test]
    fn an_unparsable_setting_names_itself_the_value_and_what_it_expects() {
        let error = Config::from_lookup(|name| {
            (name == "IDENTITY_RATE_LIMIT_API").then(|| "100".to_owned())
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"IDENTITY_RATE_LIMIT_API: cannot parse "100": expected QUOTA/SECONDS"#
        );
    }

    fn traces_with(settings: &[(&str, &str)]) -> Result<Option<TraceExport>, ConfigError> {
        Config::from_lookup(|name| {
            settings
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .map(|c| c.traces)
    }

    #[test]
    fn traces_are_off_unless_an_otlp_endpoint_is_set_and_go_to_its_traces_path() {
        assert_eq!(traces_with(&[]).unwrap(), None);
        let on = traces_with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_SERVICE_NAME", "identity-eu"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(on.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(on.service_name, "identity-eu");
        let exact = traces_with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://traces.example/in",
            ),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(exact.endpoint, "https://traces.example/in");
        assert_eq!(exact.service_name, "identity");
    }

    #[test]
    fn a_malformed_otlp_endpoint_stops_start_up_naming_it() {
        for bad in ["collector:4318", "ftp://collector", "http://"] {
            let error = traces_with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", bad)]).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("OTEL_EXPORTER_OTLP_ENDPOINT: cannot parse"),
                "{error}"
            );
        }
    }
}

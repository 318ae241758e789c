//! Every `IDENTITY_*` setting in one table: its name, its default as
//! shown to people, what a value must look like, and its help text.
//!
//! `Config::from_lookup` reads settings only through this table (a name
//! it does not list is a bug its tests catch), `identity serve --help`
//! prints it, parse errors quote its `expects`, and a test checks the
//! README's configuration table against it name by name and default by
//! default.

/// One setting the service reads from its environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    /// The default as people read it (`unset` when there is none).
    pub default: &'static str,
    /// What a value must look like: the end of a parse error,
    /// `NAME: cannot parse "VALUE": expected EXPECTS`.
    pub expects: &'static str,
    pub help: &'static str,
    /// Only for tests or the bench: not in the README's table (its prose
    /// names them), marked as such in `--help`.
    pub internal: bool,
}

const fn s(
    name: &'static str,
    default: &'static str,
    expects: &'static str,
    help: &'static str,
) -> Setting {
    Setting {
        name,
        default,
        expects,
        help,
        internal: false,
    }
}

/// A `true`/`false` switch for tests or the bench only, off by default.
const fn internal(name: &'static str, help: &'static str) -> Setting {
    Setting {
        internal: true,
        ..s(name, "false", BOOL, help)
    }
}

const SECONDS: &str = "a whole number of seconds";
const MILLIS: &str = "a whole number of milliseconds";
const DAYS: &str = "a whole number of days";
const COUNT: &str = "a whole number";
const BOOL: &str = "true or false";
const TEXT: &str = "any text";
const QUOTA: &str = "QUOTA/SECONDS";

/// Every setting, in the order of the README's table.
#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    s("IDENTITY_DATABASE_URL", "sqlite://<IDENTITY_DATA_DIR>/identity.db", "a postgres://, postgresql:// or sqlite:// URL", "where the event store and read models live; the scheme picks the backend"),
    s("IDENTITY_LISTEN_ADDR", "127.0.0.1:8080", "an address such as 0.0.0.0:8080", "address the HTTP server listens on"),
    s("IDENTITY_METRICS_ADDR", "127.0.0.1:9464", "an address such as 0.0.0.0:9464", "address `GET /metrics` (Prometheus) is served on, apart from the API"),
    s("IDENTITY_PUBLIC_URL", "http://localhost:8080", TEXT, "the URL clients reach the service at; also the JWT iss"),
    s("IDENTITY_AUDIENCE", "identity-clients", TEXT, "the JWT aud"),
    s("IDENTITY_SIGNING_KEY_ROTATION_DAYS", "30", DAYS, "a signing key older than this is replaced automatically (0: only by `identity keys rotate`)"),
    s("IDENTITY_SIGNING_KEY_PUBLISH_AHEAD_SECS", "300", SECONDS, "how long a new signing key is in the JWKS before it signs (at least the JWKS cache lifetime, 300 s)"),
    s("IDENTITY_SECRET", "none", "hex of at least 32 bytes", "keys code HMACs, refresh successors, sealed signing keys, TOTP secrets and sign-in states; unset: a random one in IDENTITY_DATA_DIR/secret.key"),
    s("IDENTITY_DATA_DIR", "./data", "a writable directory", "local state: the SQLite file by default, mail/ without SMTP, secret.key"),
    s("IDENTITY_SMTP_HOST", "unset", TEXT, "SMTP server for outgoing email; unset: messages are written under IDENTITY_DATA_DIR/mail/"),
    s("IDENTITY_SMTP_PORT", "1025", "a port number", "the SMTP server's port"),
    s("IDENTITY_SMTP_FROM", "no-reply@identity.local", "an email address", "sender address of outgoing email"),
    s("IDENTITY_SMTP_STARTTLS", "false", BOOL, "upgrade the SMTP connection with STARTTLS"),
    s("IDENTITY_SMTP_USERNAME", "none", TEXT, "SMTP login, when the relay requires one"),
    s("IDENTITY_SMTP_PASSWORD", "none", TEXT, "its password"),
    s("IDENTITY_SMTP_TIMEOUT_MS", "5000", MILLIS, "timeout for one SMTP delivery"),
    s("IDENTITY_SMS_URL", "unset", "an http(s) URL", "base URL of a Twilio-compatible Messages API; unset: texts are written under IDENTITY_DATA_DIR/sms/"),
    s("IDENTITY_SMS_ACCOUNT", "identity", TEXT, "the provider's account (the URL's account id and the basic-auth user)"),
    s("IDENTITY_SMS_TOKEN", "none", TEXT, "the provider's auth token (the basic-auth password)"),
    s("IDENTITY_SMS_FROM", "+15005550006", "an E.164 number", "sender number of outgoing texts"),
    s("IDENTITY_SMS_TIMEOUT_MS", "5000", MILLIS, "timeout for one call to the SMS provider"),
    s("IDENTITY_OIDC_PROVIDERS", "google", "comma-separated provider names", "OpenID providers that may be configured; each is on when its CLIENT_ID is set"),
    s("IDENTITY_OIDC_<NAME>_CLIENT_ID", "unset", TEXT, "the client id registered at provider NAME (e.g. IDENTITY_OIDC_GOOGLE_CLIENT_ID); unset: that provider is off"),
    s("IDENTITY_OIDC_<NAME>_CLIENT_SECRET", "none", TEXT, "its client secret"),
    s("IDENTITY_OIDC_<NAME>_ISSUER", "https://accounts.google.com for GOOGLE", "an http(s) URL", "the provider's issuer, discovered at ISSUER/.well-known/openid-configuration"),
    s("IDENTITY_OIDC_REDIRECT_URIS", "unset", "comma-separated URLs", "where a web sign-in may return the browser to (exact match)"),
    s("IDENTITY_OIDC_TIMEOUT_MS", "5000", MILLIS, "timeout for one call to an OpenID provider"),
    s("IDENTITY_ACCESS_TOKEN_TTL_SECS", "900", SECONDS, "lifetime of an access token"),
    s("IDENTITY_REFRESH_TOKEN_TTL_SECS", "2592000", SECONDS, "lifetime of a refresh token (30 days)"),
    s("IDENTITY_REFRESH_GRACE_SECS", "10", SECONDS, "how long a just-rotated refresh token still gets the same successor"),
    s("IDENTITY_EMAIL_CODE_TTL_SECS", "600", SECONDS, "lifetime of an email verification code"),
    s("IDENTITY_EMAIL_CODE_MAX_ATTEMPTS", "5", COUNT, "wrong guesses allowed for one code"),
    s("IDENTITY_EMAIL_RESEND_COOLDOWN_SECS", "60", SECONDS, "minimum time between two codes sent to the same address"),
    s("IDENTITY_USERNAME_MIN_LEN", "3", COUNT, "shortest allowed username"),
    s("IDENTITY_USERNAME_MAX_LEN", "32", COUNT, "longest allowed username"),
    s("IDENTITY_USERNAME_RESERVATION_DAYS", "30", DAYS, "days a username changed for another stays reserved to its account"),
    s("IDENTITY_PASSWORD_MIN_LEN", "8", COUNT, "shortest allowed password"),
    s("IDENTITY_PASSWORD_MAX_LEN", "128", COUNT, "longest allowed password"),
    s("IDENTITY_ARGON2_MEMORY_KIB", "19456", COUNT, "Argon2 memory cost, in KiB"),
    s("IDENTITY_ARGON2_ITERATIONS", "2", COUNT, "Argon2 time cost"),
    s("IDENTITY_ARGON2_PARALLELISM", "1", COUNT, "Argon2 lanes"),
    s("IDENTITY_HASH_CONCURRENCY", "number of cores", COUNT, "password hashes computed at the same time"),
    s("IDENTITY_LOCKOUT_MAX_FAILURES", "5", COUNT, "consecutive failed password checks that lock an account"),
    s("IDENTITY_LOCKOUT_SECS", "1800", SECONDS, "how long the lock lasts"),
    s("IDENTITY_TOTP_ISSUER", "Identity", TEXT, "the name authenticator apps show beside a TOTP account"),
    s("IDENTITY_RATE_LIMIT_API", "100/60", QUOTA, "requests per client IP on /api/v1; a quota of 0 turns a limit off"),
    s("IDENTITY_RATE_LIMIT_LOGIN", "5/900", QUOTA, "login attempts per identifier"),
    s("IDENTITY_RATE_LIMIT_REGISTER", "10/3600", QUOTA, "registrations per client IP"),
    s("IDENTITY_RATE_LIMIT_EMAIL_CODES", "5/3600", QUOTA, "email-code requests per address, and SMS codes per number"),
    s("IDENTITY_RATE_LIMIT_SMS", "10/3600", QUOTA, "texts asked for per client IP, and per account"),
    s("IDENTITY_TRUSTED_PROXY_HOPS", "0", COUNT, "reverse proxies in front that append to X-Forwarded-For"),
    s("IDENTITY_PROGRAM_COMMISSION_BPS", "1000", "a whole number of basis points, 0 to 10000", "default commission rate of new influencers"),
    s("IDENTITY_PROGRAM_HOLD_DAYS", "30", DAYS, "days an earning stays pending before it is available"),
    s("IDENTITY_PROGRAM_ATTRIBUTION_DAYS", "365", DAYS, "days after signup during which a referred user's conversions earn"),
    s("IDENTITY_PROGRAM_REAPPLY_DAYS", "30", DAYS, "days a rejected applicant waits before applying again"),
    s("IDENTITY_PROGRAM_MAX_VANITY_CODES", "5", COUNT, "active vanity codes per influencer"),
    s("IDENTITY_DB_MAX_CONNECTIONS", "20 on PostgreSQL, 16 on SQLite", COUNT, "size of the connection pool"),
    s("IDENTITY_PROJECTION_POLL_MS", "250", MILLIS, "how often projections look for new events"),
    s("IDENTITY_SHUTDOWN_GRACE_SECS", "10", SECONDS, "after SIGTERM, how long in-flight work may finish"),
    s("IDENTITY_SHUTDOWN_DRAIN_SECS", "0", SECONDS, "after SIGTERM, how long the instance keeps serving with readiness at 503 before it stops accepting"),
    s("IDENTITY_LOG", "info", "a tracing filter such as info,identity=debug", "log filter; logs go to stderr"),
    s("OTEL_EXPORTER_OTLP_ENDPOINT", "unset", "an http:// or https:// URL", "OpenTelemetry collector (OTLP/HTTP) that receives traces at <URL>/v1/traces; traces are off when unset"),
    s("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "unset", "an http:// or https:// URL", "the full traces URL, in place of the one OTEL_EXPORTER_OTLP_ENDPOINT gives"),
    s("OTEL_SERVICE_NAME", "identity", TEXT, "the service name spans carry"),
    s("IDENTITY_NATS_URL", "unset", TEXT, "NATS JetStream server events are published to; unset: the relay is off"),
    s("IDENTITY_RELAY_ENABLED", "true when IDENTITY_NATS_URL is set", BOOL, "false keeps this instance from publishing"),
    s("IDENTITY_NATS_STREAM", "IDENTITY_EVENTS", TEXT, "JetStream stream the events go to"),
    s("IDENTITY_NATS_SUBJECT_PREFIX", "identity", TEXT, "first token of the subjects, <prefix>.<aggregate>.<Event>"),
    s("IDENTITY_NATS_MAX_AGE_SECS", "604800", SECONDS, "how long a created stream keeps a message (7 days)"),
    s("IDENTITY_NATS_DUPLICATE_WINDOW_SECS", "600", SECONDS, "JetStream duplicate window of a created stream"),
    s("IDENTITY_HSTS", "false", BOOL, "send Strict-Transport-Security (only behind HTTPS)"),
    internal("IDENTITY_RELAY_CRASH_AFTER_PUBLISH", "tests only: the relay aborts after publishing a batch"),
    internal("IDENTITY_BENCH_SKIP_REVOCATION_CHECK", "benchmark only: access tokens skip the revocation check"),
];

/// The setting called `name`.
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// The settings as `identity serve --help` lists them.
pub fn help() -> String {
    let width = SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut out =
        String::from("Settings (environment variables; every command reads the same ones):\n");
    for s in SETTINGS {
        out.push_str(&format!(
            "  {:width$}  {}{} [default: {}]\n",
            s.name,
            if s.internal { "(internal) " } else { "" },
            s.help,
            s.default,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// `name -> default` of the README's configuration table, backticks
    /// stripped.
    fn readme_table() -> BTreeMap<String, String> {
        let readme = include_str!("../../README.md");
        readme
            .lines()
            .filter(|line| line.starts_with("| `IDENTITY_") || line.starts_with("| `OTEL_"))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let strip = |cell: &str| cell.replace('`', "");
                (strip(cells[1]), strip(cells[2]))
            })
            .collect()
    }

    #[test]
    fn the_readme_table_lists_every_setting_with_its_default() {
        let readme = readme_table();
        let table: BTreeMap<String, String> = SETTINGS
            .iter()
            .filter(|s| !s.internal)
            .map(|s| (s.name.to_owned(), s.default.to_owned()))
            .collect();
        assert_eq!(readme, table);
        let text = include_str!("../../README.md");
        for s in SETTINGS.iter().filter(|s| s.internal) {
            assert!(text.contains(s.name), "README does not mention {}", s.name);
        }
    }

    #[test]
    fn the_kubernetes_manifests_set_only_settings_that_exist() {
        let manifests = [
            include_str!("../../deploy/k8s/configmap.yaml"),
            include_str!("../../deploy/k8s/secret.example.yaml"),
        ];
        let names = manifests
            .iter()
            .flat_map(|text| text.lines())
            .filter_map(|line| line.trim_start().split_once(':'))
            .map(|(key, _)| key)
            .filter(|key| key.starts_with("IDENTITY_") || key.starts_with("OTEL_"));
        let mut count = 0;
        for name in names {
            assert!(
                SETTINGS.iter().any(|s| s.name == name),
                "{name} is no setting"
            );
            count += 1;
        }
        assert!(count >= 10, "only {count} settings found");
    }

    #[test]
    fn help_names_every_setting_once() {
        let help = help();
        for s in SETTINGS {
            let lines = help
                .lines()
                .filter(|line| line.trim_start().starts_with(&format!("{} ", s.name)));
            assert_eq!(lines.count(), 1, "{}", s.name);
        }
    }
}

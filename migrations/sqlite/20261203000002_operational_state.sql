-- Operational state on SQLite: one-time codes, cooldowns, rate-limit
-- counters and signing keys, as on PostgreSQL. Times are TEXT (RFC 3339,
-- UTC), written and compared by the service.
CREATE TABLE one_time_codes (
    purpose         TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    code_mac        BLOB    NOT NULL,
    expires_at      TEXT    NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT    NOT NULL,
    PRIMARY KEY (purpose, subject)
);

CREATE TABLE cooldowns (
    key   TEXT PRIMARY KEY,
    until TEXT NOT NULL
);

-- window_start in whole seconds since the epoch.
CREATE TABLE rate_limit_counters (
    key          TEXT    PRIMARY KEY,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL
);
CREATE INDEX rate_limit_counters_window_idx ON rate_limit_counters (window_start);

CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    algorithm          TEXT NOT NULL,
    public_key         BLOB NOT NULL,
    sealed_private_key BLOB NOT NULL,
    created_at         TEXT NOT NULL,
    retired_at         TEXT
);

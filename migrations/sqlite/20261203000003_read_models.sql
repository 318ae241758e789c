-- Read models, projection and relay cursors on SQLite: the final state of
-- the PostgreSQL schema (migrations/postgres/, after every ALTER), in the
-- dialect's types. UUIDs are 16-byte BLOBs (as sqlx binds uuid::Uuid),
-- times are TEXT (RFC 3339, UTC), dates TEXT ('YYYY-MM-DD'), JSON and
-- text[] arrays TEXT holding JSON, booleans INTEGER (0/1).
--
-- Cursors: on SQLite the log's cursor is its position alone (commit order
-- is position order), so every tx_id column below mirrors position. It is
-- kept so that rows have the same shape as on PostgreSQL.

-- One row per projection: how far it has applied the log. Updated in the
-- same transaction as the projection's read-model rows.
CREATE TABLE projection_checkpoints (
    name       TEXT    PRIMARY KEY,
    -- mirrors position on SQLite
    tx_id      INTEGER NOT NULL DEFAULT 0,
    position   INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- The event each stalled projection could not apply, with the error it
-- gave. A failing projection stops at the event before it and retries with
-- a growing pause; the row is deleted when the event finally applies, so
-- its presence is the projection's "stalled" state (`/health/ready`,
-- `identity projections status`).
CREATE TABLE projection_failures (
    name            TEXT    PRIMARY KEY,
    -- mirrors position on SQLite
    tx_id           INTEGER NOT NULL DEFAULT 0,
    position        INTEGER NOT NULL,
    aggregate_type  TEXT    NOT NULL,
    aggregate_id    TEXT    NOT NULL,
    sequence        INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    error           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 1,
    first_failed_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_failed_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- How far the NATS relay has published the log (same cursor as the
-- projections). Moved only after JetStream acknowledged every event up to
-- it.
CREATE TABLE relay_checkpoints (
    name       TEXT    PRIMARY KEY,
    -- mirrors position on SQLite
    tx_id      INTEGER NOT NULL DEFAULT 0,
    position   INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Read models. Each is owned by one projection (projections/), rebuilt from
-- the log by `identity projections rebuild NAME`; nothing else writes them.

-- login_lookup: normalized email or username to the account id and what
-- login needs to answer before it loads the account. admin_locked_until:
-- until when an admin locked the account (NULL when not), so that refresh
-- refuses a locked account the way it refuses a deactivated one.
CREATE TABLE login_lookup (
    user_id             BLOB    PRIMARY KEY,
    email               TEXT    NOT NULL,
    username_normalized TEXT    NOT NULL,
    email_verified      INTEGER NOT NULL,
    -- JSON array of role names, e.g. '["user"]' (text[] on PostgreSQL,
    -- which has no default here either: the projection always writes it)
    roles               TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    admin_locked_until  TEXT
);
CREATE INDEX login_lookup_email_idx ON login_lookup (email);
CREATE INDEX login_lookup_username_idx ON login_lookup (username_normalized);

-- user_directory: the profile served by /me and admin search.
-- locked_until: the account lockout (account controls).
CREATE TABLE user_directory (
    user_id        BLOB    PRIMARY KEY,
    username       TEXT    NOT NULL,
    email          TEXT    NOT NULL,
    email_verified INTEGER NOT NULL,
    -- JSON array of role names, e.g. '["user"]' (text[] on PostgreSQL, no
    -- default there either)
    roles          TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    locked_until   TEXT
);
-- Prefix search (PostgreSQL: text_pattern_ops). SQLite's LIKE is
-- case-insensitive and only uses a BINARY index under
-- PRAGMA case_sensitive_like; a range or GLOB 'prefix*' query uses these.
CREATE INDEX user_directory_email_prefix_idx ON user_directory (email);
CREATE INDEX user_directory_username_prefix_idx ON user_directory (lower(username));
CREATE INDEX user_directory_status_idx ON user_directory (status);

-- user_sessions: the sessions list of /auth/sessions and logout-all.
CREATE TABLE user_sessions (
    session_id   BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    user_agent   TEXT,
    ip           TEXT,
    revoked_at   TEXT
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);

-- influencer_applications: the review queue of the influencer program and
-- each applicant's own list (projection `influencer_applications`). One
-- influencer stream (keyed by the user id) may hold several applications;
-- each is identified by a UUID v5 of the stream id and the sequence of its
-- ApplicationSubmitted event, stable across rebuilds.
CREATE TABLE influencer_applications (
    id            BLOB PRIMARY KEY,
    user_id       BLOB NOT NULL,
    display_name  TEXT NOT NULL,
    -- JSON (jsonb on PostgreSQL)
    channels      TEXT NOT NULL,
    pitch         TEXT NOT NULL,
    -- pending, approved or rejected
    status        TEXT NOT NULL,
    submitted_at  TEXT NOT NULL,
    decided_at    TEXT,
    -- the deciding admin's user id, as recorded in the event
    decided_by    TEXT,
    -- why it was rejected
    reason        TEXT,
    -- the code issued at approval
    referral_code TEXT
);
-- The admin queue: pending first-come first-served.
CREATE INDEX influencer_applications_status_idx
    ON influencer_applications (status, submitted_at, id);
CREATE INDEX influencer_applications_user_idx
    ON influencer_applications (user_id, submitted_at);

-- The influencer dashboard (projection `influencer_dashboard`): facts per
-- code, referred user, conversion and ledger bucket, summed when read, so
-- the figures are plain sums of what the events say and replaying from zero
-- gives them again.

-- Every code an influencer has held; deactivated codes stay listed.
CREATE TABLE influencer_codes (
    influencer_id BLOB    NOT NULL,
    -- upper-case, as in unique_claims
    normalized    TEXT    NOT NULL,
    -- as the influencer claimed it
    code          TEXT    NOT NULL,
    -- generated or vanity
    kind          TEXT    NOT NULL,
    active        INTEGER NOT NULL,
    claimed_at    TEXT    NOT NULL,
    PRIMARY KEY (influencer_id, normalized)
);

-- One row per attributed user.
CREATE TABLE influencer_referrals (
    user_id       BLOB PRIMARY KEY,
    influencer_id BLOB NOT NULL,
    normalized    TEXT NOT NULL,
    signed_up_at  TEXT NOT NULL,
    verified_at   TEXT
);
CREATE INDEX influencer_referrals_influencer_idx
    ON influencer_referrals (influencer_id, signed_up_at);

-- One row per conversion of a referred user (earning or not).
CREATE TABLE influencer_conversions (
    external_id      TEXT    PRIMARY KEY,
    influencer_id    BLOB    NOT NULL,
    user_id          BLOB    NOT NULL,
    normalized       TEXT    NOT NULL,
    currency         TEXT    NOT NULL,
    amount_minor     INTEGER NOT NULL,
    commission_minor INTEGER NOT NULL,
    occurred_at      TEXT    NOT NULL,
    refunded_at      TEXT
);
CREATE INDEX influencer_conversions_influencer_idx
    ON influencer_conversions (influencer_id, occurred_at);

-- Ledger totals per currency. Pending earnings are kept per release day
-- (influencer_pending), so a read counts the buckets whose day has come as
-- available, exactly like the Ledger aggregate, even before a command has
-- released them.
CREATE TABLE influencer_balances (
    influencer_id BLOB    NOT NULL,
    currency      TEXT    NOT NULL,
    available     INTEGER NOT NULL DEFAULT 0,
    paid          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (influencer_id, currency)
);
CREATE TABLE influencer_pending (
    influencer_id BLOB    NOT NULL,
    currency      TEXT    NOT NULL,
    -- 'YYYY-MM-DD'
    release_on    TEXT    NOT NULL,
    amount        INTEGER NOT NULL,
    PRIMARY KEY (influencer_id, currency, release_on)
);

-- Applicants and influencers for the admin list: the display name from the
-- latest application, the program status and the commission rate.
CREATE TABLE influencer_profiles (
    influencer_id       BLOB    PRIMARY KEY,
    display_name        TEXT    NOT NULL,
    -- pending, rejected, active or suspended
    status              TEXT    NOT NULL,
    commission_rate_bps INTEGER,
    approved_at         TEXT
);
-- Prefix search on the name (PostgreSQL: text_pattern_ops; see the note on
-- user_directory).
CREATE INDEX influencer_profiles_name_idx
    ON influencer_profiles (lower(display_name));

-- Auditor history: the sessions of one user. Session streams are keyed by
-- session id, so finding a user's sessions means finding the SessionStarted
-- events that name the user; without this index that is a scan of the
-- whole log. Partial: only SessionStarted rows are indexed. SQLite uses it
-- only when the query writes the same expression and the same WHERE terms:
--   json_extract(payload, '$.SessionStarted.user_id') = ?
--   AND aggregate_type = 'session'
--   AND event_type = 'identity.session.SessionStarted'
CREATE INDEX events_session_user_idx
    ON events (json_extract(payload, '$.SessionStarted.user_id'))
 WHERE aggregate_type = 'session' AND event_type = 'identity.session.SessionStarted';

-- Read models. Each is owned by one projection (projections/), rebuilt from
-- the log by `identity projections rebuild NAME`; nothing else writes them.

-- login_lookup: normalized email or username to the account id and what
-- login needs to answer before it loads the account.
CREATE TABLE login_lookup (
    user_id             uuid PRIMARY KEY,
    email               text    NOT NULL,
    username_normalized text    NOT NULL,
    email_verified      boolean NOT NULL,
    roles               text[]  NOT NULL,
    status              text    NOT NULL
);
CREATE INDEX login_lookup_email_idx ON login_lookup (email);
CREATE INDEX login_lookup_username_idx ON login_lookup (username_normalized);

-- user_directory: the profile served by /me and, later, admin search.
CREATE TABLE user_directory (
    user_id        uuid PRIMARY KEY,
    username       text        NOT NULL,
    email          text        NOT NULL,
    email_verified boolean     NOT NULL,
    roles          text[]      NOT NULL,
    status         text        NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX user_directory_email_prefix_idx ON user_directory (email text_pattern_ops);
CREATE INDEX user_directory_username_prefix_idx ON user_directory (lower(username) text_pattern_ops);

-- user_sessions: the sessions list of /auth/sessions and logout-all.
CREATE TABLE user_sessions (
    session_id   uuid PRIMARY KEY,
    user_id      uuid        NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    user_agent   text,
    ip           text,
    revoked_at   timestamptz
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);

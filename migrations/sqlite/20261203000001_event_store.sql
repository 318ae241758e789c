-- The event log on SQLite: the same streams as on PostgreSQL, with the
-- dialect's types (JSON as TEXT, times as TEXT in RFC 3339).
--
-- position is the rowid. SQLite has one writer at a time and the service
-- writes inside BEGIN IMMEDIATE, so positions are handed out in commit
-- order: a reader that pages by position never skips a late commit, and
-- no tx_id column is needed.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    sequence       INTEGER NOT NULL CHECK (sequence > 0),
    event_type     TEXT    NOT NULL,
    event_version  TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    metadata       TEXT    NOT NULL DEFAULT '{}',
    recorded_at    TEXT    NOT NULL,
    -- Optimistic concurrency, as on PostgreSQL: the loser of a race to one
    -- sequence of one stream collides here and retries.
    UNIQUE (aggregate_type, aggregate_id, sequence)
);

CREATE INDEX events_recorded_at_idx ON events (recorded_at);

-- Latest state of each aggregate, written with its events.
CREATE TABLE snapshots (
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    last_sequence  INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    payload        TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Uniqueness across aggregates, claimed in the transaction of the event.
CREATE TABLE unique_claims (
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    owner_id   TEXT NOT NULL,
    claimed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (kind, value)
);

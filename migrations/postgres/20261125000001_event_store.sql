-- The event log: the single source of truth.
--
-- Column layout follows postgres-es 0.5 (aggregate_type, aggregate_id,
-- sequence, event_type, event_version, payload, metadata) so its repository
-- can read our streams. We add:
--   position  store-wide insertion order, what consumers quote and page by;
--   tx_id     the writing transaction. Transactions commit out of position
--             order, so readers tail by (tx_id, position) and only read rows
--             whose transaction is older than every transaction still in
--             flight (pg_snapshot_xmin). A late commit then always lands
--             after the reader's cursor: nothing is ever skipped.
CREATE TABLE events (
    position       bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    sequence       bigint      NOT NULL CHECK (sequence > 0),
    event_type     text        NOT NULL,
    event_version  text        NOT NULL,
    payload        jsonb       NOT NULL,
    metadata       jsonb       NOT NULL DEFAULT '{}',
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    -- Optimistic concurrency: two writers appending the same sequence to one
    -- stream collide here, and the loser retries against the new state.
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE INDEX events_tail_idx ON events (tx_id, position);

-- Latest state of each aggregate, written in the same transaction as its
-- events, so loading an aggregate costs one row however long its history.
-- schema_version lets a code change discard snapshots of an older shape.
-- `json`, not `jsonb`: snapshots are rewritten on every commit and only ever
-- read whole, so parsing them into jsonb would be work for nothing.
CREATE TABLE snapshots (
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    last_sequence  bigint      NOT NULL,
    schema_version integer     NOT NULL,
    payload        json        NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Uniqueness across aggregates (email, username). A claim row is written in
-- the same transaction as the event that makes the claim, so two concurrent
-- registrations with one email cannot both commit.
CREATE TABLE unique_claims (
    kind       text        NOT NULL,
    value      text        NOT NULL,
    owner_id   text        NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, value)
);

-- One row per projection: how far it has applied the log. Updated in the
-- same transaction as the projection's read-model rows.
CREATE TABLE projection_checkpoints (
    name       text        PRIMARY KEY,
    tx_id      xid8        NOT NULL DEFAULT '0',
    position   bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

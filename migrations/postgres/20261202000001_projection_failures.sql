-- The event each stalled projection could not apply, with the error it
-- gave (ZITADEL keeps the same in `failed_events`). A projection that fails
-- on an event stops at the event before it, keeps its read model as it was
-- and retries with a growing pause; the other projections, the write path
-- and start-up go on. The row is deleted when the event finally applies (a
-- fixed release, a rebuild), so its presence is the projection's "stalled"
-- state, read by `/health/ready` and `identity projections status`.
CREATE TABLE projection_failures (
    name            text PRIMARY KEY,
    tx_id           xid8        NOT NULL,
    position        bigint      NOT NULL,
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL,
    event_type      text        NOT NULL,
    error           text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 1,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at  timestamptz NOT NULL DEFAULT now()
);

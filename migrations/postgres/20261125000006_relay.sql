-- How far the NATS relay has published the log (same cursor as the
-- projections: transaction id, position). Moved only after JetStream
-- acknowledged every event up to it.
CREATE TABLE relay_checkpoints (
    name       text PRIMARY KEY,
    tx_id      xid8        NOT NULL DEFAULT '0',
    position   bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

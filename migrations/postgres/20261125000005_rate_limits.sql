-- Rate-limit counters shared by every instance: one row per limited key
-- (policy name plus an HMAC of the subject, so no address or IP is stored in
-- the clear), counting hits in the current fixed window.
CREATE TABLE rate_limit_counters (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL
);
CREATE INDEX rate_limit_counters_window_idx ON rate_limit_counters (window_start);

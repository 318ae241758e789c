-- login_lookup.admin_locked_until: until when an admin locked the account
-- (NULL when not), so that refresh refuses a locked account the way it
-- refuses a deactivated one. The failure limit's own locks are left out:
-- they stop new password logins only.
ALTER TABLE login_lookup ADD COLUMN admin_locked_until timestamptz;

-- Earlier locks are only in the log: rebuild login_lookup from it. The
-- server applies the whole log to it at start-up, before it listens.
TRUNCATE login_lookup;
UPDATE projection_checkpoints SET tx_id = '0', position = 0, updated_at = now()
 WHERE name = 'login_lookup';
DELETE FROM projection_failures WHERE name = 'login_lookup';

-- Each instance loads the revocations of the last access-token lifetime at
-- start-up (`auth::revocations`): the events recorded since a time.
CREATE INDEX events_recorded_at_idx ON events (recorded_at);

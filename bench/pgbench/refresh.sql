-- The bare database work of one refresh, for pgbench: read one session
-- stream of this client's own (its snapshot and the events after it), then
-- append one event and move the snapshot, in one statement, as the
-- service's repository does. The bench runs it with 32 clients on the
-- run's own database and reports refreshes/s as a share of its tps.
--   pgbench -n -c 32 -j 2 -T 5 -f bench/pgbench/refresh.sql <database url>
WITH s AS (SELECT last_sequence, payload FROM snapshots
            WHERE aggregate_type = 'pgbench' AND aggregate_id = ('pgbench-' || :client_id) AND schema_version = 1)
SELECT 0, last_sequence, payload::jsonb FROM s
UNION ALL
SELECT 1, sequence, payload FROM events
 WHERE aggregate_type = 'pgbench' AND aggregate_id = ('pgbench-' || :client_id)
   AND sequence > COALESCE((SELECT last_sequence FROM s), 0)
ORDER BY 1, 2;
WITH next AS (
    SELECT COALESCE(max(sequence), 0) + 1 AS sequence FROM events
     WHERE aggregate_type = 'pgbench' AND aggregate_id = ('pgbench-' || :client_id)
), appended AS (
    INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload)
    SELECT 'pgbench', ('pgbench-' || :client_id), sequence, 'identity.session.RefreshTokenRotated', '1',
           '{"RefreshTokenRotated": {"refresh_token_hash": "0000000000000000000000000000000000000000000000000000000000000000", "rotated_at": "2026-12-03T00:00:00Z", "expires_at": "2026-12-31T00:00:00Z"}}'
      FROM next
    RETURNING sequence
)
INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, schema_version, payload)
SELECT 'pgbench', ('pgbench-' || :client_id), sequence, 1, '{"status": "active"}' FROM appended
ON CONFLICT (aggregate_type, aggregate_id)
DO UPDATE SET last_sequence = EXCLUDED.last_sequence, payload = EXCLUDED.payload, updated_at = now();

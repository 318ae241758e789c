-- Auditor history: the sessions of one user. Session streams are keyed by
-- session id, so finding a user's sessions means finding the SessionStarted
-- events that name the user. Without this index that is a scan of the whole
-- log on every history read. Partial: only SessionStarted rows are indexed.
CREATE INDEX events_session_user_idx
    ON events ((payload->'SessionStarted'->>'user_id'))
 WHERE aggregate_type = 'session' AND event_type = 'identity.session.SessionStarted';
